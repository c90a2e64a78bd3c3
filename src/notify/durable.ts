import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectOptions } from '../connection/config.js';
import { connect, type RuntimeOptions } from '../connection/connect.js';
import type { Connection } from '../connection/connection.js';
import { type DurableNotifyOptions, defaultDurablePrefix } from '../connection/emit.js';
import { ConnectionError, ServerError } from '../connection/errors.js';
import { escapeIdentifier, escapeLiteral } from '../connection/escape.js';
import { Fifo } from '../connection/fifo.js';
import {
  checkLogicalReplication,
  checkSlotName,
  classifyReplicationFailure,
  createReplicationSlot,
  LogicalStream,
  ReplicationError,
} from '../connection/replication.js';
import { Waiters } from '../connection/waiters.js';
import {
  formatLsn,
  type PgoutputMessageUnion,
  type PrimaryKeepalive,
  parseLsn,
  pgTimestampToDate,
} from '../protocol/index.js';
import {
  type RetryOptions,
  type RetryPolicy,
  resolveRetryPolicy,
  retriesExhausted,
  retryDelay,
} from './retry.js';

/**
 * Durable notifications: messages written into the WAL with pg_logical_emit_message() at
 * commit, and read back in commit order from a logical replication slot with pgoutput
 * (PostgreSQL 14+, wal_level = logical). Unlike NOTIFY, nothing is lost while the consumer is
 * away, crashed, or the server restarts: the slot keeps every message until the consumer
 * acknowledges it. Delivery is at-least-once; see DurableNotification for exactly-once.
 */

/** Default publication: pgoutput needs one, and an empty one (no tables) will do. */
export const defaultDurablePublication = 'pqnotify_durable';

export {
  type DurableNotifyOptions,
  type DurableStatement,
  defaultDurablePrefix,
  durableNotifyStatement,
} from '../connection/emit.js';

/**
 * Sends a durable notification on `conn` (an ordinary connection): inside a transaction block
 * it is delivered only if that transaction commits; outside one it commits at once. Resolves
 * with the message's LSN (`16/B374D848`). Rejects with ServerError or ConnectionError;
 * throws as durableNotifyStatement() does. The server accepts it at any wal_level, but only a
 * logical slot (wal_level = logical) reads it back.
 */
export async function notifyDurable(
  conn: Connection,
  channel: string,
  payload: string | Uint8Array = '',
  options: DurableNotifyOptions = {},
): Promise<string> {
  return conn.notifyDurable(channel, payload, options);
}

/**
 * One durable notification, delivered after its transaction committed, in commit order.
 * Owns its data. `lsn` and `index` together place it in the stream for good: to process each
 * notification exactly once, store them in the same transaction as the work the notification
 * causes, and skip any item whose position is not after the stored one (compareDurablePositions).
 */
export interface DurableNotification {
  type: 'notification';
  channel: string;
  /** The payload as UTF-8 text (bytes that are not UTF-8 become U+FFFD; see `data`). */
  payload: string;
  /** The payload's bytes, as sent. */
  data: Uint8Array;
  /** The commit LSN of the sending transaction, in pg_lsn form (`16/B374D848`). */
  lsn: string;
  /** Position of this message among the durable notifications of its transaction, from 0. */
  index: number;
  /** The LSN of the message itself. */
  messageLsn: string;
  /** Commit time of the sending transaction. */
  commitTime: Date;
  /** Transaction ID of the sending transaction. */
  xid: number;
}

/**
 * Orders two stream positions (`lsn` and `index` of a DurableNotification, or ones stored from
 * it): negative when `a` comes first, 0 when equal, positive when `a` comes after `b`.
 */
export function compareDurablePositions(
  a: { lsn: string; index: number },
  b: { lsn: string; index: number },
): number {
  const x = parseLsn(a.lsn);
  const y = parseLsn(b.lsn);
  if (x !== y) return x < y ? -1 : 1;
  return a.index - b.index;
}

/** Called with each notification of its channel; may return a promise. */
export type DurableHandler = (notification: DurableNotification) => void | Promise<void>;

