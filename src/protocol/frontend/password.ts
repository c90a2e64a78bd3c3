import { frontendMessageCodes } from '../codes.js';
import { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/**
 * 'p' messages (protocol-message-formats.html): PasswordMessage, GSSResponse,
 * SASLInitialResponse and SASLResponse share one type byte, and only the state of the
 * authentication exchange tells them apart. The frontend decoder therefore returns the raw
 * body; a fake server reads it with `parsePasswordMessage` or `parseSASLInitialResponse`.
 */

/** Any 'p' message; `data` is the body (a copy owned by the message). */
export interface PasswordMessage {
  type: 'PasswordMessage';
  data: Uint8Array;
}

/** What a SASLInitialResponse carries. */
export interface SASLInitialResponse {
  /** The mechanism the client chose, such as SCRAM-SHA-256. */
  mechanism: string;
  /** The initial response (for SCRAM, the client-first-message), or null when absent. */
  data: Uint8Array | null;
}

/** Writes a PasswordMessage: the password (cleartext or MD5-hashed) as a String. */
export function writePasswordMessage(w: Writer, password: string): void {
  w.beginMessage(frontendMessageCodes.PasswordMessage).cstring(password).finishMessage();
}

/** Writes a SASLInitialResponse; `data` null sends length -1 (no initial response). */
export function writeSASLInitialResponse(
  w: Writer,
  mechanism: string,
  data: Uint8Array | null,
): void {
  w.beginMessage(frontendMessageCodes.PasswordMessage)
    .cstring(mechanism)
    .lengthPrefixed(data)
    .finishMessage();
}

/** Writes a SASLResponse (for SCRAM, the client-final-message). */
export function writeSASLResponse(w: Writer, data: Uint8Array): void {
  w.beginMessage(frontendMessageCodes.PasswordMessage).bytes(data).finishMessage();
}

/**
 * Reads the body of a 'p' message as a PasswordMessage: one String. Throws a ProtocolError
 * (offset counted from the start of `data`) if it is not exactly that.
 */
export function parsePasswordMessage(data: Uint8Array): string {
  const f = Frame.over(data, 'PasswordMessage');
  const password = f.cstring();
  f.finish();
  return password;
}

/**
 * Reads the body of a 'p' message as a SASLInitialResponse. Throws a ProtocolError (offset
 * counted from the start of `data`) if it is not exactly that. The returned data is a copy.
 */
export function parseSASLInitialResponse(data: Uint8Array): SASLInitialResponse {
  const f = Frame.over(data, 'SASLInitialResponse');
  const mechanism = f.cstring();
  const response = f.nullableBytes();
  f.finish();
  return { mechanism, data: response };
}

/** Decodes a 'p' body. */
export function decodePasswordMessage(f: Frame): PasswordMessage {
  return { type: 'PasswordMessage', data: f.rest() };
}
