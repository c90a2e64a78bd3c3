import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkChannel, checkPayload } from '../connection/channels.js';
import type { ConnectOptions } from '../connection/config.js';
import { connect, type RuntimeOptions } from '../connection/connect.js';
import type { Connection, Notification } from '../connection/connection.js';
import { ConnectionError, ServerError } from '../connection/errors.js';
import { escapeIdentifier } from '../connection/escape.js';
import { Fifo } from '../connection/fifo.js';
import type { NoticeFields } from '../protocol/fields.js';
import { SUBSCRIPTION_CHECK, SubscriptionCheck } from './subscription.js';

/** A notification as the Listener delivers it: tagged, so it can be told from a gap. */
export interface ListenerNotification extends Notification {
  type: 'notification';
}

/**
 * Placed in the stream after a reconnect, once the LISTENs on the new connection have
 * committed and before any notification received on it: notifications sent while the
 * listener was away may be lost, so re-read the state they describe. Everything after the
 * marker is delivered; re-reading after it misses nothing.
 */
export interface GapMarker {
  type: 'gap';
  /** Why the previous connection ended. */
  reason: string;
  /** From the loss of the old connection to the commit of the LISTENs on the new one. */
  downtimeMs: number;
  /** Backend pid of the lost connection. */
  previousProcessId: number;
  /** Backend pid of the new connection. */
  processId: number;
  /** The channels listened on the new connection. */
  channels: string[];
}

/** What a Listener's iterators yield. */
export type ListenerItem = ListenerNotification | GapMarker;

/** A handler given to listen(): called synchronously with each notification of its channel. */
export type NotificationHandler = (notification: ListenerNotification) => void;

/** A server notice, with the percentage when it is the "NOTIFY queue is N% full" warning. */
export interface ListenerNotice {
  fields: NoticeFields;
  queueFullPercent: number | undefined;
}

/** Events a Listener emits. */
export interface ListenerEvents {
  /** A new connection is listening (after start and after each reconnect). */
  connected: [info: { processId: number; address: string }];
  /** The connection was lost; a reconnect follows unless the listener gives up. */
  disconnected: [error: ConnectionError];
  /**
   * A reconnect attempt is about to be made, after `delayMs`; `previousError` says why the
   * attempt before it failed (for example "server is a standby" while no primary exists yet).
   */
  reconnecting: [info: { attempt: number; delayMs: number; previousError?: ConnectionError }];
  /** The gap marker, for handler users (iterators get it in the stream). */
  gap: [gap: GapMarker];
  /** Reading stopped (paused) or resumed because of the high-water mark. */
  backpressure: [info: { paused: boolean; pending: number }];
  /** pg_notification_queue_usage() at or over the threshold. */
  queueUsage: [info: { usage: number; threshold: number }];
  /** A NoticeResponse on the listener's connection. */
  notice: [notice: ListenerNotice];
  /** The listener gave up (reconnect limit, wrong password, ...) and is closed. */
  error: [error: ConnectionError];
}

/** Options of createListener(), on top of connect()'s. */
export interface ListenerOptions extends ConnectOptions, RuntimeOptions {
  /** Delay before the second reconnect attempt (the first is immediate); default 250 ms. */
  reconnectInitialDelayMs?: number;
  /** Longest delay between attempts (exponential backoff with jitter); default 30 s. */
  reconnectMaxDelayMs?: number;
  /** Consecutive failed attempts before giving up; default unlimited. */
  reconnectMaxAttempts?: number;
  /**
   * A heartbeat query after this long without input; default 30 s; 0 turns it off.
   *
   * While reading is paused by `highWaterMark` the heartbeat goes on, in another form: a query
   * cannot serve, because the backend answers it only after sending every notification it
   * still holds for this listener, the backlog the pause is keeping out of memory. So each
   * heartbeat due while paused takes only what the socket has already buffered (at most
   * 128 KiB, or the TLS stream's read buffer: some tens of KiB) into the iterators, and
   * counts new input within `heartbeatTimeoutMs` as a sign of life: a backend with more to
   * send was blocked on the full TCP window and sends again once there is room. When nothing
   * comes, the backend has nothing in flight for this listener, so the heartbeat query is
   * sent, and its answer comes after only what is notified meanwhile. A half-open connection
   * is thus replaced while paused, as when reading. These reads let at most `highWaterMark`
   * more notifications through during one pause (plus the read that crosses the limit), so
   * memory stays bounded when the consumer stops for good. The price: input the operating
   * system had buffered before the peer died also passes for a sign of life, and once the
   * allowance is used up nothing more is read; then only TCP keepalive (on by default)
   * notices a dead peer before reading resumes.
   */
  heartbeatIntervalMs?: number;
  /** The heartbeat must be answered within this, or the connection is replaced; default 10 s. */
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
}

