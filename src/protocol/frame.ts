import { ProtocolError } from './errors.js';
import { asciiText, utf8Text } from './text.js';

const EMPTY = new Uint8Array(0);

/** The signed big-endian Int32 at `bytes[at, at + 4)`, which the caller knows are there. */
export function int32At(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
}

/** What a Frame tells about each error it throws: its FrameBuffer, which then stays failed. */
export interface FrameOwner {
  failed(error: ProtocolError): void;
}

/**
 * A byte cursor limited to one message body (protocol-overview.html, "Messaging Overview").
 * Every read checks the end of the frame, so a message can never read into the next one; a
 * read past the end, a string without its terminator, or bytes left after the last field
 * throws a ProtocolError whose offset counts from the first byte of the decoder's input.
 *
 * Reading never blocks. The bytes a Frame looks at belong to whoever pushed them (or to the
 * FrameBuffer, for a frame it had to assemble); every read returns owned data: numbers, new
 * strings, or copied bytes.
 */
export class Frame {
  /** The type byte, or -1 for an untyped startup-phase packet. */
  type = -1;
  /** Read position in `bytes`. */
  pos = 0;
  /** End of the body in `bytes` (exclusive). */
  end = 0;
  private bytes: Uint8Array = EMPTY;
  /** Stream offset of `bytes[0]`. */
  private base = 0;
  /** True when `bytes` is a private copy, so views of it can be handed out as owned. */
  private owned = false;
  private readonly names: readonly string[];
  private readonly untypedLabel: string;
  private readonly owner: FrameOwner | undefined;

  /**
   * @param names message names by type byte, for error messages ('' when unknown)
   * @param untypedLabel what to call an untyped frame in error messages
   * @param owner told about every error this frame throws (a FrameBuffer, to stay failed)
   */
  constructor(names: readonly string[], untypedLabel: string, owner?: FrameOwner) {
    this.names = names;
    this.untypedLabel = untypedLabel;
    this.owner = owner;
  }

  /**
   * A frame over all of `body` (no header), counting offsets from its first byte: for
   * decoding a field on its own, such as the data of a PasswordMessage.
   */
  static over(body: Uint8Array, label: string): Frame {
    const frame = new Frame([], label);
    frame.reset(-1, body, 0, body.length, 0, false);
    return frame;
  }

  /** Points the frame at `bytes[pos, end)`; used by FrameBuffer. */
  reset(type: number, bytes: Uint8Array, pos: number, end: number, base: number, owned: boolean) {
    this.type = type;
    // Frames follow each other in the same chunk: storing the same reference again would
    // still cost a GC write barrier (the frame is old, the chunk young) on every message.
    if (this.bytes !== bytes) this.bytes = bytes;
    this.pos = pos;
    this.end = end;
    this.base = base;
    this.owned = owned;
  }

  /** Lets go of the bytes it looked at (a FrameBuffer's drained input). */
  clear(): void {
    this.bytes = EMPTY;
  }

  /** Bytes left in the body. */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** The name of the message, for error messages. */
  get label(): string {
    if (this.type < 0) return this.untypedLabel;
    return this.names[this.type] || `message type 0x${this.type.toString(16).padStart(2, '0')}`;
  }