/** Events a DurableStream emits. */
export interface DurableStreamEvents {
  /** Streaming from the slot (after start and after each reconnect). */
  connected: [info: { processId: number; address: string; slot: string }];
  /** The stream was lost; a reconnect follows unless the stream gives up. */
  disconnected: [error: Error];
  /** A reconnect attempt is about to be made, after `delayMs`. */
  reconnecting: [info: { attempt: number; delayMs: number }];
  /** The stream gave up (a ReplicationError, a wrong password, the attempt limit) or a handler threw. */
  error: [error: Error];
}

/**
 * Options of openDurableStream(), on top of connect()'s; reconnects follow the Listener's
 * retry policy (RetryOptions: 250 ms doubling to 30 s, with jitter, never giving up).
 */
export interface DurableStreamOptions extends ConnectOptions, RuntimeOptions, RetryOptions {
  /** The replication slot (lower-case letters, digits, underscores). */
  slot: string;
  /** Message prefix before the channel; default `pqnotify:` (must match the senders'). */
  prefix?: string;
  /** Only these channels; others are skipped (and acknowledged with what surrounds them). */
  channels?: readonly string[];
  /** The publication pgoutput is started with; created (empty) if missing. */
  publication?: string;
  /**
   * `permanent` (default): create the slot if missing; it outlives this process and keeps WAL
   * until acknowledged, so drop it when it is no longer used. `temporary`: a slot that lives
   * only as long as one connection (nothing survives a reconnect). `never`: the slot must exist.
   */
  createSlot?: 'permanent' | 'temporary' | 'never';
  /**
   * `auto` (default): an item counts as acknowledged when the loop body (or every handler) for
   * it has returned; `manual`: only ack() and ackLsn() acknowledge.
   */
  ack?: 'auto' | 'manual';
  /** Standby status updates (and a request for a keepalive) this often; default 10 s. */
  statusIntervalMs?: number;
  /** Replace a connection that has been silent this long; default 3 × statusIntervalMs. */
  livenessTimeoutMs?: number;
  /** The jitter's random source, a number in [0, 1) (default Math.random); for tests. */
  random?: () => number;
  /**
   * Most decoded items waiting to be consumed before the stream stops reading the connection
   * (TCP backpressure: the server waits) until they fall to half; default 10 000. Catching up
   * on a long backlog then takes bounded memory.
   */
  highWaterMark?: number;
  /**
   * Skip every item at or before this position: the `lsn` and `index` of the last item the
   * application finished with, stored by it (see DurableNotification).
   */
  after?: { lsn: string; index: number };
}

/** A handler registration from DurableStream.listen(). */
export interface DurableSubscription {
  readonly channel: string;
  /** Removes the handler. */
  unlisten(): void;
  [Symbol.dispose](): void;
}

/** How long close() waits for the server to end the replication command. */
const STOP_PATIENCE_MS = 2000;

/** Keepalives that ask for a reply this soon after the previous one count as rapid. */
const RAPID_PING_MS = 50;
/** This many rapid keepalives in a row: the server is shutting down (see shuttingDown). */
const RAPID_PINGS = 20;

/** Where acknowledging a delivered item moves the slot. */
interface Mark {
  /** The last item delivered before this position (0: none). */
  seq: number;
  /** The commit LSN of the transaction (or the position itself, for a keepalive). */
  commitLsn: bigint;
  /** What the slot may be confirmed to once `seq` is acknowledged. */
  lsn: bigint;
}

/** Stream bookkeeping of an item, kept off the object the application sees. */
interface ItemPosition {
  seq: number;
  commitLsn: bigint;
  index: number;
}

interface OpenTransaction {
  xid: number;
  commitTime: bigint;
  items: { channel: string; data: Uint8Array; lsn: bigint }[];
}

/**
 * A durable notification stream on one replication slot. Items come in commit order through
 * an async iterator or per-channel handlers (one or the other), each item after its
 * transaction committed. Acknowledged positions reach the server with each standby status
 * update (every `statusIntervalMs`, and at once with flush()); after a disconnect, a crash of
 * this process or a server restart, delivery resumes after the last acknowledgement the server
 * received. Within one DurableStream, an item delivered before a reconnect is not delivered
 * again. Decoded items wait in memory until consumed, up to `highWaterMark`: then reading
 * stops until the consumer catches up. Create with openDurableStream().
 */
