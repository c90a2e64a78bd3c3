import { checkSecretKey, decodeBackendKeyData } from '../backend/session.js';
import { protocolVersions, requestCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/**
 * The untyped startup-phase packets (protocol-message-formats.html, protocol-flow.html
 * "Start-up"): `length(4) code(4) ...`, told apart by the code. StartupMessage carries the
 * protocol version as its code; the others carry a request code from `requestCodes`.
 */

/** The first message of a session: the protocol version and the connection parameters. */
export interface StartupMessage {
  type: 'StartupMessage';
  protocolVersion: { major: number; minor: number };
  /** user, database, options, application_name, `_pq_.` protocol options, ... */
  parameters: Record<string, string>;
}

/** Asks the server whether it will talk TLS; the answer is one byte, 'S' or 'N'. */
export interface SSLRequest {
  type: 'SSLRequest';
}

/** Asks the server whether it will talk GSSAPI encryption; the answer is one byte, 'G' or 'N'. */
export interface GSSENCRequest {
  type: 'GSSENCRequest';
}

/** Sent on a new connection to cancel the query running in another session. */
export interface CancelRequest {
  type: 'CancelRequest';
  processId: number;
  /** The key from that session's BackendKeyData (4..256 bytes); a copy owned by the message. */
  secretKey: Uint8Array;
}

/** Arguments of writeStartupMessage. */
export interface StartupOptions {
  /**
   * Default 3.0. Ask for 3.2 to get the long cancel keys of PostgreSQL 18. Other minor
   * versions are accepted (0..65535), e.g. to make a server answer NegotiateProtocolVersion.
   */
  protocolVersion?: { major: 3; minor: number };
  /** Connection parameters, `_pq_.` protocol options included; names must not be empty. */
  parameters: Record<string, string>;
}

/** Writes a StartupMessage. Throws (leaving `w` unchanged) for an empty name or a NUL. */
export function writeStartupMessage(w: Writer, options: StartupOptions): void {
  const entries = Object.entries(options.parameters);
  if (entries.some(([name]) => name === '')) {
    throw new RangeError('a startup parameter name cannot be empty');
  }
  const minor = options.protocolVersion?.minor ?? 0;
  if (!Number.isInteger(minor) || minor < 0 || minor > 0xffff) {
    throw new RangeError(`protocol minor version ${minor} is not in 0..65535`);
  }
  w.beginUntypedMessage().int32(protocolVersions.v3_0 + minor);
  for (const [name, value] of entries) w.cstring(name).cstring(value);
  w.uint8(0).finishMessage();
}

/** Writes an SSLRequest: 8 bytes. Send it first, then read the one-byte answer. */
export function writeSSLRequest(w: Writer): void {
  w.beginUntypedMessage().int32(requestCodes.SSLRequest).finishMessage();
}

/** Writes a GSSENCRequest: 8 bytes. Send it first, then read the one-byte answer. */
export function writeGSSENCRequest(w: Writer): void {
  w.beginUntypedMessage().int32(requestCodes.GSSENCRequest).finishMessage();
}

/**
 * Writes a CancelRequest for the session with this process ID and key (the whole key from
 * BackendKeyData, 4 bytes in protocol 3.0, up to 256 in 3.2). Throws a RangeError for a key
 * outside 4..256 bytes.
 */
export function writeCancelRequest(w: Writer, processId: number, secretKey: Uint8Array): void {
  checkSecretKey(secretKey);
  w.beginUntypedMessage()
    .int32(requestCodes.CancelRequest)
    .int32(processId)
    .bytes(secretKey)
    .finishMessage();
}

const sslRequest: SSLRequest = Object.freeze({ type: 'SSLRequest' });
const gssencRequest: GSSENCRequest = Object.freeze({ type: 'GSSENCRequest' });

/** Decodes an untyped startup-phase packet by its code. */
export function decodeStartupPacket(
  f: Frame,
): StartupMessage | SSLRequest | GSSENCRequest | CancelRequest {
  const codeAt = f.pos;
  const code = f.int32();
  switch (code) {
    case requestCodes.SSLRequest:
      f.finish();
      return sslRequest;
    case requestCodes.GSSENCRequest:
      f.finish();
      return gssencRequest;
    case requestCodes.CancelRequest: {
      const { processId, secretKey } = decodeBackendKeyData(f);
      return { type: 'CancelRequest', processId, secretKey };
    }
  }
  const major = code >>> 16;
  if (major !== protocolVersions.v3_0 >>> 16) {
    f.fail(`unsupported protocol version or request code ${code}`, codeAt);
  }
  const entries: Array<[string, string]> = [];
  for (let name = f.cstring(); name !== ''; name = f.cstring()) entries.push([name, f.cstring()]);
  f.finish();
  return {
    type: 'StartupMessage',
    protocolVersion: { major, minor: code & 0xffff },
    parameters: Object.fromEntries(entries),
  };
}
