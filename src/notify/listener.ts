import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkChannel, checkPayload } from '../connection/channels.js';
import type { ConnectOptions } from '../connection/config.js';
import { connect, type RuntimeOptions } from '../connection/connect.js';
import type { Connection } from '../connection/connection.js';
import { resolveConfig } from '../connection/conninfo.js';
import { type DurableNotifyOptions, durableNotifyStatement } from '../connection/emit.js';
import { ConnectionError, ServerError } from '../connection/errors.js';
import { escapeIdentifier } from '../connection/escape.js';
import { Fifo } from '../connection/fifo.js';
import { PullIterator } from '../connection/pull-iterator.js';
import type { Notification } from '../connection/types.js';
import { Waiters } from '../connection/waiters.js';
import type { NoticeFields } from '../protocol/fields.js';
import {
  type RetryOptions,
  type RetryPolicy,
  resolveRetryPolicy,
  retriesExhausted,
  retryDelay,
} from './retry.js';
import { SUBSCRIPTION_CHECK, SubscriptionCheck } from './subscription.js';

/** A notification as the Listener delivers it: tagged, so it can be told from a gap. */
export interface ListenerNotification extends Notification {
  type: 'notification';
}

/**
 * Placed in the stream after a reconnect, once the LISTENs on the new connection have
 * committed and before any notification received on it (only the Listener's read loop
 * delivers, and it places the marker first): notifications sent while the listener was away
 * may be lost, so re-read the state they describe. Everything after the marker is delivered;
 * re-reading after it misses nothing.
 */
export interface GapMarker {
  type: 'gap';
  /** Why the previous connection ended (the message of `error`). */
  reason: string;
  /** The error that ended the previous connection. */
  error: ConnectionError;
  /**
   * From the last input received on the old connection (`lastInputAt`) to the commit of the
   * LISTENs on the new one: the whole time nothing could be received, including the silence
   * before a half-open connection was found out, not only the reconnect.
   */
  downtimeMs: number;
  /** When the last whole message came on the old connection (ms since the epoch). */
  lastInputAt: number;
  /** Backend pid of the lost connection. */
  previousProcessId: number;
  /** Backend pid of the new connection. */
  processId: number;
  /** The channels listened on the new connection. */
  channels: string[];
}

/** What a Listener's iterators yield. */
export type ListenerItem = ListenerNotification | GapMarker;

/**
 * A handler given to listen(): called synchronously with each notification of its channel.
 * If it throws, the stream goes on: see the `handlerError` event.
 */
export type NotificationHandler = (notification: ListenerNotification) => void;

/** A server notice, with the percentage when it is the "NOTIFY queue is N% full" warning. */
export interface ListenerNotice {
  fields: NoticeFields;
  queueFullPercent: number | undefined;
}

/**
 * Where a Listener is: `connecting` until the first connection listens, `listening` while a
 * connection is up, `reconnecting` from a loss to the next connection that listens, `closed`
 * after close(), `failed` once it gave up (see the `error` event).
 */
export type ListenerState = 'connecting' | 'listening' | 'reconnecting' | 'closed' | 'failed';

/** What threw, in a `handlerError` event. */
export interface HandlerErrorSource {
  /** The notification a NotificationHandler was given when it threw. */
  notification?: ListenerNotification;
  /** The Listener event whose listener threw. */
  event?: keyof ListenerEvents;
}

/** Events a Listener emits. */
export interface ListenerEvents {
  /** A new connection is listening (after start and after each reconnect). */
  connected: [info: { processId: number; address: string }];
  /** The connection was lost; a reconnect follows unless the listener gives up. */
  disconnected: [error: ConnectionError];
  /**
   * A connection attempt is about to be made, after `delayMs`; `attempt` counts from 1 in
   * each outage (the first connection is attempt 1 with retryInitialConnect, so the first
   * event of a startup is attempt 2). `error` is why it is needed: the loss, for attempt 1,
   * else the failure of the attempt before (a refusal, a timeout, a LISTEN that failed).
   */
  reconnecting: [info: { attempt: number; delayMs: number; error: ConnectionError }];
  /** The gap marker, for handler users (iterators get it in the stream). */
  gap: [gap: GapMarker];
  /** Reading stopped (paused) or resumed because of the high-water mark. */
  backpressure: [info: { paused: boolean; pending: number }];
  /** pg_notification_queue_usage() at or over the threshold. */
  queueUsage: [info: { usage: number; threshold: number }];
  /** A NoticeResponse on the listener's connection. */
  notice: [notice: ListenerNotice];
  /**
   * A NotificationHandler, or a listener of another event, threw. The item was still given
   * to every other handler and iterator, and the connection goes on. Without a listener for
   * this event, the error is rethrown in a later tick, where Node reports it as an uncaught
   * exception (as for an 'error' event nobody listens to), so it is never swallowed. An
   * error thrown by a `handlerError` listener is rethrown that way too.
   */
  handlerError: [error: unknown, source: HandlerErrorSource];
  /** The listener gave up (reconnect limit, wrong password, ...) and is closed. */
  error: [error: ConnectionError];
}

