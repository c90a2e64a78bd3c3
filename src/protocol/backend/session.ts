import { backendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/**
 * Startup and session-state messages (protocol-message-formats.html): BackendKeyData,
 * NegotiateProtocolVersion, ParameterStatus and ReadyForQuery. Decoded values are owned
 * (numbers, strings, copied bytes).
 */

/** Shortest and longest cancel key: 4 bytes in protocol 3.0, up to 256 bytes in 3.2. */
const secretKeyLength = Object.freeze({ min: 4, max: 256 } as const);

/** 'K': the key to quote in a CancelRequest for this session. */
export interface BackendKeyData {
  type: 'BackendKeyData';
  processId: number;
  /** 4 bytes in protocol 3.0; 4 to 256 bytes in protocol 3.2. A copy owned by the message. */
  secretKey: Uint8Array;
}

/** 'v': the server does not support the requested minor version or some `_pq_.` options. */
export interface NegotiateProtocolVersion {
  type: 'NegotiateProtocolVersion';
  /**
   * Newest minor protocol version the server supports for the requested major version. On
   * the wire servers send the whole version code (major in the high 16 bits, as
   * PG_PROTOCOL_LATEST, 196608 for 3.0); the decoder checks the major is 3 and keeps the minor.
   */
  newestMinorVersion: number;
  /** Protocol options (`_pq_.` parameters) the server did not recognize. */
  unrecognizedOptions: string[];
}

/** 'S': the current value of a run-time parameter the server reports (server_version, TimeZone, ...). */
export interface ParameterStatus {
  type: 'ParameterStatus';
  name: string;
  value: string;
}

/** 'Z': the server is ready for a new query cycle. */
export interface ReadyForQuery {
  type: 'ReadyForQuery';
  /** 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block. */
  transactionStatus: 'I' | 'T' | 'E';
}

/** Decodes a BackendKeyData body; a key outside 4..256 bytes is a ProtocolError. */
export function decodeBackendKeyData(f: Frame): BackendKeyData {
  const processId = f.int32();
  const length = f.remaining;
  if (length < secretKeyLength.min || length > secretKeyLength.max) {
    f.fail(`secret key of ${length} bytes; expected 4 to 256`);
  }
  return { type: 'BackendKeyData', processId, secretKey: f.rest() };
}

/** Writes a BackendKeyData message; throws a RangeError for a key outside 4..256 bytes. */
export function writeBackendKeyData(w: Writer, message: BackendKeyData): void {
  checkSecretKey(message.secretKey);
  w.beginMessage(backendMessageCodes.BackendKeyData)
    .int32(message.processId)
    .bytes(message.secretKey)
    .finishMessage();
}

/** Throws a RangeError unless `key` has a length a server may send (4..256 bytes). */
export function checkSecretKey(key: Uint8Array): void {
  if (key.length < secretKeyLength.min || key.length > secretKeyLength.max) {
    throw new RangeError(`a cancel key has 4 to 256 bytes, got ${key.length}`);
  }
}

/** Decodes a NegotiateProtocolVersion body. */
export function decodeNegotiateProtocolVersion(f: Frame): NegotiateProtocolVersion {
  const versionAt = f.pos;
  const version = f.int32();
  if (version >>> 16 !== 3)
    f.fail(
      `negotiated protocol version ${version >>> 16}.${version & 0xffff} is not 3.x`,
      versionAt,
    );
  const newestMinorVersion = version & 0xffff;
  const countAt = f.pos;
  const count = f.int32();
  // Each option takes at least its terminator, so a count above the bytes left is a lie.
  if (count < 0 || count > f.remaining) f.fail(`bad option count ${count}`, countAt);
  const unrecognizedOptions: string[] = [];
  for (let i = 0; i < count; i++) unrecognizedOptions.push(f.cstring());
  f.finish();
  return { type: 'NegotiateProtocolVersion', newestMinorVersion, unrecognizedOptions };
}

/** Writes a NegotiateProtocolVersion message. */
export function writeNegotiateProtocolVersion(w: Writer, message: NegotiateProtocolVersion): void {
  w.beginMessage(backendMessageCodes.NegotiateProtocolVersion)
    .int32((3 << 16) | message.newestMinorVersion)
    .int32(message.unrecognizedOptions.length);
  for (const option of message.unrecognizedOptions) w.cstring(option);
  w.finishMessage();
}

/** Decodes a ParameterStatus body. */
export function decodeParameterStatus(f: Frame): ParameterStatus {
  const name = f.cstring();
  const value = f.cstring();
  f.finish();
  return { type: 'ParameterStatus', name, value };
}

/** Writes a ParameterStatus message. */
export function writeParameterStatus(w: Writer, message: ParameterStatus): void {
  w.beginMessage(backendMessageCodes.ParameterStatus)
    .cstring(message.name)
    .cstring(message.value)
    .finishMessage();
}

const readyIdle: ReadyForQuery = Object.freeze({ type: 'ReadyForQuery', transactionStatus: 'I' });
const readyInTransaction: ReadyForQuery = Object.freeze({
  type: 'ReadyForQuery',
  transactionStatus: 'T',
});
const readyFailed: ReadyForQuery = Object.freeze({ type: 'ReadyForQuery', transactionStatus: 'E' });

/** Decodes a ReadyForQuery body; a status other than I, T or E is a ProtocolError. */
export function decodeReadyForQuery(f: Frame): ReadyForQuery {
  const statusAt = f.pos;
  const status = f.uint8();
  f.finish();
  switch (status) {
    case 0x49: // 'I'
      return readyIdle;
    case 0x54: // 'T'
      return readyInTransaction;
    case 0x45: // 'E'
      return readyFailed;
    default:
      return f.fail(`unknown transaction status 0x${status.toString(16)}`, statusAt);
  }
}

/** Writes a ReadyForQuery message. */
export function writeReadyForQuery(w: Writer, message: ReadyForQuery): void {
  w.beginMessage(backendMessageCodes.ReadyForQuery)
    .uint8(message.transactionStatus.charCodeAt(0))
    .finishMessage();
}