/** A subscription returned by listen(); unlisten() (or `await using`) ends it. */
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

class Sink {
  readonly queue = new Fifo<ListenerItem>();
  readonly channels: Set<string> | undefined;
  private wake: (() => void) | undefined;

  constructor(channels: readonly string[] | undefined) {
    this.channels = channels ? new Set(channels) : undefined;
  }

  push(item: ListenerItem): void {
    this.queue.push(item);
    this.signal();
  }

  signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Resolves true when signalled, false after `timeout` ms. */
  wait(timeout: number | undefined, signal: AbortSignal | undefined): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (value: boolean) => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.wake = undefined;
        resolve(value);
      };
      const onAbort = () => done(true);
      this.wake = () => done(true);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== undefined) timer = setTimeout(() => done(false), timeout);
    });
  }
}

const queueFullPattern = /NOTIFY queue is (\d+)% full/;

/**
 * A notification stream on one dedicated connection that survives faults: it reconnects
 * (backoff with jitter, through the whole host list, to a primary), re-LISTENs every
 * subscribed channel and then places a gap marker in the stream, detects a silent
 * connection with a heartbeat, and can apply backpressure. Create with createListener().
 */
export class Listener extends EventEmitter<ListenerEvents> {
  private readonly conninfo: string | ConnectOptions | undefined;
  private readonly options: ListenerOptions;
  private conn: Connection | undefined;
  private readonly desired = new Map<string, number>();
  private readonly actual = new Set<string>();
  private readonly handlers = new Map<string, Set<NotificationHandler>>();
  private readonly sinks = new Set<Sink>();
  private readonly stateWaiters = new Set<() => void>();
  private readonly abort = new AbortController();
  private reconciling: Promise<void> = Promise.resolve();
  private paused = false;
  /** Notifications the heartbeat has read during the current pause (see heartbeatIntervalMs). */
  private readWhilePaused = 0;
  private resumeWaiter: (() => void) | undefined;
  private closed = false;
  private failure: ConnectionError | undefined;
  private sampler: NodeJS.Timeout | undefined;
  private samplerConn: Connection | undefined;
  private sampling = false;
  private closing: Promise<void> | undefined;
  private readonly subscription = new SubscriptionCheck(() => this.open());

  /** Use createListener(). */
  constructor(conninfo: string | ConnectOptions | undefined, options: ListenerOptions = {}) {
    super();
    this.conninfo = conninfo;
    this.options = { ...options };
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

  /** Connects for the first time; rejects with the connection error (no retry). */
  async start(): Promise<void> {
    const conn = await this.open();
    this.attach(conn);
    void this.run(conn);
    const interval = this.options.queueUsageIntervalMs ?? 0;
    if (interval > 0) {
      this.sampler = setInterval(() => void this.sampleQueueUsage(), interval);
      this.sampler.unref();
    }
  }

  /**
   * Subscribes to a channel (named verbatim) and resolves once the LISTEN has committed on
   * a live connection. Subscriptions to one channel share one LISTEN; `handler` is called
   * with each of its notifications. Invalid names throw before anything is sent.
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
    const sink = new Sink(options.channels);
    this.sinks.add(sink);
    return this.drainSink(sink, options);
  }

  private async *drainSink(
    sink: Sink,
    options: StreamOptions,
  ): AsyncGenerator<ListenerItem, void, undefined> {
    try {
      for (;;) {
        const item = sink.queue.shift();
        if (item) {
          this.checkResume();
          yield item;
          continue;
        }
        if (this.failure) throw this.failure;
        if (this.closed || options.signal?.aborted) return;
        if (!(await sink.wait(options.idleTimeout, options.signal))) return;
      }
    } finally {
      this.sinks.delete(sink);
      this.checkResume();
    }
  }

  /** The channels the server has this listener's session listening on (pg_listening_channels). */
  async listeningChannels(): Promise<string[]> {
    this.assertOpen();
    await this.until(() => this.conn !== undefined);
    const conn = this.conn;
    if (!conn) return [];
    const result = await conn.exec('SELECT pg_listening_channels()');
    this.deliver(conn);
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
    this.abort.abort();
    if (this.sampler) clearInterval(this.sampler);
    if (!this.sampling) await this.samplerConn?.close();
    this.resumeWaiter?.();
    for (const sink of this.sinks) sink.signal();
    this.wakeState();
    const conn = this.conn;
    this.conn = undefined;
    if (conn?.status !== 'ok') return;
    const deadline = sleep(this.options.heartbeatTimeoutMs ?? 10_000, undefined, { ref: false });
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
      await new Promise<void>((resolve) => this.stateWaiters.add(resolve));
    }
  }

  private wakeState(): void {
    const waiters = [...this.stateWaiters];
    this.stateWaiters.clear();
    for (const wake of waiters) wake();
  }

