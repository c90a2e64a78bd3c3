/**
 * Protocol tracing in the format of libpq's PQtrace (fe-trace.c, libpq 18; the layout is
 * the one introduced in PostgreSQL 14). Each message becomes one record:
 *
 *   [timestamp TAB] F|B TAB length TAB MessageName [TAB fields...]
 *
 * where `length` is the message's length field (it counts itself, not the type byte) and
 * each field is preceded by one space: Byte1 as the character (or `\xNN` when it is not
 * printable ASCII), Int16 and Int32 in decimal (Int16 read unsigned, as libpq does),
 * String in double quotes as is, and byte data in single quotes with every byte outside
 * printable ASCII written `\xNN` (a cancel key: every byte as `\xNN`).
 *
 * Secrets are never written: the password of a PasswordMessage prints as `"********"`,
 * and the data of GSSResponse, SASLInitialResponse, SASLResponse,
 * AuthenticationGSSContinue, AuthenticationSASLContinue and AuthenticationSASLFinal
 * prints as `'********'` (see `traceMask`). Every other field, lengths included, is what
 * went over the wire.
 */

import { int32At } from './frame.js';
import {
  authenticationCodes,
  type BackendMessage,
  backendMessageCodes,
  type NoticeFields,
  noticeFieldCodes,
  requestCodes,
  Writer,
  writeBackendMessage,
} from './index.js';

/**
 * Receives every message of a connection both ways (libpq's PQtrace hook; see
 * Connection.setTracer). `frontend` gets one whole encoded message, which it may read only
 * during the call (the connection's writer reuses the bytes); `backend` gets the decoded
 * message, which owns its data. Both are called synchronously on the connection's read or
 * write path and must not block.
 */
export interface Tracer {
  frontend(bytes: Uint8Array): void;
  backend(message: BackendMessage): void;
}

/** Options of createTracer and Connection.trace. */
export interface TraceOptions {
  /**
   * Start each record with the local time to the microsecond and a tab, as libpq does
   * unless PQTRACE_SUPPRESS_TIMESTAMPS is set. Default false (no timestamps).
   */
  timestamps?: boolean;
}

/** What a trace prints in place of a password or of SASL and GSS exchange data. */
export const traceMask = '********';

/** Which 'p' message the client sends next, told by the server's last Authentication request. */
type AuthResponse = 'none' | 'password' | 'saslInitial' | 'sasl' | 'gss';

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder('utf-8');
const noticeCodeByName = new Map<string, number>(
  Object.entries(noticeFieldCodes).map(([code, name]) => [name, code.charCodeAt(0)]),
);

/**
 * A Tracer that formats every message both ways as libpq's PQtrace does and hands each
 * record to `write`, without a trailing newline: joining the records with '\n' (plus a
 * final '\n') gives the bytes of libpq's trace file, as UTF-8. As in libpq, String fields
 * are printed verbatim, so a string holding a newline (a multi-line query) makes its
 * record span several lines of that file. A record libpq follows with a
 * "mismatched message length" line (a malformed message) is followed by that line in a
 * separate call.
 *
 * Frontend chunks may hold several messages, or end inside one (the rest is kept for the
 * next chunk); untyped startup-phase packets (StartupMessage, SSLRequest, GSSENCRequest,
 * CancelRequest) are recognised by their first byte, which is zero for them and never for
 * a typed message. Backend messages are re-encoded to their wire form first; an
 * ErrorResponse or NoticeResponse keeps its fields in the order the server sent them.
 */
export function createTracer(write: (line: string) => void, options: TraceOptions = {}): Tracer {
  return new ProtocolTracer(write, options.timestamps ?? false);
}

class ProtocolTracer implements Tracer {
  private readonly write: (line: string) => void;
  private readonly timestamps: boolean;
  private readonly writer = new Writer(256);
  private pending: Uint8Array = EMPTY;
  private auth: AuthResponse = 'none';

  constructor(write: (line: string) => void, timestamps: boolean) {
    this.write = write;
    this.timestamps = timestamps;
  }

  frontend(chunk: Uint8Array): void {
    const bytes = this.pending.length === 0 ? chunk : concat(this.pending, chunk);
    let pos = 0;
    while (pos < bytes.length) {
      const typed = bytes[pos] !== 0;
      const header = typed ? 5 : 4;
      if (bytes.length - pos < header) break;
      const length = int32At(bytes, pos + header - 4);
      const size = header - 4 + Math.max(length, 4);
      if (bytes.length - pos < size) break;
      const message = bytes.subarray(pos, pos + size);
      if (typed) this.typed(message, true);
      else this.untyped(message);
      pos += size;
    }
    this.pending = pos === bytes.length ? EMPTY : bytes.slice(pos);
  }