/** Time and randomness for the Listener's retries; replace them in tests. */
export interface ListenerClock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
  /** Resolves after `ms` milliseconds; rejects when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** A number in [0, 1), as Math.random(), for the jitter. */
  random(): number;
}

/** The real clock: Date.now, timers, Math.random. */
const systemClock: ListenerClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
  random: () => Math.random(),
};

/** Options of createListener(), on top of connect()'s. */
export interface ListenerOptions extends ConnectOptions, RuntimeOptions, RetryOptions {
  /**
   * Also retry the first connection, with the reconnect policy, instead of rejecting at the
   * first failure: createListener() then resolves once a server answers (for a database that
   * is still starting, as under docker compose), emitting `reconnecting` per failed attempt,
   * and rejects only when the listener gives up. A wrong password or a bad setting still
   * fails at once. Default false.
   */
  retryInitialConnect?: boolean;
  /**
   * A heartbeat query after this long without a whole message from the server; default 30 s;
   * 0 turns it off. Only whole messages count: bytes of a frame that never completes (a
   * corrupt length) do not keep a dead connection alive.
   *
   * While reading is paused by `highWaterMark` the heartbeat goes on, in another form: a query
   * cannot serve, because the backend answers it only after sending every notification it
   * still holds for this listener, the backlog the pause is keeping out of memory. So each
   * heartbeat due while paused takes only what the socket has already buffered (at most
   * 128 KiB, or the TLS stream's read buffer: some tens of KiB) into the iterators, and
   * counts a new whole message within `heartbeatTimeoutMs` as a sign of life: a backend with
   * more to send was blocked on the full TCP window and sends again once there is room. When
   * none comes, the backend has nothing in flight for this listener, so the heartbeat query is
   * sent, and its answer comes after only what is notified meanwhile. A half-open connection
   * is thus replaced while paused, as when reading. These reads let at most `highWaterMark`
   * more notifications through during one pause (plus the read that crosses the limit), so
   * memory stays bounded when the consumer stops for good. The price: input the operating
   * system had buffered before the peer died also passes for a sign of life, and once the
   * allowance is used up nothing more is read; then only TCP keepalive (on by default)
   * notices a dead peer before reading resumes.
   */
  heartbeatIntervalMs?: number;
  /**
   * The heartbeat must be answered within this, or the connection is replaced; default 10 s.
   * Also the default connect timeout (rounded up to whole seconds, at least 2, as libpq's
   * connect_timeout) of every connection attempt when connect_timeout is not set or 0: the
   * Listener never waits without a deadline for TCP, TLS and the startup exchange.
   */
  heartbeatTimeoutMs?: number;
  /**
   * Most received-but-unconsumed items in an iterator before the listener stops reading the
   * socket (real TCP backpressure) until they fall to half; default unbounded, like libpq.
   * The heartbeat still reads a little while paused: see `heartbeatIntervalMs`.
   */
  highWaterMark?: number;
  /** Sample pg_notification_queue_usage() this often; default 0 (off). */
  queueUsageIntervalMs?: number;
  /** The `queueUsage` event fires at or over this fraction; default 0.5. */
  queueUsageThreshold?: number;
  /** Time and randomness for retries (default: the system's); for deterministic tests. */
  clock?: ListenerClock;
}

/** A Listener's options with every default applied, resolved once (listenerSettings). */
interface ListenerSettings {
  retry: RetryPolicy;
  retryInitialConnect: boolean;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  highWaterMark: number;
  queueUsageIntervalMs: number;
  queueUsageThreshold: number;
  clock: ListenerClock;
  /** What every connection attempt passes to connect(). */
  connect: ConnectOptions & RuntimeOptions;
}