  /** Throws a ProtocolError about this message at `at` (a position in the frame's bytes). */
  fail(reason: string, at: number = this.pos): never {
    const error = new ProtocolError(`${this.label}: ${reason}`, this.base + at);
    this.owner?.failed(error);
    throw error;
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) this.fail(`body too short for ${what}`);
  }

  /**
   * Hands the unread rest of the body to `reader` (see BodyReader); if it returns a value,
   * the body counts as read to its end and the value is returned. Otherwise returns null and
   * reads nothing, so the other methods can read the body (and report what is wrong with it).
   */
  readWith<T>(reader: BodyReader<T>): T | null {
    const value = reader.read(this.bytes, this.pos, this.end);
    if (value !== null) this.pos = this.end;
    return value;
  }

  /** Reads a Byte1 / unsigned Int8. */
  uint8(): number {
    this.need(1, 'a byte');
    return this.bytes[this.pos++]!;
  }

  /** Reads a signed big-endian Int16. */
  int16(): number {
    return (this.uint16() << 16) >> 16;
  }

  /** Reads a big-endian Int16 as unsigned (counts, which the server never sends negative). */
  uint16(): number {
    this.need(2, 'an Int16');
    const b = this.bytes;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  /** Reads a signed big-endian Int32. */
  int32(): number {
    this.need(4, 'an Int32');
    const p = this.pos;
    this.pos = p + 4;
    return int32At(this.bytes, p);
  }

  /** Reads a big-endian Int32 as unsigned (OIDs). */
  uint32(): number {
    return this.int32() >>> 0;
  }

  /**
   * Reads an Int16 count of items that take at least `minSize` bytes each. A count the rest
   * of the body cannot hold is a ProtocolError, so no array is ever sized from a bad count.
   */
  count(minSize: number): number {
    const at = this.pos;
    const n = this.uint16();
    if (n * minSize > this.end - this.pos) this.fail(`count ${n} does not fit in the body`, at);
    return n;
  }

  /** Reads an Int16 count and that many Int16 values (format codes). */
  int16List(): number[] {
    const n = this.count(2);
    const list = new Array<number>(n);
    for (let i = 0; i < n; i++) list[i] = this.int16();
    return list;
  }

  /** Reads an Int16 count and that many unsigned Int32 values (OIDs). */
  oidList(): number[] {
    const n = this.count(4);
    const list = new Array<number>(n);
    for (let i = 0; i < n; i++) list[i] = this.uint32();
    return list;
  }

  /** Reads a NUL-terminated UTF-8 String; the terminator must lie inside the frame. */
  cstring(): string {
    const bytes = this.bytes;
    const start = this.pos;
    const end = this.end;
    let i = start;
    let high = 0;
    for (; i < end; i++) {
      const b = bytes[i]!;
      if (b === 0) break;
      high |= b;
    }
    if (i === end) this.fail('string without its NUL terminator inside the frame', start);
    this.pos = i + 1;
    return high < 0x80 ? asciiText(bytes, start, i) : utf8Text(bytes, start, i);
  }

  /** Reads `n` bytes as an owned array (a copy, or a view of the frame's private copy). */
  bytesOf(n: number): Uint8Array {
    if (n < 0) this.fail(`negative length ${n}`, this.pos - 4);
    this.need(n, `${n} bytes`);
    const p = this.pos;
    this.pos = p + n;
    return this.owned ? this.bytes.subarray(p, p + n) : this.bytes.slice(p, p + n);
  }

  /** Reads the rest of the body as an owned array. */
  rest(): Uint8Array {
    return this.bytesOf(this.end - this.pos);
  }

  /** Reads an Int32 length (-1 for NULL) and that many bytes. */
  nullableBytes(): Uint8Array | null {
    const n = this.int32();
    return n === -1 ? null : this.bytesOf(n);
  }

  /** Reads an Int16 count and that many length-prefixed values (DataRow, Bind, FunctionCall). */
  nullableBytesList(): Array<Uint8Array | null> {
    const n = this.count(4);
    const list = new Array<Uint8Array | null>(n);
    for (let i = 0; i < n; i++) list[i] = this.nullableBytes();
    return list;
  }

  /** Checks that the body has been read to its last byte, then returns `message`. */
  finishWith<T>(message: T): T {
    this.finish();
    return message;
  }

  /** Checks that the body has been read to its last byte. */
  finish(): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} bytes left over after the body`);
  }
}

/**
 * Decodes the body of one message type straight from the bytes it lies in, in one call
 * instead of field by field: a decoder's hot path, through FrameBuffer.nextWith or
 * Frame.readWith.
 */
export interface BodyReader<T> {
  /**
   * Decodes the body at `bytes[start, end)` into owned values, or returns null to leave the
   * body to the Frame's reading methods: a body the reader does not handle, or a malformed
   * one, whose error they report. Must not throw, and must not read outside the body.
   */
  read(bytes: Uint8Array, start: number, end: number): T | null;
}

/** What FrameBuffer.scan found. */
export interface FrameScan {
  /** Whole frames of the type counted. */
  count: number;
  /** The stream offset where the count stopped. */
  end: number;
  /** True when it stopped at a frame of another type or a bad header, not at the end of the input. */
  blocked: boolean;
}

/** Options shared by the decoders. */
export interface DecoderOptions {
  /**
   * Largest accepted value of a message's length field (which counts itself and the body,
   * not the type byte). Checked as soon as the header arrives, before the body is awaited or
   * any memory is set aside for it. Default 256 MiB (`defaultMaxMessageSize`).
   */
  maxMessageSize?: number;
}

/**
 * Default cap on a message's length field: 256 MiB. Large enough for any notification
 * (payloads are at most 8000 bytes) and ordinary rows; raise it to read bigger values.
 */
export const defaultMaxMessageSize = 256 * 1024 * 1024;

/** The smallest buffer pushCopy allocates: room for a few small messages. */
const minStoreSize = 16 * 1024;
/** While bytes are live, pushCopy replaces its buffer for being too large only past 4 times this. */
const oversizeFloor = 256 * 1024;
const emptyView = viewOf(EMPTY);

/**
 * One pushCopy buffer of the process that no FrameBuffer holds: a drained FrameBuffer leaves its
 * buffer here (the largest so far, up to `oversizeFloor`) and the next one that needs a buffer at
 * most that size takes it. So an idle connection holds no buffer, and a connection read on and
 * drained in turn reuses the same one instead of allocating.
 */
let spareStore: Uint8Array = EMPTY;
/** The DataView over spareStore, kept with it so that taking the spare back makes no new one. */
let spareView: DataView = emptyView;

/** Type tables built once per `codes` table, shared by every FrameBuffer built from the same arguments. */
interface TypeTables {
  readonly limitsByName: Readonly<Record<string, number>>;
  readonly max: number;
  readonly limits: Int32Array;
  readonly names: string[];
}
const typeTables = new WeakMap<object, TypeTables>();
const noLimits: Readonly<Record<string, number>> = {};

function typeTablesFor(
  codes: Readonly<Record<string, number>>,
  limitsByName: Readonly<Record<string, number>>,
  max: number,
): TypeTables {
  const known = typeTables.get(codes);
  if (known !== undefined && known.limitsByName === limitsByName && known.max === max) return known;
  const limits = new Int32Array(256);
  const names = new Array<string>(256).fill('');
  for (const [name, code] of Object.entries(codes)) {
    names[code] = name;
    limits[code] = Math.min(limitsByName[name] ?? max, max);
  }
  const tables = { limitsByName, max, limits, names };
  typeTables.set(codes, tables);
  return tables;
}

/**
 * Splits a byte stream into frames: `type(1) length(4) body` for typed messages, or
 * `length(4) body` for startup-phase packets. Keeps a list of the pushed chunks and copies
 * only a frame that straddles two or more chunks; a frame inside one chunk is read in place.
 *
 * Ownership: the buffer keeps references to pushed chunks until their bytes are consumed by
 * `next`; do not modify a chunk after pushing it. Values decoded from a frame never point
 * into a pushed chunk.
 *
 * Errors: a type byte not in the table, or a length below 4, above `maxMessageSize` or above
 * the type's own limit, throws a ProtocolError at once (from the header alone). After any ProtocolError, from the header
 * or from a body read by the returned Frame, the buffer stays failed: `next` throws the same
 * error again and `push` ignores its input. Never blocks.
 */
export class FrameBuffer {
  private chunk: Uint8Array = EMPTY;
  /** A DataView over `chunk` (or over the store `chunk` starts), for reading Int32s in one call. */
  private view: DataView = emptyView;
  private pos = 0;
  /** Stream offset of chunk[0]. */
  private chunkBase = 0;
  private queue: Uint8Array[] = [];
  /** pushCopy's buffer; `chunk` is a view of its start while the copies are read. */
  private store: Uint8Array = EMPTY;
  /** A DataView over the whole store, made once per store rather than once per pushCopy. */
  private storeView: DataView = emptyView;
  private head = 0;
  /** Bytes in the queued chunks (not counting the current one). */
  private queued = 0;
  private failure: ProtocolError | null = null;
  private readonly maxMessageSize: number;
  /**
   * The largest accepted length field by type byte: the type's own bound or maxMessageSize,
   * whichever is smaller; 0 for a type byte not in the table (any length fails that check).
   */
  private readonly limits: Int32Array;
  private readonly names: string[];
  private readonly frame: Frame;

  /**
   * @param codes the known type bytes by message name; any other type byte is an error
   * @param untypedLabel what to call an untyped startup-phase packet in error messages
   * @param limits the most some message types can be, by name (length field, as
   *   maxMessageSize); a type not named here is bounded by maxMessageSize alone
   */
  constructor(
    codes: Readonly<Record<string, number>>,
    untypedLabel: string,
    options?: DecoderOptions,
    limits: Readonly<Record<string, number>> = noLimits,
  ) {
    const max = options?.maxMessageSize ?? defaultMaxMessageSize;
    if (!Number.isSafeInteger(max) || max < 4) {
      throw new RangeError(`maxMessageSize must be an integer of at least 4, got ${max}`);
    }
    this.maxMessageSize = max;
    const tables = typeTablesFor(codes, limits, max);
    this.limits = tables.limits;
    this.names = tables.names;
    this.frame = new Frame(tables.names, untypedLabel, this);
  }

  /**
   * Keeps the buffer failed after a ProtocolError thrown by its Frame (see FrameOwner).
   * @internal
   */
  failed(error: ProtocolError): void {
    this.failure = error;
  }

  /** Number of bytes pushed and not yet consumed by `next`. */
  get bufferedBytes(): number {
    return this.chunk.length - this.pos + this.queued;
  }

  /** Stream offset of the read position: the number of bytes consumed by `next` so far. */
  get offset(): number {
    return this.chunkBase + this.pos;
  }

  /** The size of the buffer pushCopy copies into (0 before the first copy or once let go). */
  get copyBufferSize(): number {
    return this.store.length;
  }

  /**
   * Counts, without consuming or decoding anything, the whole typed frames of type `type`
   * that follow one another from stream offset `from` (a frame boundary at or after the read
   * position). Stops at the end of the input or at a frame not complete yet (`blocked`
   * false), or at a frame of another type or with a bad header (`blocked` true: `next` reads
   * or rejects it). Checks headers only, as `next` does; bodies are checked when the frames
   * are read. Never blocks.
   */
  scan(type: number, from: number): FrameScan {
    const end = this.offset + this.bufferedBytes;
    let count = 0;
    let at = from;
    let blocked = this.failure !== null;
    let chunk = this.chunk;
    let chunkStart = this.chunkBase;
    let q = this.head;
    // Every branch below runs in an ordinary burst (a read can end anywhere in a header), so
    // none of them is first met by optimized code, which would then have to deoptimize.
    while (!blocked && at < end) {
      while (at >= chunkStart + chunk.length) {
        chunkStart += chunk.length;
        chunk = this.queue[q++]!;
      }
      const i = at - chunkStart;
      // A header not complete yet blocks only if its type byte is already another type.
      blocked = chunk[i] !== type;
      if (blocked || end - at < 5) break;
      const length =
        i + 5 <= chunk.length ? int32At(chunk, i + 1) : this.lengthAcrossChunks(at + 1);
      blocked = length < 4 || length > this.limits[type]!;
      if (blocked || end - at < 1 + length) break;
      at += 1 + length;
      count++;
    }
    return { count, end: at, blocked };
  }

  /** The type byte of the next frame, or -1 when no byte of it is buffered. Never blocks. */
  nextType(): number {
    return this.bufferedBytes === 0 ? -1 : this.peek(0);
  }

  /** The big-endian Int32 at stream offset `at`, whose four bytes the caller knows are buffered. */
  private lengthAcrossChunks(at: number): number {
    const i = at - this.offset;
    return (
      (this.peek(i) << 24) | (this.peek(i + 1) << 16) | (this.peek(i + 2) << 8) | this.peek(i + 3)
    );
  }

  /** Adds bytes from the stream. Keeps a reference to `chunk`: do not modify it afterwards. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.failure !== null) return;
    if (this.pos === this.chunk.length && this.head === this.queue.length) {
      this.chunkBase += this.chunk.length;
      this.chunk = chunk;
      this.view = viewOf(chunk);
      this.pos = 0;
    } else {
      this.queue.push(chunk);
      this.queued += chunk.length;
    }
  }

  /**
   * Adds a copy of `bytes`, which the caller may reuse as soon as this returns (a socket's
   * one read buffer). The copies go into one buffer of the FrameBuffer's own: appended after
   * the bytes not yet consumed, which are first moved to its start when the rest does not
   * fit. It is replaced by one twice the size of what is live (at least 16 KiB) when that does
   * not fit in half of it, and as soon as it is four times larger than that and over 1 MiB
   * (after one huge message). Once every byte in it has been read, the buffer is let go (kept
   * as the process's one spare when it is the largest drained so far, up to 256 KiB, and taken
   * back by the next FrameBuffer that needs one no larger), so a drained FrameBuffer holds no
   * buffer and a stream of reads costs no allocation once the buffers are large enough. Read a
   * Frame from `next` before adding more.
   */
  pushCopy(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n === 0 || this.failure !== null) return;
    if (this.head !== this.queue.length) {
      this.push(new Uint8Array(bytes));
      return;
    }
    const chunk = this.chunk;
    let store = this.store;
    const live = chunk.length - this.pos;
    const size = Math.max(2 * (live + n), minStoreSize);
    // Reads of varying sizes must not swap buffers back and forth: only a buffer grown for a
    // huge message is too large while reading; draining lets go of any other.
    const oversized = store.length >= 4 * Math.max(size, oversizeFloor);
    if (chunk.buffer === store.buffer && store.length - chunk.length >= n && !oversized) {
      store.set(bytes, chunk.length);
      this.chunk = store.subarray(0, chunk.length + n);
      return;
    }
    if (size > store.length || oversized) {
      if (spareStore.length >= size) {
        store = spareStore;
        this.storeView = spareView;
        spareStore = EMPTY;
        spareView = emptyView;
      } else {
        store = new Uint8Array(size);
        this.storeView = viewOf(store);
      }
      this.store = store;
    }
    // Nothing is live in the usual read of an idle connection: then there is nothing to move.
    if (live > 0) {
      if (chunk.buffer === store.buffer) store.copyWithin(0, this.pos, chunk.length);
      else store.set(chunk.subarray(this.pos), 0);
    }
    store.set(bytes, live);
    this.chunkBase += this.pos;
    this.pos = 0;
    this.chunk = store.subarray(0, live + n);
    this.view = this.storeView;
  }

  /**
   * The next whole frame, or null when more bytes are needed. The returned Frame is reused
   * by the next call; read it before calling again. `typed` false reads an untyped packet.
   */
  next(typed: boolean): Frame | null {
    // Fast path, small enough to be inlined: a valid typed frame inside the current chunk.
    // Anything else, including every error, goes through the general path.
    const chunk = this.chunk;
    const pos = this.pos;
    if (typed && pos + 5 <= chunk.length && this.failure === null) {
      const type = chunk[pos]!;
      const length = this.view.getInt32(pos + 1);
      const end = pos + 1 + length;
      // An unknown type has limit 0, so this also sends it to the general path.
      if (end <= chunk.length && length >= 4 && length <= this.limits[type]!) {
        this.frame.reset(type, chunk, pos + 5, end, this.chunkBase, false);
        this.consumedTo(end);
        return this.frame;
      }
    }
    return this.nextAnyhow(typed);
  }

  /**
   * A decoder's hot path for one message type: when the next frame has type `type` (one the
   * buffer knows), a valid header and lies whole in the current chunk, its body is handed to
   * `reader` where it lies. If the reader returns a value, the frame is consumed and the value
   * returned. Otherwise, and for any other frame, returns null and consumes nothing: read on
   * with `next`, which returns that frame or throws its error. Never blocks.
   */
  nextWith<T>(type: number, reader: BodyReader<T>): T | null {
    const chunk = this.chunk;
    const pos = this.pos;
    if (pos + 5 > chunk.length || chunk[pos] !== type || this.failure !== null) return null;
    const length = this.view.getInt32(pos + 1);
    const end = pos + 1 + length;
    if (end > chunk.length || length < 4 || length > this.limits[type]!) return null;
    const value = reader.read(chunk, pos + 5, end);
    if (value !== null) this.consumedTo(end);
    return value;
  }

  /**
   * Moves the read position to `end` in the current chunk. At the end of the input, lets go
   * of the chunk and of pushCopy's buffer (left as the process's spare when it is the largest).
   */
  private consumedTo(end: number): void {
    const chunk = this.chunk;
    if (end < chunk.length || this.head !== this.queue.length) {
      this.pos = end;
      return;
    }
    this.chunkBase += end;
    this.chunk = EMPTY;
    this.view = emptyView;
    this.pos = 0;
    const store = this.store;
    if (store.length > spareStore.length && store.length <= oversizeFloor) {
      spareStore = store;
      spareView = this.storeView;
    }
    this.store = EMPTY;
    this.storeView = emptyView;
  }

  /** The general path of `next`: header checks, frames across chunks, untyped packets. */
  private nextAnyhow(typed: boolean): Frame | null {
    if (this.failure !== null) throw this.failure;
    let chunk = this.chunk;
    let pos = this.pos;
    if (pos === chunk.length) {
      if (!this.advance()) {
        // Drained: the frame handed out last must not keep the input's memory alive.
        this.frame.clear();
        return null;
      }
      chunk = this.chunk;
      pos = 0;
    }
    let type = -1;
    let lengthAt = pos;
    let limit = this.maxMessageSize;
    if (typed) {
      type = chunk[pos]!;
      limit = this.limits[type]!;
      if (limit === 0) this.failHeader(`unknown message type 0x${hex(type)}`, pos);
      lengthAt = pos + 1;
    }
    if (lengthAt + 4 <= chunk.length) {
      const length = int32At(chunk, lengthAt);
      if (length < 4 || length > limit) this.badLength(length, type, lengthAt);
      const end = lengthAt + length;
      if (end <= chunk.length) {
        this.frame.reset(type, chunk, lengthAt + 4, end, this.chunkBase, false);
        this.consumedTo(end);
        return this.frame;
      }
      const total = end - pos;
      return this.bufferedBytes < total ? null : this.assemble(type, total);
    }
    const headerSize = lengthAt + 4 - pos;
    if (this.bufferedBytes < headerSize) return null;
    const length =
      (this.peek(lengthAt - pos) << 24) |
      (this.peek(lengthAt - pos + 1) << 16) |
      (this.peek(lengthAt - pos + 2) << 8) |
      this.peek(lengthAt - pos + 3);
    if (length < 4 || length > limit) this.badLength(length, type, lengthAt);
    const total = lengthAt - pos + length;
    return this.bufferedBytes < total ? null : this.assemble(type, total);
  }

  /** Moves to the next queued chunk; false when there is none. */
  private advance(): boolean {
    if (this.head === this.queue.length) return false;
    this.chunkBase += this.chunk.length;
    this.chunk = this.queue[this.head]!;
    this.view = viewOf(this.chunk);
    this.queued -= this.chunk.length;
    this.pos = 0;
    if (this.head + 1 === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else {
      this.queue[this.head++] = EMPTY;
    }
    return true;
  }

  /** The byte `i` positions after the read position, which the caller knows is buffered. */
  private peek(i: number): number {
    let chunk = this.chunk;
    let at = this.pos + i;
    let q = this.head;
    while (at >= chunk.length) {
      at -= chunk.length;
      chunk = this.queue[q++]!;
    }
    return chunk[at]!;
  }

  /** Copies a frame of `total` bytes that straddles chunks into one new array and consumes it. */
  private assemble(type: number, total: number): Frame {
    const out = new Uint8Array(total);
    const start = this.chunkBase + this.pos;
    let filled = 0;
    for (;;) {
      const take = Math.min(total - filled, this.chunk.length - this.pos);
      out.set(this.chunk.subarray(this.pos, this.pos + take), filled);
      filled += take;
      this.pos += take;
      if (filled === total) break;
      this.advance();
    }
    this.consumedTo(this.pos);
    const bodyAt = type < 0 ? 4 : 5;
    this.frame.reset(type, out, bodyAt, total, start, true);
    return this.frame;
  }

  private badLength(length: number, type: number, at: number): never {
    const limit = type < 0 ? this.maxMessageSize : this.limits[type]!;
    const reason =
      length < 4
        ? `message length ${length} is below the minimum of 4`
        : limit === this.maxMessageSize
          ? `message length ${length} exceeds maxMessageSize ${this.maxMessageSize}`
          : `${this.names[type]} length ${length} exceeds ${limit}, the most a server sends`;
    this.failHeader(reason, at);
  }

  private failHeader(reason: string, at: number): never {
    const error = new ProtocolError(reason, this.chunkBase + at);
    this.failure = error;
    throw error;
  }
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
