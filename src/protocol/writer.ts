import { Buffer } from 'node:buffer';
import { encodeUtf8Into } from './text.js';

const EMPTY = new Uint8Array(0);

/**
 * A growable byte buffer that encoders append messages to. The caller owns it: use one per
 * connection (or per call), never share one between code that can interleave.
 *
 * A message is written as `beginMessage(type)` (or `beginUntypedMessage()` for startup
 * packets), its fields, then `finishMessage()`, which fills in the length. If a field is
 * rejected (a string containing NUL, a number out of range) the writer drops the partly
 * written message, so the buffer still holds only whole messages, and throws a TypeError or
 * RangeError. Field methods can also be used outside a message to write raw bytes, such as
 * the one-byte answer to an SSLRequest or a deliberately malformed frame in a test.
 *
 * Nothing here blocks or does I/O.
 */
export class Writer {
  /** Empty until the first write, and again after takeBytes(). */
  private buffer: Uint8Array = EMPTY;
  /** The size of the buffer the first write allocates. */
  private readonly capacity: number;
  private pos = 0;
  /** Position of the open message's first byte, or -1 when no message is open. */
  private messageStart = -1;
  /** Position of the open message's length field. */
  private lengthAt = 0;

  /** @param initialCapacity bytes to allocate at the first write; the buffer doubles as needed */
  constructor(initialCapacity = 1024) {
    this.capacity = Math.max(16, initialCapacity);
  }

  /** Number of bytes written since the last reset. */
  get length(): number {
    return this.pos;
  }

  /** A copy of the bytes written so far; the caller owns it and may keep it after `reset`. */
  toBytes(): Uint8Array {
    return this.buffer.slice(0, this.pos);
  }

  /**
   * The bytes written so far, handed over without a copy (the caller owns them), leaving the
   * writer empty and without a buffer until its next write: for a writer kept between uses,
   * such as a connection's, that holds no memory while idle. Drops an unfinished message.
   */
  takeBytes(): Uint8Array {
    const buffer = this.buffer;
    const bytes = this.pos === buffer.length ? buffer : buffer.subarray(0, this.pos);
    this.buffer = EMPTY;
    this.reset();
    return bytes;
  }

  /** Empties the writer, keeping its memory for reuse. Drops an unfinished message. */
  reset(): this {
    this.pos = 0;
    this.messageStart = -1;
    return this;
  }

  /** Starts a typed message: writes the type byte and room for the length. */
  beginMessage(type: number): this {
    this.open();
    this.uint8(type);
    this.ensure(4);
    this.lengthAt = this.pos;
    this.pos += 4;
    return this;
  }

  /** Starts an untyped startup-phase packet (StartupMessage, SSLRequest, ...): room for the length. */
  beginUntypedMessage(): this {
    this.open();
    this.ensure(4);
    this.lengthAt = this.pos;
    this.pos += 4;
    return this;
  }

  /** Ends the open message and writes its length (which counts itself, not the type byte). */
  finishMessage(): this {
    if (this.messageStart < 0) throw new Error('finishMessage without beginMessage');
    this.setInt32(this.lengthAt, this.pos - this.lengthAt);
    this.messageStart = -1;
    return this;
  }

  /** Writes a Byte1 / Int8 (0..255, or -128..-1 as two's complement). */
  uint8(value: number): this {
    this.checkRange(value, -0x80, 0xff, 'Int8');
    this.ensure(1);
    this.buffer[this.pos++] = value;
    return this;
  }

  /** Writes a big-endian Int16 (-32768..65535; values above 32767 as unsigned counts). */
  int16(value: number): this {
    this.checkRange(value, -0x8000, 0xffff, 'Int16');
    this.ensure(2);
    this.buffer[this.pos++] = value >>> 8;
    this.buffer[this.pos++] = value;
    return this;
  }

  /** Writes a big-endian Int32 (-2^31..2^32-1; values above 2^31-1 as unsigned, e.g. OIDs). */
  int32(value: number): this {
    this.checkRange(value, -0x80000000, 0xffffffff, 'Int32');
    this.ensure(4);
    this.setInt32(this.pos, value);
    this.pos += 4;
    return this;
  }

  /**
   * Writes a big-endian Int64 (-2^63..2^64-1; values of 2^63 and above as unsigned, such as
   * LSNs). Throws RangeError out of that range, dropping the open message.
   */
  int64(value: bigint): this {
    if (value < -(1n << 63n) || value >= 1n << 64n) {
      this.reject(new RangeError(`${value} does not fit in an Int64`));
    }
    const bits = BigInt.asUintN(64, value);
    return this.int32(Number(bits >> 32n)).int32(Number(bits & 0xffffffffn));
  }

  /** Writes an Int16 count and that many Int16 values (format codes). */
  int16List(values: readonly number[]): this {
    this.int16(values.length);
    for (const value of values) this.int16(value);
    return this;
  }

  /** Writes an Int16 count and that many Int32 values (OIDs). */
  int32List(values: readonly number[]): this {
    this.int16(values.length);
    for (const value of values) this.int32(value);
    return this;
  }

  /** Writes a NUL-terminated UTF-8 String. `text` must not contain NUL. */
  cstring(text: string): this {
    if (text.includes('\0')) this.reject(new TypeError('a protocol String cannot contain NUL'));
    this.utf8(text);
    return this.uint8(0);
  }

  /** Writes `text` as UTF-8 without a terminator. */
  utf8(text: string): this {
    // Three bytes per UTF-16 unit is the worst case; measure long strings exactly instead.
    this.ensure(text.length <= 0x4000 ? text.length * 3 : Buffer.byteLength(text, 'utf8'));
    this.pos += encodeUtf8Into(text, this.buffer, this.pos);
    return this;
  }

  /** Writes `bytes` as they are (copied). */
  bytes(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** Writes an Int32 byte count and the value: -1 for null, else the bytes or UTF-8 of text. */
  lengthPrefixed(value: string | Uint8Array | null): this {
    if (value === null) return this.int32(-1);
    if (typeof value !== 'string') return this.int32(value.length).bytes(value);
    const lengthAt = this.pos;
    this.int32(0).utf8(value);
    this.setInt32(lengthAt, this.pos - lengthAt - 4);
    return this;
  }

  /** Writes an Int16 count and each value with `lengthPrefixed`. */
  lengthPrefixedList(values: ReadonlyArray<string | Uint8Array | null>): this {
    this.int16(values.length);
    for (const value of values) this.lengthPrefixed(value);
    return this;
  }

  private open(): void {
    if (this.messageStart >= 0) throw new Error('beginMessage while another message is open');
    this.messageStart = this.pos;
  }

  private setInt32(at: number, value: number): void {
    const b = this.buffer;
    b[at] = value >>> 24;
    b[at + 1] = value >>> 16;
    b[at + 2] = value >>> 8;
    b[at + 3] = value;
  }

  private checkRange(value: number, min: number, max: number, what: string): void {
    if (!Number.isInteger(value) || value < min || value > max) {
      this.reject(new RangeError(`${value} does not fit in an ${what}`));
    }
  }

  /** Drops the open message, if any, and throws. */
  private reject(error: Error): never {
    if (this.messageStart >= 0) {
      this.pos = this.messageStart;
      this.messageStart = -1;
    }
    throw error;
  }

  private ensure(n: number): void {
    const needed = this.pos + n;
    if (needed <= this.buffer.length) return;
    let size = Math.max(this.buffer.length * 2, this.capacity);
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.pos));
    this.buffer = grown;
  }
}