function listenerSettings(
  conninfo: string | ConnectOptions | undefined,
  options: ListenerOptions,
): ListenerSettings {
  const {
    reconnectInitialDelayMs,
    reconnectMaxDelayMs,
    reconnectMaxAttempts,
    retryInitialConnect = false,
    heartbeatIntervalMs = 30_000,
    heartbeatTimeoutMs = 10_000,
    highWaterMark = Number.POSITIVE_INFINITY,
    queueUsageIntervalMs = 0,
    queueUsageThreshold = 0.5,
    clock = systemClock,
    ...rest
  } = options;
  const retry = resolveRetryPolicy({
    ...(reconnectInitialDelayMs === undefined ? {} : { reconnectInitialDelayMs }),
    ...(reconnectMaxDelayMs === undefined ? {} : { reconnectMaxDelayMs }),
    ...(reconnectMaxAttempts === undefined ? {} : { reconnectMaxAttempts }),
  });
  const connect: ConnectOptions & RuntimeOptions = {
    targetSessionAttrs: 'primary',
    keepalives: true,
    keepalivesIdle: 30,
    ...rest,
  };
  const { dialer: _dialer, onWarning: _onWarning, ...connectOnly } = connect;
  if (resolveConfig(conninfo, connectOnly).connectTimeout === 0)
    connect.connectTimeout = Math.max(2, Math.ceil(heartbeatTimeoutMs / 1000));
  return {
    retry,
    retryInitialConnect,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    highWaterMark,
    queueUsageIntervalMs,
    queueUsageThreshold,
    clock,
    connect,
  };
}