  backend(message: BackendMessage): void {
    this.noteAuthRequest(message);
    const w = this.writer.reset();
    if (message.type === 'ErrorResponse' || message.type === 'NoticeResponse') {
      writeNoticeInOrder(w, backendMessageCodes[message.type], message.fields);
    } else {
      writeBackendMessage(w, message);
    }
    this.typed(w.toBytes(), false);
  }

  /** Remembers what the next 'p' message will be, as libpq's current_auth_response. */
  private noteAuthRequest(message: BackendMessage): void {
    switch (message.type) {
      case 'AuthenticationCleartextPassword':
      case 'AuthenticationMD5Password':
        this.auth = 'password';
        break;
      case 'AuthenticationSASL':
        this.auth = 'saslInitial';
        break;
      case 'AuthenticationSASLContinue':
        this.auth = 'sasl';
        break;
      case 'AuthenticationGSS':
      case 'AuthenticationGSSContinue':
      case 'AuthenticationSSPI':
        this.auth = 'gss';
        break;
      default:
        break;
    }
  }

  private prefix(): string {
    return this.timestamps ? `${timestamp()}\t` : '';
  }

  /** libpq's pqTraceOutputMessage: one typed message, type byte first. */
  private typed(message: Uint8Array, toServer: boolean): void {
    const c = new Cursor(message, 5);
    const length = int32At(message, 1);
    const id = message[0]!;
    c.text(`${this.prefix()}${toServer ? 'F' : 'B'}\t${length}\t`);
    switch (String.fromCharCode(id)) {
      case '1':
        c.text('ParseComplete');
        break;
      case '2':
        c.text('BindComplete');
        break;
      case '3':
        c.text('CloseComplete');
        break;
      case 'A':
        c.text('NotificationResponse\t');
        c.int32();
        c.string();
        c.string();
        break;
      case 'B':
        c.text('Bind\t');
        c.string();
        c.string();
        c.int16s(c.int16());
        for (let n = c.int16(), i = 0; i < n; i++) c.lengthPrefixedChars();
        c.int16s(c.int16());
        break;
      case 'c':
        c.text('CopyDone');
        break;
      case 'C':
        c.text(toServer ? 'Close\t' : 'CommandComplete\t');
        if (toServer) c.byte1();
        c.string();
        break;
      case 'd':
        c.text('CopyData\t');
        c.nchar(c.remaining);
        break;
      case 'D':
        if (toServer) {
          c.text('Describe\t');
          c.byte1();
          c.string();
        } else {
          c.text('DataRow\t');
          for (let n = c.int16(), i = 0; i < n; i++) c.lengthPrefixedChars();
        }
        break;
      case 'E':
        if (toServer) {
          c.text('Execute\t');
          c.string();
          c.int32();
        } else {
          noticeFields(c, 'ErrorResponse');
        }
        break;
      case 'f':
        c.text('CopyFail\t');
        c.string();
        break;
      case 'F':
        c.text('FunctionCall\t');
        c.int32();
        c.int16s(c.int16());
        for (let n = c.int16(), i = 0; i < n; i++) c.lengthPrefixedChars();
        c.int16();
        break;
      case 'G':
        c.text('CopyInResponse\t');
        c.byte1();
        c.int16s(c.int16());
        break;
      case 'H':
        if (toServer) {
          c.text('Flush');
        } else {
          c.text('CopyOutResponse\t');
          c.byte1();
          c.int16s(c.int16());
        }
        break;
      case 'I':
        c.text('EmptyQueryResponse');
        break;
      case 'K':
        c.text('BackendKeyData\t');
        c.int32();
        c.nbyte(c.remaining);
        break;
      case 'n':
        c.text('NoData');
        break;
      case 'N':
        noticeFields(c, 'NoticeResponse');
        break;
      case 'p':
        this.authResponse(c);
        break;
      case 'P':
        c.text('Parse\t');
        c.string();
        c.string();
        for (let n = c.int16(), i = 0; i < n; i++) c.int32();
        break;
      case 'Q':
        c.text('Query\t');
        c.string();
        break;
      case 'R':
        authentication(c);
        break;
      case 's':
        c.text('PortalSuspended');
        break;
      case 'S':
        if (toServer) {
          c.text('Sync');
        } else {
          c.text('ParameterStatus\t');
          c.string();
          c.string();
        }
        break;
      case 't':
        c.text('ParameterDescription\t');
        for (let n = c.int16(), i = 0; i < n; i++) c.int32();
        break;
      case 'T':
        c.text('RowDescription\t');
        for (let n = c.int16(), i = 0; i < n; i++) {
          c.string();
          c.int32();
          c.int16();
          c.int32();
          c.int16();
          c.int32();
          c.int16();
        }
        break;
      case 'v':
        c.text('NegotiateProtocolVersion\t');
        c.int32();
        for (let n = c.int32(), i = 0; i < n; i++) c.string();
        break;
      case 'V':
        c.text('FunctionCallResponse\t');
        c.lengthPrefixedChars();
        break;
      case 'W':
        c.text('CopyBothResponse\t');
        c.byte1();
        while (c.remaining > 0) c.int16();
        break;
      case 'X':
        c.text('Terminate');
        break;
      case 'Z':
        c.text('ReadyForQuery\t');
        c.byte1();
        break;
      default:
        c.text(`Unknown message: ${hex(id)}`);
        break;
    }
    this.write(c.output());
    if (c.pos - 1 !== length) {
      this.write(`mismatched message length: consumed ${c.pos - 1}, expected ${length}`);
    }
  }

