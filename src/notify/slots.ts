import { EventEmitter } from 'node:events';
import type { Connection } from '../connection/connection.js';

/**
 * Looking after replication slots. A slot keeps every WAL segment from its restart position on
 * until its consumer confirms it: an abandoned slot fills the disk, unless
 * `max_slot_wal_keep_size` is set (then the server invalidates the slot instead, and its
 * unread messages are lost). List slots with the WAL they hold back, drop the ones no longer
 * used, and watch the retained WAL.
 */

/** One row of pg_replication_slots, with the WAL it retains. */
export interface SlotInfo {
  slotName: string;
  /** The output plugin (pgoutput for durable notifications); null for a physical slot. */
  plugin: string | null;
  slotType: 'logical' | 'physical';
  database: string | null;
  temporary: boolean;
  /** True while a consumer streams from it. */
  active: boolean;
  activePid: number | null;
  restartLsn: string | null;
  confirmedFlushLsn: string | null;
  /** Bytes of WAL between the server's current position and the slot's restart position. */
  retainedBytes: number | null;
  /** reserved, extended, unreserved or lost (lost: invalidated by max_slot_wal_keep_size). */
  walStatus: string | null;
}

/**
 * Lists the replication slots of the cluster (every database), in name order, with the WAL
 * each retains. Runs one query on `conn` (an ordinary connection, or a replication=database
 * one that is not streaming). Rejects with ServerError or ConnectionError.
 */
export async function listSlots(conn: Connection): Promise<SlotInfo[]> {
  const result = await conn.exec(
    'SELECT slot_name, plugin, slot_type, database, temporary, active, active_pid, ' +
      'restart_lsn::text, confirmed_flush_lsn::text, ' +
      'pg_catalog.pg_wal_lsn_diff(CASE WHEN pg_catalog.pg_is_in_recovery() ' +
      'THEN pg_catalog.pg_last_wal_receive_lsn() ELSE pg_catalog.pg_current_wal_lsn() END, ' +
      'restart_lsn)::bigint, wal_status ' +
      'FROM pg_catalog.pg_replication_slots ORDER BY slot_name',
  );
  return result.rows.map((row) => ({
    slotName: row[0] ?? '',
    plugin: row[1] ?? null,
    slotType: row[2] === 'physical' ? 'physical' : 'logical',
    database: row[3] ?? null,
    temporary: row[4] === 't',
    active: row[5] === 't',
    activePid: row[6] === null || row[6] === undefined ? null : Number(row[6]),
    restartLsn: row[7] ?? null,
    confirmedFlushLsn: row[8] ?? null,
    retainedBytes: row[9] === null || row[9] === undefined ? null : Number(row[9]),
    walStatus: row[10] ?? null,
  }));
}

/**
 * Drops a replication slot (pg_drop_replication_slot): its unread messages are gone for
 * good and the WAL it held can be recycled. Rejects with ServerError: SQLSTATE 42704 when
 * there is no such slot, 55006 while a consumer streams from it.
 */
export async function dropSlot(conn: Connection, slot: string): Promise<void> {
  await conn.query('SELECT pg_catalog.pg_drop_replication_slot($1)', [slot]);
}

/** Events of a SlotWatcher. */
export interface SlotWatcherEvents {
  /** A slot retains at least `thresholdBytes` of WAL (or was invalidated); once per sample. */
  retained: [slot: SlotInfo & { thresholdBytes: number }];
  /** A sample failed (the connection was lost, a privilege is missing); sampling goes on. */
  error: [error: Error];
}

/** Options of watchSlots(). */
export interface WatchSlotsOptions {
  /** Report slots that retain at least this many bytes of WAL; default 1 GiB. */
  thresholdBytes?: number;
  /** Sample this often; default 60 s. */
  intervalMs?: number;
  /** Only these slots; default every slot. */
  slots?: readonly string[];
}

/**
 * Samples pg_replication_slots on a schedule and emits `retained` for every slot at or over
 * the threshold, and for every invalidated slot. The connection stays the caller's.
 */
export class SlotWatcher extends EventEmitter<SlotWatcherEvents> {
  private readonly conn: Connection;
  private readonly thresholdBytes: number;
  private readonly slots: Set<string> | undefined;
  private readonly timer: NodeJS.Timeout;
  private sampling: Promise<void> | undefined;

  /** Use watchSlots(). */
  constructor(conn: Connection, options: WatchSlotsOptions = {}) {
    super();
    this.conn = conn;
    this.thresholdBytes = options.thresholdBytes ?? 1024 ** 3;
    this.slots = options.slots ? new Set(options.slots) : undefined;
    this.timer = setInterval(() => void this.sample(), options.intervalMs ?? 60_000);
    this.timer.unref();
  }

  /**
   * Takes one sample now (the schedule goes on) and resolves with the slots over the
   * threshold, after emitting `retained` for each; a failed sample emits `error` (if anyone
   * listens) and resolves with [].
   */
  sample(): Promise<SlotInfo[]> {
    const run = (async () => {
      await this.sampling;
      try {
        const over = (await listSlots(this.conn)).filter(
          (slot) =>
            (!this.slots || this.slots.has(slot.slotName)) &&
            ((slot.retainedBytes ?? 0) >= this.thresholdBytes || slot.walStatus === 'lost'),
        );
        for (const slot of over)
          this.emit('retained', { ...slot, thresholdBytes: this.thresholdBytes });
        return over;
      } catch (error) {
        if (this.listenerCount('error') > 0) {
          this.emit('error', error instanceof Error ? error : new Error(String(error)));
        }
        return [];
      }
    })();
    this.sampling = run.then(() => undefined);
    return run;
  }

  /** Stops sampling. */
  close(): void {
    clearInterval(this.timer);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Starts a SlotWatcher on `conn` (see there). */
export function watchSlots(conn: Connection, options: WatchSlotsOptions = {}): SlotWatcher {
  return new SlotWatcher(conn, options);
}