/** A Subscription returned by listen(); unlisten() (or `await using`) ends it. */
export interface Subscription {
  readonly channel: string;
  /** Ends this subscription; the channel is UNLISTENed when its last subscription ends. */
  unlisten(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of Listener.stream(). */
export interface StreamOptions {
  /** Only notifications of these channels (gap markers always come through). */
  channels?: readonly string[];
  /** Aborting ends the iteration without an error. */
  signal?: AbortSignal;
  /** Ends the iteration when nothing arrives for this many milliseconds. */
  idleTimeout?: number;
}

/** One iterator's queue: what the read loop delivered and the iterator has not taken yet. */
class Sink {
  readonly queue = new Fifo<ListenerItem>();
  readonly channels: Set<string> | undefined;
  /** The iterator waiting for an item (or for the end). */
  readonly arrivals = new Waiters();

  constructor(channels: readonly string[] | undefined) {
    this.channels = channels ? new Set(channels) : undefined;
  }

  push(item: ListenerItem): void {
    this.queue.push(item);
    this.arrivals.wake();
  }
}

const queueFullPattern = /NOTIFY queue is (\d+)% full/;

function asConnectionError(error: unknown): ConnectionError {
  if (error instanceof ConnectionError) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new ConnectionError('CONNECTION_LOST', `listener connection lost: ${text}`, {
    cause: error,
  });
}

/** Rethrows `error` in a later tick, where Node reports it as an uncaught exception. */
function reportUncaught(error: unknown): void {
  process.nextTick(() => {
    throw error;
  });
}

/**
 * A notification stream on one dedicated connection that survives faults: it reconnects
 * (backoff with jitter, through the whole host list, to a primary), re-LISTENs every
 * subscribed channel and then places a gap marker in the stream, detects a silent
 * connection with a heartbeat, and can apply backpressure. Every connection attempt has a
 * deadline; handlers and event listeners that throw cannot end the connection (see
 * `handlerError`). Create with createListener().
 */
export class Listener extends EventEmitter<ListenerEvents> {
  private readonly conninfo: string | ConnectOptions | undefined;
  private readonly settings: ListenerSettings;
  private conn: Connection | undefined;
  /** Why the current connection ended, once it has (set from its 'close' event). */
  private connError: ConnectionError | undefined;
  /** receivedMessages of the current connection when last looked at. */
  private seenMessages = 0;
  private readonly desired = new Map<string, number>();
  private readonly actual = new Set<string>();
  private readonly handlers = new Map<string, Set<NotificationHandler>>();
  private readonly sinks = new Set<Sink>();
  /** Waits in until(): woken at each state change. */
  private readonly stateChanges = new Waiters();
  private readonly abort = new AbortController();
  private reconciling: Promise<void> = Promise.resolve();
  private paused = false;
  /** Notifications the heartbeat has read during the current pause (see heartbeatIntervalMs). */
  private readWhilePaused = 0;
  /** waitResume(): woken when reading resumes or the listener closes. */
  private readonly resumes = new Waiters();
  private closed = false;
  private failure: ConnectionError | undefined;
  private sampler: NodeJS.Timeout | undefined;
  private samplerConn: Connection | undefined;
  private sampling = false;
  private closing: Promise<void> | undefined;
  private readonly subscription = new SubscriptionCheck(() => this.open());
  private currentState: ListenerState = 'connecting';
  private since: number | undefined;
  private lastInput: number | undefined;

  /**
   * Use createListener(). Resolves the options once (defaults, retry policy, connect
   * timeout); throws RangeError for a bad retry setting, ConnectionError for a bad conninfo.
   */
  constructor(conninfo: string | ConnectOptions | undefined, options: ListenerOptions = {}) {
    super();
    this.conninfo = conninfo;
    this.settings = listenerSettings(conninfo, options);
  }

  /** Where the listener is: see ListenerState. */
  get state(): ListenerState {
    return this.currentState;
  }

  /** When the current connection started listening (ms since the epoch); undefined while down. */
  get connectedSince(): number | undefined {
    return this.since;
  }

  /**
   * When the last whole message came from the server (ms since the epoch), on the current
   * connection or, while reconnecting, on the lost one; undefined before the first connection.
   */
  get lastInputAt(): number | undefined {
    return this.lastInput;
  }

  /** The current connection's backend pid, or 0 while reconnecting. */
  get processId(): number {
    return this.conn?.backendPid ?? 0;
  }

  /** True while reading is paused by the high-water mark. */
  get backpressured(): boolean {
    return this.paused;
  }

  /** The largest number of items waiting in any iterator. */
  get pending(): number {
    let most = 0;
    for (const sink of this.sinks) most = Math.max(most, sink.queue.length);
    return most;
  }

  /** Channels with at least one subscription. */
  get channels(): string[] {
    return [...this.desired.keys()];
  }

  /**
   * Connects for the first time. Rejects with the ConnectionError of the first attempt, or,
   * with retryInitialConnect, once the listener gives up; the listener is then `failed`.
   */
  async start(): Promise<void> {
    let conn: Connection | undefined;
    try {
      conn = this.settings.retryInitialConnect
        ? await this.connectWithRetry(undefined)
        : await this.attempt();
    } catch (error) {
      await this.giveUp(asConnectionError(error), false);
    }
    if (!conn)
      throw this.failure ?? new ConnectionError('CONNECTION_CLOSED', 'the listener is closed');
    this.listening(conn);
    this.run(conn).catch((error: unknown) =>
      this.giveUp(asConnectionError(error), true).catch(reportUncaught),
    );
    const interval = this.settings.queueUsageIntervalMs;
    if (interval > 0) {
      this.sampler = setInterval(() => void this.sampleQueueUsage(), interval);
      this.sampler.unref();
    }
  }

  /**
   * Subscribes to a channel (named verbatim) and resolves once the LISTEN has committed on
   * a live connection (waiting through reconnects). Subscriptions to one channel share one
   * LISTEN; `handler` is called with each of its notifications. Invalid names throw before
   * anything is sent; rejects when the listener closes or gives up first.
   */
  async listen(channel: string, handler?: NotificationHandler): Promise<Subscription> {
    checkChannel(channel);
    this.assertOpen();
    this.desired.set(channel, (this.desired.get(channel) ?? 0) + 1);
    if (handler) {
      const set = this.handlers.get(channel) ?? new Set();
      set.add(handler);
      this.handlers.set(channel, set);
    }
    let ended = false;
    const unlisten = async () => {
      if (ended) return;
      ended = true;
      await this.release(channel, handler);
    };
    const subscription: Subscription = { channel, unlisten, [Symbol.asyncDispose]: unlisten };
    try {
      this.scheduleReconcile();
      await this.until(() => this.actual.has(channel));
    } catch (error) {
      await unlisten().catch(() => undefined);
      throw error;
    }
    return subscription;
  }

  /** NOTIFY through the listener's connection, with conn.notify()'s checks. */
  async notify(channel: string, payload = ''): Promise<void> {
    checkChannel(channel);
    checkPayload(payload);
    this.assertOpen();
    await this.until(() => this.conn !== undefined);
    await this.conn?.notify(channel, payload);
  }

  /**
   * A durable notification (Connection.notifyDurable) through the listener's connection,
   * waiting for it while reconnecting. Resolves with the message's LSN.
   */
  async notifyDurable(
    channel: string,
    payload: string | Uint8Array = '',
    options: DurableNotifyOptions = {},
  ): Promise<string> {
    durableNotifyStatement(channel, payload, options);
    this.assertOpen();
    await this.until(() => this.conn !== undefined);
    const conn = this.conn;
    if (!conn) throw new ConnectionError('CONNECTION_CLOSED', 'the listener was closed');
    return conn.notifyDurable(channel, payload, options);
  }

  /** Iterates over everything the listener receives: notifications and gap markers. */
  [Symbol.asyncIterator](): AsyncGenerator<ListenerItem, void, undefined> {
    return this.stream();
  }

  /**
   * Like iterating the listener, with a channel filter, an AbortSignal and an idle
   * timeout; all three end the iteration without an error. Throws the ConnectionError when
   * the listener gives up. Items received from the moment of the call on are kept for it,
   * even before the first `next()`; an iterator that is never finished keeps collecting, so
   * end it (break, return, abort) when done.
   */
  stream(options: StreamOptions = {}): AsyncGenerator<ListenerItem, void, undefined> {
    const sink = this.openSink(options);
    return new PullIterator(
      () => {
        const item = sink.queue.shift();
        if (item === undefined) return null;
        this.checkResume();
        return item;
      },
      this.sinkWait(sink, options),
      () => this.closeSink(sink),
    );
  }

  /**
   * stream() in batches: each next() yields every item queued for this iterator at that
   * moment (at least one, in a new array the caller owns), notifications and gap markers in
   * the order they were received, so a gap marker stays in its place within and across
   * batches. Options, ending and errors as stream().
   */
  batches(options: StreamOptions = {}): AsyncGenerator<ListenerItem[], void, undefined> {
    const sink = this.openSink(options);
    return new PullIterator(
      () => {
        if (sink.queue.length === 0) return null;
        const batch = sink.queue.drain();
        this.checkResume();
        return batch;
      },
      this.sinkWait(sink, options),
      () => this.closeSink(sink),
    );
  }

  private openSink(options: StreamOptions): Sink {
    const sink = new Sink(options.channels);
    this.sinks.add(sink);
    return sink;
  }

  private closeSink(sink: Sink): void {
    this.sinks.delete(sink);
    this.checkResume();
  }

  /**
   * The wait of an iterator over `sink`: true when an item may have arrived; false when the
   * listener is closed, the signal aborts or `idleTimeout` passes first; rejects with the
   * error the listener gave up with.
   */
  private sinkWait(sink: Sink, options: StreamOptions): () => Promise<boolean> {
    const { signal, idleTimeout } = options;
    return async () => {
      if (this.failure) throw this.failure;
      if (this.closed || signal?.aborted) return false;
      try {
        return await sink.arrivals.wait({ timeout: idleTimeout, signal });
      } catch (error) {
        if (signal?.aborted) return false;
        throw error;
      }
    };
  }

  /**
   * The channels the server has this listener's session listening on (pg_listening_channels).
   * Notifications that arrive meanwhile are left to the read loop, which delivers them.
   */
  async listeningChannels(): Promise<string[]> {
    this.assertOpen();
    await this.until(() => this.conn !== undefined);
    const conn = this.conn;
    if (!conn) return [];
    const result = await conn.exec('SELECT pg_listening_channels()');
    return result.rows.map((row) => row[0] ?? '');
  }

  /** UNLISTENs, ends every iterator, terminates the connection. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= this.shutdown(undefined);
    return this.closing;
  }

  /** `await using listener = await createListener(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async shutdown(error: ConnectionError | undefined): Promise<void> {
    this.closed = true;
    this.failure = error;
    this.currentState = error ? 'failed' : 'closed';
    this.since = undefined;
    this.abort.abort();
    if (this.sampler) clearInterval(this.sampler);
    if (!this.sampling) await this.samplerConn?.close();
    this.resumes.wake();
    for (const sink of this.sinks) sink.arrivals.wake();
    this.wakeState();
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    if (conn.status !== 'ok') {
      conn.destroy();
      return;
    }
    const deadline = sleep(this.settings.heartbeatTimeoutMs, undefined, { ref: false });
    const polite = (async () => {
      await conn.unlisten().catch(() => undefined);
      await conn.close();
    })();
    if ((await Promise.race([polite.then(() => true), deadline.then(() => false)])) === false)
      conn.destroy();
  }

  private assertOpen(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new ConnectionError('CONNECTION_CLOSED', 'the listener is closed');
  }

  private async release(channel: string, handler: NotificationHandler | undefined): Promise<void> {
    if (handler) this.handlers.get(channel)?.delete(handler);
    const count = (this.desired.get(channel) ?? 1) - 1;
    if (count > 0) {
      this.desired.set(channel, count);
      return;
    }
    this.desired.delete(channel);
    this.handlers.delete(channel);
    if (this.closed) return;
    this.scheduleReconcile();
    await this.until(() => this.desired.has(channel) || !this.actual.has(channel));
  }

  /** Waits until `done()` holds, re-checked at each state change; rejects if the listener closes. */
  private async until(done: () => boolean): Promise<void> {
    while (!done()) {
      this.assertOpen();
      await this.stateChanges.wait();
    }
  }

  private wakeState(): void {
    this.stateChanges.wake();
  }

  private scheduleReconcile(): void {
    const conn = this.conn;
    if (!conn) return;
    this.reconciling = this.reconciling.then(() => this.reconcile(conn));
  }

  /**
   * Brings the connection's LISTENs in line with the subscriptions, in one implicit
   * transaction. A LISTEN the server refuses ends the connection (CONNECTION_REJECTED): the
   * reconnect policy then applies, with its backoff and its limit.
   */
  private async reconcile(conn: Connection): Promise<void> {
    while (this.conn === conn && !this.closed) {
      const toListen = [...this.desired.keys()].filter((channel) => !this.actual.has(channel));
      const toUnlisten = [...this.actual].filter((channel) => !this.desired.has(channel));
      if (toListen.length === 0 && toUnlisten.length === 0) break;
      const statements = [
        ...toListen.map((channel) => `LISTEN ${escapeIdentifier(channel)}`),
        ...toUnlisten.map((channel) => `UNLISTEN ${escapeIdentifier(channel)}`),
      ];
      if (toListen.length > 0) statements.push(SUBSCRIPTION_CHECK);
      try {
        const result = await conn.exec(statements.join(';\n'));
        if (toListen.length > 0) await this.subscription.afterListen(conn, result);
      } catch (error) {
        if (error instanceof ServerError) {
          conn.destroy(
            new ConnectionError(
              'CONNECTION_REJECTED',
              `LISTEN failed on ${conn.address}: ${error.message}`,
              { cause: error, sqlState: error.sqlState },
            ),
          );
        }
        return;
      }
      if (this.conn !== conn) return;
      for (const channel of toListen) this.actual.add(channel);
      for (const channel of toUnlisten) this.actual.delete(channel);
      this.wakeState();
    }
    this.wakeState();
  }

  private open(): Promise<Connection> {
    return connect(this.conninfo, this.settings.connect);
  }

  /**
   * One connection attempt: connects (within the connect timeout) and LISTENs every
   * subscribed channel. Rejects with the ConnectionError; a connection that got that far is
   * destroyed first.
   */
  private async attempt(): Promise<Connection> {
    const conn = await this.open();
    if (this.closed) {
      conn.destroy();
      throw new ConnectionError('CONNECTION_CLOSED', 'the listener is closed');
    }
    this.conn = conn;
    this.connError = undefined;
    this.seenMessages = conn.receivedMessages;
    this.actual.clear();
    conn.on('close', (error) => {
      if (this.conn === conn) this.connError = error;
    });
    conn.on('notice', (fields) => {
      const match = queueFullPattern.exec(fields.message ?? '');
      this.fire('notice', { fields, queueFullPercent: match ? Number(match[1]) : undefined });
    });
    this.scheduleReconcile();
    await this.reconciling;
    if (this.conn === conn && conn.status === 'ok') return conn;
    const error =
      this.connError ??
      new ConnectionError('CONNECTION_LOST', `the connection to ${conn.address} was lost`);
    conn.destroy(error);
    if (this.conn === conn) this.conn = undefined;
    this.actual.clear();
    throw error;
  }

  /** Marks `conn` (which attempt() returned) as the listening connection. */
  private listening(conn: Connection): void {
    const now = this.settings.clock.now();
    this.currentState = 'listening';
    this.since = now;
    this.lastInput = now;
    this.seenMessages = conn.receivedMessages;
    this.wakeState();
    this.fire('connected', { processId: conn.backendPid, address: conn.address });
  }

  /**
   * Connects with the retry policy: before each attempt a `reconnecting` event and the
   * backoff delay. `cause` is the loss that makes it necessary, or undefined for the first
   * connection, whose attempt 1 is made at once without an event. Resolves undefined when
   * the listener closes or gives up (a wrong password or bad setting gives up at once).
   */
  private async connectWithRetry(
    cause: ConnectionError | undefined,
  ): Promise<Connection | undefined> {
    const { retry, clock } = this.settings;
    let error = cause;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) return undefined;
      if (error) {
        const delayMs = retryDelay(retry, attempt, clock.random);
        this.fire('reconnecting', { attempt, delayMs, error });
        if (delayMs > 0) {
          try {
            await clock.sleep(delayMs, this.abort.signal);
          } catch {
            return undefined;
          }
        }
        if (this.closed) return undefined;
      }
      try {
        return await this.attempt();
      } catch (caught) {
        if (this.closed) return undefined;
        const final = this.subscription.finalError;
        error = final ?? asConnectionError(caught);
        const fatal =
          final !== undefined ||
          error.code === 'CONNECTION_AUTH' ||
          error.code === 'CONNECTION_CONFIG';
        if (fatal || retriesExhausted(retry, attempt)) {
          await this.giveUp(error, cause !== undefined);
          return undefined;
        }
      }
    }
  }

