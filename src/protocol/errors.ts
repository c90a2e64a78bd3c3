/**
 * Base class of every error pqnotify throws on purpose. `code` is a stable string that
 * programs can switch on; the message is for people and may change between versions.
 */
export abstract class PgClientError extends Error {
  abstract readonly code: string;
}

/**
 * The bytes from the server do not follow the protocol: a bad length, a string without its
 * terminator, an unknown message type, bytes left over after a message body. Fatal: the
 * stream is out of step and the connection that received it cannot be used again.
 * `offset` is the position of the offending byte counted from the first byte the decoder
 * was ever given (or from the start of the buffer handed to a one-shot decode).
 */
export class ProtocolError extends PgClientError {
  readonly code = 'PROTOCOL_ERROR';
  /** Byte offset of the problem in the decoder's input stream. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(`${message} (at byte ${offset})`);
    this.name = 'ProtocolError';
    this.offset = offset;
  }
}