export class DurableStream extends EventEmitter<DurableStreamEvents> {
  private readonly conninfo: string | ConnectOptions | undefined;
  private readonly connectOptions: ConnectOptions & RuntimeOptions;
  private readonly slot: string;
  private readonly prefix: string;
  private readonly channelFilter: Set<string> | undefined;
  private readonly publication: string;
  private readonly createSlot: 'permanent' | 'temporary' | 'never';
  private readonly autoAck: boolean;
  private readonly statusIntervalMs: number;
  private readonly livenessTimeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly random: () => number;
  private readonly highWaterMark: number;
  /** True while reading is held because `highWaterMark` items wait. */
  private holding = false;

  private conn: Connection | undefined;
  private logical: LogicalStream | undefined;
  private readonly queue = new Fifo<DurableNotification>();
  private readonly positions = new WeakMap<DurableNotification, ItemPosition>();
  private marks: Mark[] = [];
  private marksHead = 0;
  private tx: OpenTransaction | undefined;
  private seq = 0;
  private deliveredSeq = 0;
  private ackedSeq = 0;
  /** The last item queued (or delivered, after a reconnect): redelivered items up to it are skipped. */
  private lastQueued: { commitLsn: bigint; index: number } = { commitLsn: 0n, index: -1 };
  private lastDelivered: { commitLsn: bigint; index: number } = { commitLsn: 0n, index: -1 };
  private confirmedLsn = 0n;
  private lastInput = Date.now();
  private lastPing = 0;
  private rapidPings = 0;
  private liveness: NodeJS.Timeout | undefined;
  /** The reader waiting in take(): woken by a new item, the end, or its signal. */
  private readonly arrivals = new Waiters();
  /** flush() calls waiting for the server's answer (a keepalive); failed at a disconnect. */
  private readonly flushes = new Waiters();
  private readonly handlers = new Map<string, Set<DurableHandler>>();
  private handlerLoop: Promise<void> | undefined;
  private iterating = false;
  private failure: Error | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly abort = new AbortController();

  /** Use openDurableStream(). */
  constructor(conninfo: string | ConnectOptions | undefined, options: DurableStreamOptions) {
    super();
    const {
      slot,
      prefix,
      channels,
      publication,
      createSlot,
      ack,
      statusIntervalMs,
      livenessTimeoutMs,
      reconnectInitialDelayMs,
      reconnectMaxDelayMs,
      reconnectMaxAttempts,
      random,
      after,
      highWaterMark,
      ...connectOptions
    } = options;
    checkSlotName(slot);
    this.conninfo = conninfo;
    this.connectOptions = { ...connectOptions, replication: 'database' };
    this.slot = slot;
    this.prefix = prefix ?? defaultDurablePrefix;
    this.channelFilter = channels ? new Set(channels) : undefined;
    this.publication = publication ?? defaultDurablePublication;
    this.createSlot = createSlot ?? 'permanent';
    this.autoAck = (ack ?? 'auto') === 'auto';
    this.statusIntervalMs = statusIntervalMs ?? 10_000;
    this.livenessTimeoutMs = livenessTimeoutMs ?? 3 * this.statusIntervalMs;
    this.highWaterMark = highWaterMark ?? 10_000;
    if (after) {
      this.lastDelivered = { commitLsn: parseLsn(after.lsn), index: after.index };
      this.lastQueued = this.lastDelivered;
    }
    this.retry = resolveRetryPolicy({
      reconnectInitialDelayMs,
      reconnectMaxDelayMs,
      reconnectMaxAttempts,
    });
    this.random = random ?? Math.random;
  }

  /** The slot's position this stream has confirmed to the server, in pg_lsn form. */
  get confirmed(): string {
    return formatLsn(this.confirmedLsn);
  }

  /** Items received and not yet delivered. */
  get pending(): number {
    return this.queue.length;
  }

  /** The backend pid of the walsender serving this stream, or 0 while reconnecting. */
  get processId(): number {
    return this.conn?.backendPid ?? 0;
  }

  /**
   * Connects, checks the server, creates the publication and (unless `createSlot: 'never'`)
   * the slot if missing, and starts streaming. Rejects with ReplicationError (wal_level, role,
   * slots or WAL senders exhausted, server older than 14, missing slot), ConnectionError or
   * ServerError; nothing is retried.
   */
  async start(): Promise<void> {
    await this.open();
    this.liveness = setInterval(
      () => this.checkLiveness(),
      Math.max(50, this.statusIntervalMs / 2),
    );
    this.liveness.unref();
  }