  /**
   * The read loop, the only place that delivers: reads one connection until it is lost,
   * destroys it, reconnects, places the gap marker, then reads the new one (whose
   * notifications, even those that came with the LISTENs, are delivered after the marker).
   */
  private async run(first: Connection): Promise<void> {
    let conn = first;
    for (;;) {
      const lost = await this.readUntilLost(conn);
      conn.destroy(lost);
      if (this.closed) return;
      const final = this.subscription.finalError;
      if (final) {
        await this.giveUp(final, true);
        return;
      }
      const lastInputAt = this.lastInput ?? this.settings.clock.now();
      const previousProcessId = conn.backendPid;
      this.conn = undefined;
      this.since = undefined;
      this.currentState = 'reconnecting';
      this.actual.clear();
      this.wakeState();
      this.fire('disconnected', lost);
      const next = await this.connectWithRetry(lost);
      if (!next) return;
      conn = next;
      this.listening(conn);
      const gap: GapMarker = {
        type: 'gap',
        reason: lost.message,
        error: lost,
        downtimeMs: (this.since ?? lastInputAt) - lastInputAt,
        lastInputAt,
        previousProcessId,
        processId: conn.backendPid,
        channels: [...this.actual],
      };
      for (const sink of this.sinks) sink.push(gap);
      this.fire('gap', gap);
    }
  }

