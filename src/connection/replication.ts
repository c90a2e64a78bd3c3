import {
  dateToPgTimestamp,
  decodePgoutputMessage,
  decodeReplicationMessage,
  formatLsn,
  PgClientError,
  type PgoutputMessageUnion,
  type PrimaryKeepalive,
  parseLsn,
  writeStandbyStatusUpdate,
} from '../protocol/index.js';
import type { Connection } from './connection.js';
import { ConnectionError, ServerError } from './errors.js';
import { escapeIdentifier } from './escape.js';
import type { CopyBoth } from './types.js';

/**
 * The replication commands of a `replication=database` connection (protocol-replication.html,
 * "Streaming Replication Protocol" and "Logical Streaming Replication Protocol"), and a logical
 * replication stream over pgoutput with `messages 'true'` (PostgreSQL 14 and later).
 */

/**
 * Why replication cannot be used, with what to do about it. Stable values of
 * `ReplicationError.code`:
 * - REPLICATION_WAL_LEVEL: the server's wal_level is below logical.
 * - REPLICATION_PERMISSION: the role lacks the REPLICATION attribute (or the pg_hba.conf line).
 * - REPLICATION_SLOTS_EXHAUSTED: every slot allowed by max_replication_slots is taken.
 * - REPLICATION_WAL_SENDERS_EXHAUSTED: every WAL sender allowed by max_wal_senders is taken.
 * - REPLICATION_SERVER_TOO_OLD: the server is older than PostgreSQL 14 (no `messages` option).
 * - REPLICATION_SLOT_MISSING: the slot does not exist and creating it was not allowed.
 * - REPLICATION_SLOT_INVALID: the slot exists but is not a pgoutput logical slot of this
 *   database, or was invalidated (max_slot_wal_keep_size).
 */
export type ReplicationErrorCode =
  | 'REPLICATION_WAL_LEVEL'
  | 'REPLICATION_PERMISSION'
  | 'REPLICATION_SLOTS_EXHAUSTED'
  | 'REPLICATION_WAL_SENDERS_EXHAUSTED'
  | 'REPLICATION_SERVER_TOO_OLD'
  | 'REPLICATION_SLOT_MISSING'
  | 'REPLICATION_SLOT_INVALID';

/**
 * The server cannot serve logical replication as asked; the message says which setting or
 * privilege to change. Retrying without that change fails the same way. `cause` holds the
 * server's error when there was one.
 */
export class ReplicationError extends PgClientError {
  readonly code: ReplicationErrorCode;

  constructor(code: ReplicationErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReplicationError';
    this.code = code;
  }
}

/**
 * Turns a failure to open a replication connection into a ReplicationError when the server
 * said why (no REPLICATION role, WAL senders exhausted); anything else is returned as it is.
 */
export function classifyReplicationFailure(error: unknown): unknown {
  if (!(error instanceof ConnectionError)) return error;
  const text = error.message;
  if (error.sqlState === '42501') {
    return new ReplicationError(
      'REPLICATION_PERMISSION',
      `the role may not open a replication connection: ${text}. Grant it with ALTER ROLE name REPLICATION, and make sure pg_hba.conf lets it connect`,
      { cause: error },
    );
  }
  if (error.sqlState === '53300' && /wal_senders|replication slots/.test(text)) {
    return new ReplicationError(
      'REPLICATION_WAL_SENDERS_EXHAUSTED',
      `no WAL sender is free: ${text}. Raise max_wal_senders (a restart) or stop unused replication connections`,
      { cause: error },
    );
  }
  return error;
}

/** Slot names as the server accepts them: lower-case letters, digits and underscores. */
export function checkSlotName(slot: string): void {
  if (!/^[a-z0-9_]{1,63}$/.test(slot)) {
    throw new RangeError(
      `invalid replication slot name ${JSON.stringify(slot)}: use 1 to 63 lower-case letters, digits and underscores`,
    );
  }
}