  /** A 'p' message, told apart by the last Authentication request; secrets are masked. */
  private authResponse(c: Cursor): void {
    switch (this.auth) {
      case 'password':
        c.text('PasswordMessage\t');
        c.maskedString();
        break;
      case 'saslInitial': {
        c.text('SASLInitialResponse\t');
        c.string();
        const n = c.int32();
        if (n !== -1) c.masked(n);
        break;
      }
      case 'sasl':
        c.text('SASLResponse\t');
        c.masked(c.remaining);
        break;
      case 'gss':
        c.text('GSSResponse\t');
        c.masked(c.remaining);
        break;
      case 'none':
        c.text('UnknownAuthenticationResponse');
        break;
    }
    this.auth = 'none';
  }

  /** libpq's pqTraceOutputNoTypeByteMessage: a startup-phase packet (length first). */
  private untyped(message: Uint8Array): void {
    const c = new Cursor(message, 4);
    const length = int32At(message, 0);
    c.text(`${this.prefix()}F\t${length}\t`);
    if (length < 8) {
      c.text('Unknown message');
      this.write(c.output());
      return;
    }
    const code = int32At(message, 4);
    if (code === requestCodes.CancelRequest && length >= 16) {
      c.text('CancelRequest\t');
      c.int16();
      c.int16();
      c.int32();
      c.nbyte(c.remaining);
    } else if (code === requestCodes.SSLRequest || code === requestCodes.GSSENCRequest) {
      c.text(code === requestCodes.SSLRequest ? 'SSLRequest\t' : 'GSSENCRequest\t');
      c.int16();
      c.int16();
    } else {
      c.text('StartupMessage\t');
      c.int16();
      c.int16();
      while (c.peek() !== 0) {
        c.string();
        c.string();
      }
      c.pos++;
    }
    this.write(c.output());
    if (c.pos !== length) {
      this.write(`mismatched message length: consumed ${c.pos}, expected ${length}`);
    }
  }
}

/** The body of an ErrorResponse or NoticeResponse: code and value pairs, then the zero byte. */
function noticeFields(c: Cursor, name: string): void {
  c.text(`${name}\t`);
  while (c.byte1() !== 0) c.string();
}

/**
 * An Authentication request. Unlike libpq 18, which leaves the 4 salt bytes of
 * AuthenticationMD5Password unread and then reports a "mismatched message length", the
 * salt is skipped silently (it is not printed by either).
 */
function authentication(c: Cursor): void {
  const code = c.readInt32();
  switch (code) {
    case authenticationCodes.Ok:
      c.text('AuthenticationOk');
      break;
    case authenticationCodes.CleartextPassword:
      c.text('AuthenticationCleartextPassword');
      break;
    case authenticationCodes.MD5Password:
      c.text('AuthenticationMD5Password');
      c.pos += 4;
      break;
    case authenticationCodes.GSS:
      c.text('AuthenticationGSS');
      break;
    case authenticationCodes.GSSContinue:
      c.text('AuthenticationGSSContinue\t');
      c.masked(c.remaining);
      break;
    case authenticationCodes.SSPI:
      c.text('AuthenticationSSPI');
      break;
    case authenticationCodes.SASL:
      c.text('AuthenticationSASL\t');
      while (c.peek() !== 0) c.string();
      c.string();
      break;
    case authenticationCodes.SASLContinue:
      c.text('AuthenticationSASLContinue\t');
      c.masked(c.remaining);
      break;
    case authenticationCodes.SASLFinal:
      c.text('AuthenticationSASLFinal\t');
      c.masked(c.remaining);
      break;
    default:
      c.text(`Unknown authentication message ${code}`);
      break;
  }
}