  /** Notes the time when `conn` has received whole messages since last looked at. */
  private noteInput(conn: Connection): boolean {
    const count = conn.receivedMessages;
    if (count === this.seenMessages) return false;
    this.seenMessages = count;
    this.lastInput = this.settings.clock.now();
    return true;
  }

  private async readUntilLost(conn: Connection): Promise<ConnectionError> {
    const interval = this.settings.heartbeatIntervalMs;
    try {
      for (;;) {
        this.noteInput(conn);
        this.deliver(conn);
        if (this.closed) return new ConnectionError('CONNECTION_CLOSED', 'the listener is closed');
        // Lost while no wait was pending (the heartbeat destroyed it): consumeInput throws why.
        if (conn.status !== 'ok') conn.consumeInput();
        if (this.paused) {
          const probe = interval > 0 && this.readWhilePaused < this.settings.highWaterMark;
          if (!(await this.waitResume(conn, probe ? interval : 0)))
            await this.pausedHeartbeat(conn);
          continue;
        }
        if (interval === 0) {
          await conn.waitReadable({ signal: this.abort.signal });
          conn.consumeInput();
          continue;
        }
        const quiet = this.settings.clock.now() - (this.lastInput ?? 0);
        const timeout = Math.max(0, interval - quiet);
        if (timeout > 0 && (await conn.waitReadable({ timeout, signal: this.abort.signal }))) {
          conn.consumeInput();
          continue;
        }
        // No whole message for `interval` (bytes of an unfinished frame do not count).
        if (!this.noteInput(conn)) await this.heartbeat(conn);
      }
    } catch (error) {
      if (this.closed) return new ConnectionError('CONNECTION_CLOSED', 'the listener is closed');
      return this.connError ?? asConnectionError(error);
    } finally {
      this.noteInput(conn);
      this.deliver(conn);
    }
  }

