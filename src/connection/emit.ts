/**
 * The statement behind durable notifications (see src/notify/durable.ts):
 * pg_logical_emit_message() writes a message into the WAL that logical decoding hands out at
 * its transaction's commit, in commit order. Pure; nothing here does I/O.
 */

/** Default prefix of the logical message: the message prefix is `${prefix}${channel}`. */
export const defaultDurablePrefix = 'pqnotify:';

/** A statement to run in the caller's own transaction, with its text parameters. */
export interface DurableStatement {
  text: string;
  values: string[];
}

/** Options of durableNotifyStatement() and notifyDurable(). */
export interface DurableNotifyOptions {
  /** Prefix of the logical message before the channel; default `pqnotify:`. */
  prefix?: string;
}

/**
 * The statement that sends a durable notification: `pg_logical_emit_message(true,
 * prefix || channel, payload)`, for the caller to run with Connection.query() inside its own
 * transaction: the message is delivered if and only if that transaction commits, in commit
 * order. A string payload is sent as text (UTF-8, no NUL), bytes as bytea; any size
 * PostgreSQL accepts (up to 1 GB). The statement returns the message's LSN. Throws RangeError
 * for an empty channel, TypeError for a NUL in the channel, prefix or text payload. Pure.
 */
export function durableNotifyStatement(
  channel: string,
  payload: string | Uint8Array = '',
  options: DurableNotifyOptions = {},
): DurableStatement {
  const prefix = options.prefix ?? defaultDurablePrefix;
  if (channel.length === 0) throw new RangeError('a durable channel name cannot be empty');
  if (`${prefix}${channel}`.includes('\0')) {
    throw new TypeError('a durable channel name or prefix cannot contain a NUL character');
  }
  if (typeof payload === 'string') {
    if (payload.includes('\0'))
      throw new TypeError('a text payload cannot contain NUL; send bytes');
    return {
      text: 'SELECT pg_logical_emit_message(true, $1, $2::text)::text',
      values: [`${prefix}${channel}`, payload],
    };
  }
  return {
    text: "SELECT pg_logical_emit_message(true, $1, decode($2, 'hex'))::text",
    values: [
      `${prefix}${channel}`,
      Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('hex'),
    ],
  };
}