  private scheduleReconcile(): void {
    const conn = this.conn;
    if (!conn) return;
    this.reconciling = this.reconciling.then(() => this.reconcile(conn));
  }

  /** Brings the connection's LISTENs in line with the subscriptions, in one implicit transaction. */
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
              {
                cause: error,
                sqlState: error.sqlState,
              },
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

  private connectOptions(): ListenerOptions {
    const {
      reconnectInitialDelayMs: _a,
      reconnectMaxDelayMs: _b,
      reconnectMaxAttempts: _c,
      heartbeatIntervalMs: _d,
      heartbeatTimeoutMs: _e,
      highWaterMark: _f,
      queueUsageIntervalMs: _g,
      queueUsageThreshold: _h,
      ...rest
    } = this.options;
    return { targetSessionAttrs: 'primary', keepalives: true, keepalivesIdle: 30, ...rest };
  }

  private open(): Promise<Connection> {
    return connect(this.conninfo, this.connectOptions());
  }

  private attach(conn: Connection): void {
    this.conn = conn;
    this.actual.clear();
    conn.on('notice', (fields) => {
      const match = queueFullPattern.exec(fields.message ?? '');
      this.emit('notice', { fields, queueFullPercent: match ? Number(match[1]) : undefined });
    });
  }

  /** Reads one connection until it is lost, then reconnects; repeats until closed. */
  private async run(first: Connection): Promise<void> {
    let conn = first;
    await this.listenAll(conn);
    for (;;) {
      const lost = await this.readUntilLost(conn);
      if (this.closed) return;
      if (await this.giveUpOnLostSubscription()) return;
      const lostAt = Date.now();
      const previousProcessId = conn.backendPid;
      this.conn = undefined;
      this.actual.clear();
      this.wakeState();
      this.emit('disconnected', lost);
      for (;;) {
        const next = await this.reconnect();
        if (!next) return;
        this.attach(next);
        if (await this.listenAll(next)) {
          conn = next;
          break;
        }
        if (await this.giveUpOnLostSubscription()) return;
      }
      const gap: GapMarker = {
        type: 'gap',
        reason: lost.message,
        downtimeMs: Date.now() - lostAt,
        previousProcessId,
        processId: conn.backendPid,
        channels: [...this.actual],
      };
      for (const sink of this.sinks) sink.push(gap);
      this.emit('gap', gap);
      this.deliver(conn);
    }
  }

  /** LISTENs every subscribed channel on `conn`; false if that failed (the connection is then dropped). */
  private async listenAll(conn: Connection): Promise<boolean> {
    this.scheduleReconcile();
    await this.reconciling;
    if (this.conn !== conn || conn.status !== 'ok') return false;
    this.emit('connected', { processId: conn.backendPid, address: conn.address });
    return true;
  }