  /**
   * Waits while reading is paused: true when it resumes or the listener closes, false after
   * `timeout` ms (0: no limit) or as soon as `conn` is lost, so that pausedHeartbeat runs.
   */
  private async waitResume(conn: Connection, timeout: number): Promise<boolean> {
    if (conn.status !== 'ok') return false;
    const lost = new AbortController();
    const onClose = () => lost.abort();
    conn.once('close', onClose);
    try {
      return await this.resumes.wait({
        timeout: timeout > 0 ? timeout : undefined,
        signal: lost.signal,
      });
    } catch {
      return false;
    } finally {
      conn.off('close', onClose);
    }
  }

  /**
   * The heartbeat while reading is paused (see heartbeatIntervalMs): takes what the socket has
   * buffered, then takes a new whole message within the heartbeat timeout as a sign of life,
   * or sends the heartbeat query when none comes. Rejects with the ConnectionError once the
   * connection is lost, or if it already is.
   */
  private async pausedHeartbeat(conn: Connection): Promise<void> {
    const { clock, heartbeatTimeoutMs } = this.settings;
    conn.consumeInput();
    this.noteInput(conn);
    this.readWhilePaused += this.deliver(conn);
    const deadline = clock.now() + heartbeatTimeoutMs;
    for (let left = heartbeatTimeoutMs; left > 0; left = deadline - clock.now()) {
      if (!(await conn.waitReadable({ timeout: left, signal: this.abort.signal }))) break;
      conn.consumeInput();
      this.readWhilePaused += this.deliver(conn);
      if (this.noteInput(conn)) return;
    }
    await this.heartbeat(conn);
    this.readWhilePaused += this.deliver(conn);
  }