  /**
   * Calls `handler` for each notification of `channel` ('*' for every channel), in commit
   * order, one at a time: the next item waits until the handler's promise settles. With
   * automatic acknowledgement an item is acknowledged once its handlers have returned; items no
   * handler wants are acknowledged as they pass. A handler that throws closes the stream with
   * its item unacknowledged (and emits `error` when someone listens for it), so the item
   * comes again on the next start. Throws if an iterator is in use.
   */
  listen(channel: string, handler: DurableHandler): DurableSubscription {
    if (this.iterating)
      throw new Error('this durable stream is read by an iterator; use one or the other');
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
    }
    set.add(handler);
    this.handlerLoop ??= this.runHandlers();
    const unlisten = () => {
      const current = this.handlers.get(channel);
      current?.delete(handler);
      if (current?.size === 0) this.handlers.delete(channel);
    };
    return { channel, unlisten, [Symbol.dispose]: unlisten };
  }

  /**
   * The notifications in commit order. With automatic acknowledgement, each item is
   * acknowledged when the next is asked for, that is when the loop body for it has returned;
   * the item in hand when the loop is left (break or exception) is not: ack() it if it was
   * handled. Ends without error on close(); throws the error the stream gave up with. Only one
   * iterator at a time, and not together with listen().
   */
  [Symbol.asyncIterator](): AsyncGenerator<DurableNotification, void, undefined> {
    return this.iterate();
  }

  /** Like iterating the stream, with an AbortSignal that ends the iteration without error. */
  async *iterate(
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<DurableNotification, void, undefined> {
    if (this.iterating || this.handlerLoop) {
      throw new Error('this durable stream already has a reader (an iterator or handlers)');
    }
    this.iterating = true;
    const { signal } = options;
    const onAbort = () => this.signal();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const item = await this.take(signal);
        if (!item) return;
        yield item;
        if (this.autoAck) this.ack(item);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.iterating = false;
    }
  }

  /**
   * Acknowledges `item` and everything delivered before it. Synchronous; the position reaches
   * the server with the next status update (see flush()). Throws RangeError for an item this
   * stream has not delivered.
   */
  ack(item: DurableNotification): void {
    const position = this.positions.get(item);
    if (!position || position.seq > this.deliveredSeq) {
      throw new RangeError('ack() takes an item this stream has delivered');
    }
    if (position.seq > this.ackedSeq) this.ackedSeq = position.seq;
    this.advance();
  }

  /**
   * Acknowledges every delivered item whose commit LSN is at or before `lsn` (pg_lsn text).
   * Throws RangeError for malformed text.
   */
  ackLsn(lsn: string): void {
    const bound = parseLsn(lsn);
    while (this.marksHead < this.marks.length) {
      const mark = this.marks[this.marksHead] as Mark;
      if (mark.commitLsn > bound || mark.seq > this.deliveredSeq) break;
      if (mark.seq > this.ackedSeq) this.ackedSeq = mark.seq;
      this.confirm(mark.lsn);
      this.marksHead++;
    }
    this.compactMarks();
  }

  /**
   * Sends a standby status update now, asking the server to answer, and resolves when it has
   * answered: the acknowledgements made before the call are then recorded in the slot (in the
   * server's memory; a checkpoint or clean shutdown writes them to disk, so after a server
   * crash a few acknowledged items may come again). Rejects with ConnectionError when there is
   * no live connection. While reading is held by `highWaterMark`, the answer waits until the
   * consumer has caught up to half of it.
   */
  async flush(): Promise<void> {
    const logical = this.logical;
    if (!logical || this.closed) {
      throw (
        this.failure ??
        new ConnectionError('CONNECTION_LOST', 'the durable stream is not connected')
      );
    }
    if (!logical.sendStatus(true)) {
      throw new ConnectionError('CONNECTION_LOST', 'the durable stream is not connected');
    }
    await this.flushes.wait();
  }

  /**
   * Stops streaming: sends the acknowledged position, ends iterators and handlers, and closes
   * the connection. The slot stays (drop it with `pqnotify slots --drop` or dropSlot() when
   * done). Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown(undefined);
    return this.closing;
  }

  /** `await using stream = await openDurableStream(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async shutdown(error: Error | undefined): Promise<void> {
    this.closed = true;
    this.failure ??= error;
    this.abort.abort();
    if (this.liveness) clearInterval(this.liveness);
    this.signal();
    const conn = this.conn;
    const logical = this.logical;
    this.conn = undefined;
    this.logical = undefined;
    if (logical && conn?.status === 'ok') {
      // A last status update and CopyDone; a server that does not answer soon is left.
      const patience = new AbortController();
      try {
        await Promise.race([
          logical.stop(),
          sleep(STOP_PATIENCE_MS, undefined, { signal: patience.signal }),
        ]);
      } catch {
        // The connection is going away anyway.
      } finally {
        patience.abort();
      }
    }
    await conn?.close();
    await this.handlerLoop;
  }

  private async open(): Promise<void> {
    let conn: Connection;
    try {
      conn = await connect(this.conninfo, this.connectOptions);
    } catch (error) {
      throw classifyReplicationFailure(error);
    }
    try {
      await checkLogicalReplication(conn);
      await this.ensurePublication(conn);
      await this.ensureSlot(conn);
      this.lastInput = Date.now();
      const logical = await LogicalStream.start(conn, {
        slot: this.slot,
        publications: [this.publication],
        onMessage: this.onMessage,
        onKeepalive: this.onKeepalive,
        statusIntervalMs: this.statusIntervalMs,
        requestReplies: true,
      });
      if (this.closed) {
        await conn.close();
        return;
      }
      // Positions acknowledged before a reconnect go out with the first status update.
      logical.confirm(this.confirmedLsn);
      this.conn = conn;
      this.logical = logical;
      logical.done.then(
        () =>
          this.lost(
            logical,
            new ConnectionError('CONNECTION_LOST', 'the server ended the replication stream'),
          ),
        (error: Error) => this.lost(logical, error),
      );
      this.emit('connected', {
        processId: conn.backendPid,
        address: conn.address,
        slot: this.slot,
      });
    } catch (error) {
      conn.destroy();
      throw error;
    }
  }

  private async ensurePublication(conn: Connection): Promise<void> {
    const found = await conn.exec(
      `SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = ${escapeLiteral(this.publication)}`,
    );
    if (found.rows.length > 0) return;
    try {
      await conn.exec(`CREATE PUBLICATION ${escapeIdentifier(this.publication)}`);
    } catch (error) {
      if (!(error instanceof ServerError && error.sqlState === '42710')) throw error;
    }
  }

  private async ensureSlot(conn: Connection): Promise<void> {
    const found = await conn.exec(
      'SELECT slot_type, plugin, database, wal_status, database = current_database() ' +
        `FROM pg_catalog.pg_replication_slots WHERE slot_name = ${escapeLiteral(this.slot)}`,
    );
    const row = found.rows[0];
    if (row) {
      const [type, plugin, database, walStatus, sameDatabase] = row;
      if (type !== 'logical' || plugin !== 'pgoutput' || sameDatabase !== 't') {
        throw new ReplicationError(
          'REPLICATION_SLOT_INVALID',
          `replication slot "${this.slot}" is a ${type} slot with plugin ${plugin ?? 'none'} on database ${database ?? 'none'}; durable notifications need a logical pgoutput slot on this database`,
        );
      }
      if (walStatus === 'lost') {
        throw new ReplicationError(
          'REPLICATION_SLOT_INVALID',
          `replication slot "${this.slot}" was invalidated (it kept more WAL than max_slot_wal_keep_size allows): messages were lost; drop it and create it again`,
        );
      }
      return;
    }
    if (this.createSlot === 'never') {
      throw new ReplicationError(
        'REPLICATION_SLOT_MISSING',
        `replication slot "${this.slot}" does not exist; create it (pqnotify listen --durable --slot ${this.slot} creates it) or allow createSlot`,
      );
    }
    try {
      await createReplicationSlot(conn, this.slot, { temporary: this.createSlot === 'temporary' });
    } catch (error) {
      if (!(error instanceof ServerError && error.sqlState === '42710')) throw error;
    }
  }

  /** pgoutput messages, from the connection's read loop. */
  private readonly onMessage = (message: PgoutputMessageUnion): void => {
    this.lastInput = Date.now();
    switch (message.type) {
      case 'Begin':
        this.tx = { xid: message.xid, commitTime: message.commitTime, items: [] };
        return;
      case 'Message': {
        const tx = this.tx;
        if (!tx || !message.transactional || !message.prefix.startsWith(this.prefix)) return;
        const channel = message.prefix.slice(this.prefix.length);
        if (this.channelFilter && !this.channelFilter.has(channel)) return;
        tx.items.push({ channel, data: message.content, lsn: message.lsn });
        return;
      }
      case 'Commit': {
        const tx = this.tx;
        this.tx = undefined;
        if (tx) this.commit(tx, message.commitLsn, message.endLsn, message.commitTime);
        return;
      }
      default:
        return;
    }
  };

  private readonly onKeepalive = (keepalive: PrimaryKeepalive): void => {
    this.lastInput = Date.now();
    if (keepalive.replyRequested && this.shuttingDown()) return;
    // Between transactions, everything before the server's position has been sent: once the
    // items before it are acknowledged, the slot may move there.
    if (!this.tx) this.mark(this.seq, keepalive.walEnd, keepalive.walEnd);
    this.advance();
    this.flushes.wake();
  };

  /**
   * At a fast shutdown, a WAL sender waits until its client confirms everything it sent, asking
   * again as soon as each reply comes; unacknowledged items keep the confirmation back, and
   * the server would hang until wal_sender_timeout. That ping-pong is the sign: the stream then
   * lets go of the connection (the items come again after the restart) and reconnects.
   */
  private shuttingDown(): boolean {
    const now = performance.now();
    this.rapidPings = now - this.lastPing < RAPID_PING_MS ? this.rapidPings + 1 : 0;
    this.lastPing = now;
    const conn = this.conn;
    if (this.rapidPings < RAPID_PINGS || !conn) return false;
    conn.destroy(
      new ConnectionError(
        'CONNECTION_LOST',
        `${conn.address} is shutting down and waits for unacknowledged items; reconnecting`,
      ),
    );
    return true;
  }

  private commit(tx: OpenTransaction, commitLsn: bigint, endLsn: bigint, commitTime: bigint): void {
    const lsnText = formatLsn(commitLsn);
    const date = pgTimestampToDate(commitTime);
    let added = false;
    tx.items.forEach((raw, index) => {
      const last = this.lastQueued;
      if (commitLsn < last.commitLsn || (commitLsn === last.commitLsn && index <= last.index))
        return;
      const item: DurableNotification = {
        type: 'notification',
        channel: raw.channel,
        payload: Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength).toString(
          'utf8',
        ),
        data: raw.data,
        lsn: lsnText,
        index,
        messageLsn: formatLsn(raw.lsn),
        commitTime: date,
        xid: tx.xid,
      };
      this.seq++;
      this.positions.set(item, { seq: this.seq, commitLsn, index });
      this.lastQueued = { commitLsn, index };
      this.queue.push(item);
      added = true;
    });
    this.mark(this.seq, commitLsn, endLsn);
    this.advance();
    if (added) this.signal();
    if (!this.holding && this.queue.length >= this.highWaterMark) {
      this.holding = true;
      this.conn?.holdInput(true);
    }
  }

  /** Reads again once the waiting items have fallen to half the high-water mark. */
  private release(): void {
    if (!this.holding || this.queue.length > this.highWaterMark / 2) return;
    this.holding = false;
    this.lastInput = Date.now();
    this.conn?.holdInput(false);
  }

  /** Records that the slot may move to `lsn` once item `seq` is acknowledged. */
  private mark(seq: number, commitLsn: bigint, lsn: bigint): void {
    const tail = this.marksHead < this.marks.length ? this.marks[this.marks.length - 1] : undefined;
    if (lsn <= (tail ? tail.lsn : this.confirmedLsn)) return;
    if (tail && tail.seq === seq) {
      tail.lsn = lsn;
      tail.commitLsn = commitLsn;
      return;
    }
    this.marks.push({ seq, commitLsn, lsn });
  }

  /** Confirms every mark whose items are all acknowledged. */
  private advance(): void {
    while (this.marksHead < this.marks.length) {
      const mark = this.marks[this.marksHead] as Mark;
      if (mark.seq > this.ackedSeq) break;
      this.confirm(mark.lsn);
      this.marksHead++;
    }
    this.compactMarks();
  }

  private compactMarks(): void {
    if (this.marksHead === this.marks.length) {
      this.marks = [];
      this.marksHead = 0;
    } else if (this.marksHead > 1024 && this.marksHead * 2 > this.marks.length) {
      this.marks = this.marks.slice(this.marksHead);
      this.marksHead = 0;
    }
  }

  private confirm(lsn: bigint): void {
    if (lsn <= this.confirmedLsn) return;
    this.confirmedLsn = lsn;
    this.logical?.confirm(lsn);
  }

  /** The next item, waiting for one; undefined when the stream is closed or the signal aborts. */
  private async take(signal?: AbortSignal): Promise<DurableNotification | undefined> {
    for (;;) {
      const item = this.queue.shift();
      if (item) {
        this.release();
        const position = this.positions.get(item) as ItemPosition;
        this.deliveredSeq = position.seq;
        this.lastDelivered = { commitLsn: position.commitLsn, index: position.index };
        return item;
      }
      if (this.failure) throw this.failure;
      if (this.closed || signal?.aborted) return undefined;
      await this.arrivals.wait();
    }
  }

  private signal(): void {
    this.arrivals.wake();
  }

  private async runHandlers(): Promise<void> {
    for (;;) {
      let item: DurableNotification | undefined;
      try {
        item = await this.take();
      } catch {
        return;
      }
      if (!item) return;
      const wanted = [
        ...(this.handlers.get(item.channel) ?? []),
        ...(this.handlers.get('*') ?? []),
      ];
      try {
        for (const handler of wanted) await handler(item);
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        this.closing ??= this.shutdown(failure);
        if (this.listenerCount('error') > 0) this.emit('error', failure);
        return;
      }
      if (this.autoAck || wanted.length === 0) this.ack(item);
    }
  }

  private checkLiveness(): void {
    const conn = this.conn;
    if (!conn || this.closed || this.holding) return;
    if (Date.now() - this.lastInput > this.livenessTimeoutMs) {
      conn.destroy(
        new ConnectionError(
          'CONNECTION_LOST',
          `no answer from ${conn.address} for ${this.livenessTimeoutMs} ms; replacing the connection`,
        ),
      );
    }
  }

  /** The stream of `logical` ended: forget what was not delivered, then reconnect. */
  private lost(logical: LogicalStream, error: Error): void {
    if (this.logical !== logical || this.closed) return;
    const conn = this.conn;
    this.conn = undefined;
    this.logical = undefined;
    conn?.destroy();
    this.tx = undefined;
    // Undelivered items come again from the slot; marks beyond the delivered ones go with them.
    while (this.queue.shift() !== undefined);
    this.holding = false;
    this.marks = this.marks.slice(this.marksHead).filter((mark) => mark.seq <= this.deliveredSeq);
    this.marksHead = 0;
    this.lastQueued = this.lastDelivered;
    this.seq = this.deliveredSeq;
    this.flushes.fail(error);
    this.emit('disconnected', error);
    void this.reconnectLoop();
  }

  private async reconnectLoop(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) return;
      const delayMs = retryDelay(this.retry, attempt, this.random);
      this.emit('reconnecting', { attempt, delayMs });
      try {
        if (delayMs > 0) await sleep(delayMs, undefined, { signal: this.abort.signal });
        await this.open();
        return;
      } catch (error) {
        if (this.closed) return;
        const failure = error instanceof Error ? error : new Error(String(error));
        const fatal =
          failure instanceof ReplicationError ||
          (failure instanceof ConnectionError &&
            (failure.code === 'CONNECTION_AUTH' || failure.code === 'CONNECTION_CONFIG'));
        if (fatal || retriesExhausted(this.retry, attempt)) {
          this.closing ??= this.shutdown(failure);
          await this.closing;
          if (this.listenerCount('error') > 0) this.emit('error', failure);
          return;
        }
      }
    }
  }
}

/**
 * Opens a durable notification stream on `options.slot` and resolves once it streams (see
 * DurableStream.start for what it checks and creates, and what it rejects with). Later losses
 * are retried with backoff.
 */
export async function openDurableStream(
  conninfo: string | ConnectOptions | undefined,
  options: DurableStreamOptions,
): Promise<DurableStream> {
  const stream = new DurableStream(conninfo, options);
  try {
    await stream.start();
  } catch (error) {
    await stream.close();
    throw error;
  }
  return stream;
}