/** A string literal of the replication grammar, which knows only '' doubling (no E'' form). */
function replicationLiteral(value: string): string {
  if (value.includes('\\') || value.includes('\0')) {
    throw new RangeError(`${JSON.stringify(value)}: backslashes and NUL are not allowed here`);
  }
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Checks that the server on `conn` can stream messages: PostgreSQL 14 or later and
 * wal_level = logical. Throws ReplicationError otherwise. Waits for one round trip.
 */
export async function checkLogicalReplication(conn: Connection): Promise<void> {
  const version = conn.serverVersion;
  if (version !== 0 && version < 140000) {
    throw new ReplicationError(
      'REPLICATION_SERVER_TOO_OLD',
      `the server runs PostgreSQL ${conn.parameterStatus('server_version')}; durable notifications need PostgreSQL 14 or later (pgoutput's messages option)`,
    );
  }
  const level = (await conn.exec('SHOW wal_level')).rows[0]?.[0];
  if (level !== 'logical') {
    throw new ReplicationError(
      'REPLICATION_WAL_LEVEL',
      `the server's wal_level is ${level ?? 'unknown'}; durable notifications need wal_level = logical (set it in postgresql.conf or with ALTER SYSTEM, then restart the server)`,
    );
  }
}

/** The answer to IDENTIFY_SYSTEM. */
export interface SystemIdentity {
  /** The cluster's system identifier, as decimal text. */
  systemId: string;
  timeline: number;
  /** The current WAL flush position. */
  xlogPos: bigint;
  /** The database of the connection (null for a physical replication connection). */
  dbname: string | null;
}

/** IDENTIFY_SYSTEM on a replication connection. Rejects with ServerError or ConnectionError. */
export async function identifySystem(conn: Connection): Promise<SystemIdentity> {
  const row = (await conn.exec('IDENTIFY_SYSTEM')).rows[0];
  if (!row || row.length < 4) throw new TypeError('IDENTIFY_SYSTEM returned no row');
  return {
    systemId: row[0] ?? '',
    timeline: Number(row[1]),
    xlogPos: parseLsn(row[2] ?? ''),
    dbname: row[3] ?? null,
  };
}

/** A slot made by createReplicationSlot. */
export interface CreatedSlot {
  slotName: string;
  /** The WAL position from which the slot's stream starts. */
  consistentPoint: bigint;
}

/**
 * CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput, without exporting a snapshot.
 * A temporary slot is dropped when this connection ends. Rejects with ReplicationError when
 * wal_level is too low or every slot is taken, ServerError for other refusals (an existing
 * slot: SQLSTATE 42710). Waits until the server has found a consistent point, which can take
 * as long as the oldest running transaction.
 */
export async function createReplicationSlot(
  conn: Connection,
  slot: string,
  options: { temporary?: boolean } = {},
): Promise<CreatedSlot> {
  checkSlotName(slot);
  const temporary = options.temporary ? ' TEMPORARY' : '';
  let row: (string | null)[] | undefined;
  try {
    row = (
      await conn.exec(
        `CREATE_REPLICATION_SLOT ${slot}${temporary} LOGICAL pgoutput NOEXPORT_SNAPSHOT`,
      )
    ).rows[0];
  } catch (error) {
    if (error instanceof ServerError && error.sqlState === '53400') {
      throw new ReplicationError(
        'REPLICATION_SLOTS_EXHAUSTED',
        `cannot create replication slot "${slot}": ${error.message}. Raise max_replication_slots (a restart) or drop unused slots (pqnotify slots --drop NAME)`,
        { cause: error },
      );
    }
    if (
      error instanceof ServerError &&
      error.sqlState === '55000' &&
      /wal_level/.test(error.message)
    ) {
      throw new ReplicationError(
        'REPLICATION_WAL_LEVEL',
        `cannot create replication slot "${slot}": ${error.message}. Set wal_level = logical and restart the server`,
        { cause: error },
      );
    }
    throw error;
  }
  return { slotName: row?.[0] ?? slot, consistentPoint: parseLsn(row?.[1] ?? '0/0') };
}

/**
 * DROP_REPLICATION_SLOT name WAIT: drops the slot, waiting while another connection uses it.
 * Rejects with ServerError (SQLSTATE 42704 when there is no such slot).
 */
export async function dropReplicationSlot(conn: Connection, slot: string): Promise<void> {
  checkSlotName(slot);
  await conn.exec(`DROP_REPLICATION_SLOT ${slot} WAIT`);
}

/** Options of LogicalStream.start(). */
export interface LogicalStreamOptions {
  /** A logical slot made with the pgoutput plugin. */
  slot: string;
  /** Where to start; 0n (the default) means the slot's confirmed position. */
  startLsn?: bigint;
  /** Publications for pgoutput; at least one, and each must exist (an empty one will do). */
  publications: readonly string[];
  /** Each pgoutput message, from the read loop; its `walStart` is the XLogData's. Must not block. */
  onMessage: (message: PgoutputMessageUnion, walStart: bigint) => void;
  /**
   * Each primary keepalive, from the read loop, before any reply is sent (a chance to call
   * confirm() when nothing is outstanding). Must not block.
   */
  onKeepalive?: (keepalive: PrimaryKeepalive) => void;
  /** Send a standby status update at least this often, in milliseconds; default 10 000. */
  statusIntervalMs?: number;
  /**
   * Scheduled status updates ask the server for a keepalive, so that a silent connection can
   * be told from an idle one; default false.
   */
  requestReplies?: boolean;
}

/**
 * A running START_REPLICATION ... LOGICAL stream with pgoutput (proto_version '1', messages
 * 'true') on a `replication=database` connection. Decodes XLogData into pgoutput messages for
 * `onMessage`, answers keepalives that ask for a reply, and sends standby status updates on a
 * schedule. The flushed position it reports is only ever what confirm() was given: the server
 * forgets WAL up to there, so confirm only what the application has finished with.
 */
export class LogicalStream {
  /** Undefined until copyBoth() resolves: messages can arrive before that. */
  private copy: CopyBoth | undefined;
  private timer: NodeJS.Timeout | undefined;
  private receivedLsn: bigint;
  private flushedLsn: bigint;
  private stopped = false;
  /** A keepalive asked for a reply before the copy handle existed. */
  private replyOwed = false;
  private readonly options: LogicalStreamOptions;
  private ended: Promise<void> = Promise.resolve();

  private constructor(options: LogicalStreamOptions) {
    this.options = options;
    this.receivedLsn = options.startLsn ?? 0n;
    this.flushedLsn = this.receivedLsn;
  }

  /**
   * Sends START_REPLICATION and resolves once the server streams. Rejects with ServerError
   * (a missing slot or publication, a slot in use: SQLSTATE 55006) or ConnectionError.
   */
  static async start(conn: Connection, options: LogicalStreamOptions): Promise<LogicalStream> {
    checkSlotName(options.slot);
    if (options.publications.length === 0) {
      throw new RangeError('at least one publication is needed');
    }
    const names = options.publications.map((name) => escapeIdentifier(name)).join(',');
    const sql =
      `START_REPLICATION SLOT ${options.slot} LOGICAL ${formatLsn(options.startLsn ?? 0n)} ` +
      `(proto_version '1', publication_names ${replicationLiteral(names)}, messages 'true')`;
    const stream = new LogicalStream(options);
    const copy = await conn.copyBoth(sql, stream.onData);
    stream.copy = copy;
    stream.ended = copy.done;
    const ask = options.requestReplies ?? false;
    stream.timer = setInterval(() => stream.sendStatus(ask), options.statusIntervalMs ?? 10_000);
    stream.timer.unref();
    copy.done.then(
      () => stream.halt(),
      () => stream.halt(),
    );
    if (stream.replyOwed) stream.sendStatus(false);
    return stream;
  }

  /** Each CopyData body, from the connection's read loop. */
  private readonly onData = (data: Uint8Array): void => {
    const message = decodeReplicationMessage(data);
    if (message.type === 'XLogData') {
      if (message.walStart > this.receivedLsn) this.receivedLsn = message.walStart;
      this.options.onMessage(decodePgoutputMessage(message.data), message.walStart);
      return;
    }
    if (message.walEnd > this.receivedLsn) this.receivedLsn = message.walEnd;
    this.options.onKeepalive?.(message);
    if (message.replyRequested) {
      if (this.copy) this.sendStatus(false);
      else this.replyOwed = true;
    }
  };

  /** The highest WAL position seen in the stream (XLogData start or keepalive end). */
  get received(): bigint {
    return this.receivedLsn;
  }

  /** The position reported as flushed: the highest confirm(). */
  get flushed(): bigint {
    return this.flushedLsn;
  }

  /** Settles when the stream ends; see CopyBoth.done. */
  get done(): Promise<void> {
    return this.ended;
  }

  /**
   * Records that everything up to `lsn` is finished with: the next status update reports it
   * as flushed, and the server may then recycle that WAL and never send it again. Positions
   * only move forward; a smaller `lsn` is ignored.
   */
  confirm(lsn: bigint): void {
    if (lsn > this.flushedLsn) this.flushedLsn = lsn;
  }

  /**
   * Sends a standby status update now (written = received, flushed = applied = confirmed).
   * Returns false when the stream has ended. Never blocks.
   */
  sendStatus(replyRequested = false): boolean {
    const copy = this.copy;
    if (this.stopped || !copy) return false;
    try {
      copy.send((w) =>
        writeStandbyStatusUpdate(w, {
          written: this.receivedLsn,
          flushed: this.flushedLsn,
          applied: this.flushedLsn,
          clientTime: dateToPgTimestamp(Date.now()),
          replyRequested,
        }),
      );
      return true;
    } catch {
      this.halt();
      return false;
    }
  }

  /**
   * Sends a last status update, then CopyDone, and resolves when the server has ended the
   * command; the connection can then run other commands. Rejects like `done`.
   */
  async stop(): Promise<void> {
    this.sendStatus(false);
    this.halt();
    await this.copy?.end();
  }

  private halt(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }
}