  private async readUntilLost(conn: Connection): Promise<ConnectionError> {
    const interval = this.options.heartbeatIntervalMs ?? 30_000;
    const limit = this.options.highWaterMark ?? Number.POSITIVE_INFINITY;
    try {
      for (;;) {
        if (this.closed) return new ConnectionError('CONNECTION_CLOSED', 'the listener is closed');
        if (this.paused) {
          const probe = interval > 0 && this.readWhilePaused < limit;
          if (!(await this.waitResume(conn, probe ? interval : 0)))
            await this.pausedHeartbeat(conn);
          continue;
        }
        const ready = await conn.waitReadable({
          ...(interval > 0 ? { timeout: interval } : {}),
          signal: this.abort.signal,
        });
        if (ready) conn.consumeInput();
        else await this.heartbeat(conn);
        this.deliver(conn);
      }
    } catch (error) {
      this.deliver(conn);
      if (error instanceof ConnectionError) return error;
      return new ConnectionError('CONNECTION_LOST', `listener connection lost: ${String(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * Waits while reading is paused: true when it resumes or the listener closes, false after
   * `timeout` ms (0: no limit) or as soon as `conn` is lost, so that pausedHeartbeat runs.
   */
  private waitResume(conn: Connection, timeout: number): Promise<boolean> {
    if (conn.status !== 'ok') return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (resumed: boolean) => {
        clearTimeout(timer);
        conn.off('close', onClose);
        this.resumeWaiter = undefined;
        resolve(resumed);
      };
      const onClose = () => settle(false);
      if (timeout > 0) timer = setTimeout(() => settle(false), timeout);
      conn.once('close', onClose);
      this.resumeWaiter = () => settle(true);
    });
  }

  /**
   * The heartbeat while reading is paused (see heartbeatIntervalMs): takes what the socket has
   * buffered, then takes new input as a sign of life, or sends the heartbeat query when none
   * comes. Rejects with the ConnectionError once the connection is lost, or if it already is.
   */
  private async pausedHeartbeat(conn: Connection): Promise<void> {
    conn.consumeInput();
    this.readWhilePaused += this.deliver(conn);
    const timeout = this.options.heartbeatTimeoutMs ?? 10_000;
    if (await conn.waitReadable({ timeout, signal: this.abort.signal })) return;
    await this.heartbeat(conn);
    this.readWhilePaused += this.deliver(conn);
  }

  /** Gives up with the SubscriptionCheck's final LISTEN_LOST error, if it has one; true then. */
  private async giveUpOnLostSubscription(): Promise<boolean> {
    const final = this.subscription.finalError;
    if (!final) return false;
    await this.giveUp(final);
    return true;
  }

  /**
   * Proves the subscription (SubscriptionCheck.verify: this backend, every channel listened)
   * and replaces a connection that does not answer in time.
   */
  private async heartbeat(conn: Connection): Promise<void> {
    const timeout = this.options.heartbeatTimeoutMs ?? 10_000;
    const answered = this.subscription
      .verify(conn, () => this.actual)
      .then(
        () => true,
        () => true,
      );
    const late = sleep(timeout, false, { ref: false, signal: this.abort.signal }).catch(() => true);
    if (!(await Promise.race([answered, late]))) {
      conn.destroy(
        new ConnectionError(
          'CONNECTION_LOST',
          `no answer to the heartbeat within ${timeout} ms from ${conn.address}`,
        ),
      );
    }
  }

  /** Moves every queued notification of `conn` to the iterators and handlers; returns how many. */
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
      if (handlers) for (const handler of handlers) handler(item);
    }
    const limit = this.options.highWaterMark ?? Number.POSITIVE_INFINITY;
    if (!this.paused && this.pending >= limit) {
      this.paused = true;
      this.readWhilePaused = 0;
      this.emit('backpressure', { paused: true, pending: this.pending });
    }
    return count;
  }

  private checkResume(): void {
    if (!this.paused) return;
    const limit = this.options.highWaterMark ?? Number.POSITIVE_INFINITY;
    if (this.pending > limit / 2) return;
    this.paused = false;
    this.emit('backpressure', { paused: false, pending: this.pending });
    this.resumeWaiter?.();
  }

  /** Connects again with exponential backoff and jitter; undefined when closed or given up. */
  private async reconnect(): Promise<Connection | undefined> {
    const initial = this.options.reconnectInitialDelayMs ?? 250;
    const max = this.options.reconnectMaxDelayMs ?? 30_000;
    const attempts = this.options.reconnectMaxAttempts ?? Number.POSITIVE_INFINITY;
    let previousError: ConnectionError | undefined;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) return undefined;
      const ceiling = attempt === 1 ? 0 : Math.min(max, initial * 2 ** (attempt - 2));
      const delayMs = Math.round(ceiling * (0.5 + Math.random() / 2));
      this.emit('reconnecting', { attempt, delayMs, ...(previousError ? { previousError } : {}) });
      try {
        if (delayMs > 0) await sleep(delayMs, undefined, { signal: this.abort.signal });
        return await this.open();
      } catch (error) {
        if (this.closed) return undefined;
        const failure =
          error instanceof ConnectionError
            ? error
            : new ConnectionError('CONNECTION_REFUSED', String(error), { cause: error });
        const fatal = failure.code === 'CONNECTION_AUTH' || failure.code === 'CONNECTION_CONFIG';
        if (fatal || attempt >= attempts) {
          await this.giveUp(failure);
          return undefined;
        }
        previousError = failure;
      }
    }
  }

  private async giveUp(error: ConnectionError): Promise<void> {
    this.closing ??= this.shutdown(error);
    await this.closing;
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /**
   * Samples pg_notification_queue_usage() (cluster-wide) on a second connection: a query on
   * the listening connection would make its backend flush every pending notification and
   * defeat backpressure. The sampling connection is opened on first use and again after a loss.
   */
  private async sampleQueueUsage(): Promise<void> {
    if (this.closed || this.sampling) return;
    this.sampling = true;
    const threshold = this.options.queueUsageThreshold ?? 0.5;
    try {
      if (this.samplerConn?.status !== 'ok') this.samplerConn = await this.open();
      const result = await this.samplerConn.exec('SELECT pg_notification_queue_usage()');
      const usage = Number(result.rows[0]?.[0] ?? 0);
      if (usage >= threshold && !this.closed) this.emit('queueUsage', { usage, threshold });
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
 * LISTEN, so target_session_attrs defaults to `primary` unless given in `options`).
 * Rejects with the ConnectionError of the first attempt; later losses are retried.
 */
export async function createListener(
  conninfo?: string | ConnectOptions,
  options: ListenerOptions = {},
): Promise<Listener> {
  const listener = new Listener(conninfo, options);
  await listener.start();
  return listener;
}