  /**
   * Sends the heartbeat query, which proves the subscription (SubscriptionCheck.verify: this
   * backend, every channel listened, else LISTEN_LOST); destroys the connection when no answer
   * comes within heartbeatTimeoutMs. The answer (ReadyForQuery) is a whole message, so it
   * counts as input.
   */
  private async heartbeat(conn: Connection): Promise<void> {
    const timeout = this.settings.heartbeatTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const answered = this.subscription
      .verify(conn, () => this.actual)
      .then(
        () => true,
        () => true,
      );
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeout);
    });
    const inTime = await Promise.race([answered, late]);
    clearTimeout(timer);
    this.noteInput(conn);
    if (!inTime) {
      conn.destroy(
        new ConnectionError(
          'CONNECTION_LOST',
          `no answer to the heartbeat within ${timeout} ms from ${conn.address}`,
        ),
      );
    }
  }

  /**
   * Moves every queued notification of `conn` to the iterators and handlers; returns how
   * many. A handler that throws is reported (handlerError) and the others still run.
   */
  private deliver(conn: Connection): number {
    let count = 0;
    for (let n = conn.notifies(); n !== null; n = conn.notifies()) {
      count += 1;
      const item: ListenerNotification = {
        type: 'notification',
        channel: n.channel,
        payload: n.payload,
        processId: n.processId,
      };
      for (const sink of this.sinks) {
        if (!sink.channels || sink.channels.has(item.channel)) sink.push(item);
      }
      const handlers = this.handlers.get(item.channel);
      if (handlers) {
        for (const handler of handlers) {
          try {
            handler(item);
          } catch (error) {
            this.reportHandlerError(error, { notification: item });
          }
        }
      }
    }
    if (!this.paused && this.pending >= this.settings.highWaterMark) {
      this.paused = true;
      this.readWhilePaused = 0;
      this.fire('backpressure', { paused: true, pending: this.pending });
    }
    return count;
  }

  /**
   * Emits an event to the application's listeners without letting one that throws reach the
   * read loop: each listener is called, each error goes to reportHandlerError.
   */
  private fire<K extends keyof ListenerEvents>(event: K, ...args: ListenerEvents[K]): void {
    for (const listener of this.rawListeners(event)) {
      try {
        Reflect.apply(listener as (...values: unknown[]) => unknown, this, args);
      } catch (error) {
        this.reportHandlerError(error, { event });
      }
    }
  }

  /** The documented path of a callback's error: `handlerError`, else an uncaught exception. */
  private reportHandlerError(error: unknown, source: HandlerErrorSource): void {
    if (source.event === 'handlerError' || this.listenerCount('handlerError') === 0) {
      reportUncaught(error);
      return;
    }
    this.fire('handlerError', error, source);
  }

  private checkResume(): void {
    if (!this.paused) return;
    if (this.pending > this.settings.highWaterMark / 2) return;
    this.paused = false;
    this.fire('backpressure', { paused: false, pending: this.pending });
    this.resumes.wake();
  }

  /**
   * Closes the listener as failed with `error`; with `announce`, emits `error` to its
   * listeners (if any: the error also reaches every iterator and later call).
   */
  private async giveUp(error: ConnectionError, announce: boolean): Promise<void> {
    this.closing ??= this.shutdown(error);
    await this.closing;
    if (announce && this.listenerCount('error') > 0) this.fire('error', error);
  }

  /**
   * Samples pg_notification_queue_usage() (cluster-wide) on a second connection: a query on
   * the listening connection would make its backend flush every pending notification and
   * defeat backpressure. The sampling connection is opened on first use and again after a loss.
   */
  private async sampleQueueUsage(): Promise<void> {
    if (this.closed || this.sampling) return;
    this.sampling = true;
    const threshold = this.settings.queueUsageThreshold;
    try {
      if (this.samplerConn?.status !== 'ok') this.samplerConn = await this.open();
      const result = await this.samplerConn.exec('SELECT pg_notification_queue_usage()');
      const usage = Number(result.rows[0]?.[0] ?? 0);
      if (usage >= threshold && !this.closed) this.fire('queueUsage', { usage, threshold });
    } catch {
      // An unreachable server shows on the listening connection; this sample is skipped.
    } finally {
      this.sampling = false;
      if (this.closed) this.samplerConn?.destroy();
    }
  }
}

/**
 * Creates a Listener and resolves once it is connected (to a primary: a standby cannot
 * LISTEN, so target_session_attrs defaults to `primary` unless given in `options`). Every
 * attempt has a connect timeout (connect_timeout, else see heartbeatTimeoutMs): a server
 * that accepts TCP and never answers fails with CONNECTION_TIMEOUT. Rejects with the
 * ConnectionError of the first attempt, or with retryInitialConnect keeps trying (see
 * there); later losses are retried.
 */
export async function createListener(
  conninfo?: string | ConnectOptions,
  options: ListenerOptions = {},
): Promise<Listener> {
  const listener = new Listener(conninfo, options);
  await listener.start();
  return listener;
}
