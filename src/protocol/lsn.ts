import type { Frame } from './frame.js';

/**
 * 64-bit protocol values: WAL positions (LSN, `XLogRecPtr`) and timestamps (`TimestampTz`,
 * microseconds since 2000-01-01 UTC), as the replication messages carry them
 * (protocol-replication.html, protocol-logicalrep-message-formats.html). Both are bigint,
 * so no precision is lost; nothing here blocks.
 */

/** Microseconds from the Unix epoch to the PostgreSQL epoch, 2000-01-01 00:00:00 UTC. */
const PG_EPOCH_MICROS = 946_684_800_000_000n;

/** Reads an unsigned big-endian Int64 (an LSN, or a timestamp that is never negative). */
export function readUint64(f: Frame): bigint {
  const high = f.uint32();
  const low = f.uint32();
  return (BigInt(high) << 32n) | BigInt(low);
}

/** Reads a signed big-endian Int64 (a TimestampTz). */
export function readInt64(f: Frame): bigint {
  return BigInt.asIntN(64, readUint64(f));
}

/** The text form PostgreSQL uses for an LSN (`pg_lsn`): two hex halves, `16/B374D848`. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/** Parses the `pg_lsn` text form (`16/B374D848`, case-insensitive). Throws RangeError when malformed. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9a-fA-F]{1,8})\/([0-9a-fA-F]{1,8})$/.exec(text);
  if (!match) throw new RangeError(`not an LSN: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** A TimestampTz (microseconds since 2000-01-01 UTC) as a Date (millisecond precision). */
export function pgTimestampToDate(micros: bigint): Date {
  return new Date(Number((micros + PG_EPOCH_MICROS) / 1000n));
}

/** A Date (or milliseconds since the Unix epoch) as a TimestampTz. */
export function dateToPgTimestamp(date: Date | number): bigint {
  const ms = typeof date === 'number' ? date : date.getTime();
  return BigInt(Math.trunc(ms)) * 1000n - PG_EPOCH_MICROS;
}