/**
 * Reads one message and builds its record. Reads past the end of the message give zeros
 * and empty strings instead of failing, and still move the position, so the caller can
 * report the mismatch as libpq does.
 */
class Cursor {
  pos: number;
  private readonly bytes: Uint8Array;
  private readonly parts: string[] = [];

  constructor(bytes: Uint8Array, pos: number) {
    this.bytes = bytes;
    this.pos = pos;
  }

  get remaining(): number {
    return Math.max(this.bytes.length - this.pos, 0);
  }

  output(): string {
    return this.parts.join('');
  }

  text(s: string): void {
    this.parts.push(s);
  }

  peek(): number {
    return this.bytes[this.pos] ?? 0;
  }

  readInt32(): number {
    const value = this.pos + 4 <= this.bytes.length ? int32At(this.bytes, this.pos) : 0;
    this.pos += 4;
    return value;
  }

  /** Byte1: the character if printable ASCII, else `\xNN`. Returns the byte. */
  byte1(): number {
    const b = this.peek();
    this.pos += 1;
    this.parts.push(isPrint(b) ? ` ${String.fromCharCode(b)}` : ` \\x${hex(b)}`);
    return b;
  }

  /** Int16, printed unsigned as libpq does. Returns the value. */
  int16(): number {
    const b = this.bytes;
    const p = this.pos;
    const value = p + 2 <= b.length ? (b[p]! << 8) | b[p + 1]! : 0;
    this.pos += 2;
    this.parts.push(` ${value}`);
    return value;
  }

  /** `n` Int16 values. */
  int16s(n: number): void {
    for (let i = 0; i < n; i++) this.int16();
  }

  int32(): number {
    const value = this.readInt32();
    this.parts.push(` ${value}`);
    return value;
  }

  /** A NUL-terminated String, in double quotes, verbatim. */
  string(): void {
    const end = this.stringEnd();
    this.parts.push(` "${utf8.decode(this.bytes.subarray(this.pos, end))}"`);
    this.pos = end + 1;
  }

  /** A String whose value is a secret. */
  maskedString(): void {
    this.pos = this.stringEnd() + 1;
    this.parts.push(` "${traceMask}"`);
  }

  /** An Int32 length and, unless it is -1 (NULL), that many bytes as chars. */
  lengthPrefixedChars(): void {
    const n = this.int32();
    if (n !== -1) this.nchar(n);
  }

  /** `n` bytes in single quotes, bytes outside printable ASCII as `\xNN`. */
  nchar(n: number): void {
    const end = Math.min(this.pos + Math.max(n, 0), this.bytes.length);
    let out = " '";
    for (let i = this.pos; i < end; i++) {
      const b = this.bytes[i]!;
      out += isPrint(b) ? String.fromCharCode(b) : `\\x${hex(b)}`;
    }
    this.parts.push(`${out}'`);
    this.pos += n;
  }

  /** `n` bytes in single quotes, every byte as `\xNN`. */
  nbyte(n: number): void {
    const end = Math.min(this.pos + Math.max(n, 0), this.bytes.length);
    let out = " '";
    for (let i = this.pos; i < end; i++) out += `\\x${hex(this.bytes[i]!)}`;
    this.parts.push(`${out}'`);
    this.pos += n;
  }

  /** `n` bytes of secret data. */
  masked(n: number): void {
    this.pos += n;
    this.parts.push(` '${traceMask}'`);
  }

  private stringEnd(): number {
    const i = this.bytes.indexOf(0, this.pos);
    return i === -1 ? this.bytes.length : i;
  }
}

/** Writes an ErrorResponse or NoticeResponse with its fields in their decoded order. */
function writeNoticeInOrder(w: Writer, type: number, fields: NoticeFields): void {
  w.beginMessage(type);
  for (const name of Object.keys(fields) as (keyof NoticeFields)[]) {
    if (name === 'unknown') {
      for (const [letter, text] of Object.entries(fields.unknown ?? {})) {
        w.uint8(letter.charCodeAt(0)).cstring(text);
      }
      continue;
    }
    const value = fields[name];
    const code = noticeCodeByName.get(name);
    if (value !== undefined && code !== undefined) w.uint8(code).cstring(value);
  }
  w.uint8(0).finishMessage();
}

/** C's isprint in the C locale. */
function isPrint(b: number): boolean {
  return b >= 0x20 && b <= 0x7e;
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** The local time as libpq prints it: `YYYY-MM-DD HH:MM:SS.uuuuuu`. */
function timestamp(): string {
  const now = performance.timeOrigin + performance.now();
  const seconds = Math.floor(now / 1000);
  const micros = Math.floor((now - seconds * 1000) * 1000);
  const d = new Date(seconds * 1000);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(micros, 6)}`
  );
}
