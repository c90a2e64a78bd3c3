/** Longest channel name the server keeps: NAMEDATALEN - 1 bytes of UTF-8. */
export const MAX_CHANNEL_BYTES = 63;

/** Payloads must be shorter than this many bytes of UTF-8 (the server's default build). */
export const MAX_PAYLOAD_BYTES = 8000;

/**
 * Checks a channel name before anything is sent: a non-empty string of at most 63 UTF-8
 * bytes without NUL. Longer names would be truncated by the server's lexer in LISTEN and
 * refused by pg_notify(), so listen and notify would not meet. Throws TypeError or RangeError.
 */
export function checkChannel(channel: string): void {
  if (typeof channel !== 'string') throw new TypeError('a channel name must be a string');
  if (channel.length === 0) throw new RangeError('a channel name cannot be empty');
  if (channel.includes('\0')) throw new TypeError('a channel name cannot contain a NUL character');
  const bytes = Buffer.byteLength(channel, 'utf8');
  if (bytes > MAX_CHANNEL_BYTES) {
    throw new RangeError(
      `channel name is ${bytes} bytes in UTF-8; the limit is ${MAX_CHANNEL_BYTES} bytes`,
    );
  }
}

/**
 * Checks a payload before anything is sent: a string without NUL, shorter than 8000 UTF-8
 * bytes. Throws TypeError or RangeError.
 */
export function checkPayload(payload: string): void {
  if (typeof payload !== 'string') throw new TypeError('a payload must be a string');
  if (payload.includes('\0')) throw new TypeError('a payload cannot contain a NUL character');
  const bytes = Buffer.byteLength(payload, 'utf8');
  if (bytes >= MAX_PAYLOAD_BYTES) {
    throw new RangeError(
      `payload is ${bytes} bytes in UTF-8; it must be shorter than ${MAX_PAYLOAD_BYTES} bytes`,
    );
  }
}
