/**
 * Is it PostgreSQL at all? The first bytes a server answers with tell, before anything is
 * decoded or allocated: the answer to SSLRequest is one byte, 'S' or 'N', and the first
 * message after a StartupMessage is an Authentication request ('R'), an ErrorResponse ('E')
 * or a NegotiateProtocolVersion ('v') of modest length. Anything else (an HTTP status line,
 * an SMTP banner, noise) gets CONNECTION_NOT_POSTGRESQL, naming what arrived.
 */
import { backendMessageCodes } from '../protocol/codes.js';
import { int32At } from '../protocol/frame.js';
import { ConnectionError } from './errors.js';

/** How many bytes of a foreign answer are shown (one more is kept, to know there is more). */
export const shownBytes = 32;

/**
 * The length bounds (the Int32 after the type byte, which counts itself) of each message
 * a server may open the startup answer with. libpq refuses an ErrorResponse over 30000 bytes
 * here; an authentication request or a NegotiateProtocolVersion is far shorter in practice.
 */
const FIRST_MESSAGES: Record<number, { name: string; min: number; max: number }> = {
  [backendMessageCodes.Authentication]: { name: 'an Authentication request', min: 8, max: 65536 },
  [backendMessageCodes.ErrorResponse]: { name: 'an ErrorResponse', min: 5, max: 30000 },
  [backendMessageCodes.NegotiateProtocolVersion]: {
    name: 'a NegotiateProtocolVersion',
    min: 12,
    max: 65536,
  },
};

/**
 * Checks the first bytes of the answer to a StartupMessage (at most `shownBytes` of them
 * suffice). Returns 'more' while they cannot tell yet, 'ok' for a plausible PostgreSQL answer,
 * else the reason it is not one.
 */
export function checkStartupAnswer(head: Uint8Array): 'more' | 'ok' | string {
  if (head.length === 0) return 'more';
  const expected = FIRST_MESSAGES[head[0] as number];
  if (expected === undefined) {
    return 'expected an authentication request, an ErrorResponse or a NegotiateProtocolVersion';
  }
  if (head.length < 5) return 'more';
  const length = int32At(head, 1);
  if (length < expected.min || length > expected.max) {
    return `${expected.name} of ${length} bytes is not plausible as a first message`;
  }
  return 'ok';
}

/** Bytes as text: printable ASCII as it is, the rest as \r, \n, \t or \xHH; at most 32. */
export function printable(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes.subarray(0, shownBytes)) {
    if (byte === 0x0d) out += '\\r';
    else if (byte === 0x0a) out += '\\n';
    else if (byte === 0x09) out += '\\t';
    else if (byte === 0x5c) out += '\\\\';
    else if (byte === 0x22) out += '\\"';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return bytes.length > shownBytes ? `${out}...` : out;
}

/** The CONNECTION_NOT_POSTGRESQL error for a foreign answer from `address`. */
export function notPostgresql(
  address: string,
  answered: string,
  bytes: Uint8Array,
): ConnectionError {
  return new ConnectionError(
    'CONNECTION_NOT_POSTGRESQL',
    `${address}: not a PostgreSQL server: ${answered}, received "${printable(bytes)}"`,
    { address },
  );
}
