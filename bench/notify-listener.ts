/**
 * One listener process of the notification benchmark. bench/notify.ts bundles this file with
 * src/ into plain JavaScript (as the package is built, so no tsx in the measured process),
 * starts it as `node notify-listener.mjs '<ListenerTask as JSON>'` once per client and run,
 * and reads one JSON object per line (a ListenerEvent) from its stdout. The libpq receiver
 * (bench/libpq-receiver.c) speaks the same protocol.
 *
 * Burst mode: LISTEN, print `ready` (with the resident set size), reset the peak RSS, then
 * receive `bursts` bursts of `count` notifications, printing `burst` after each with the
 * time from the first notification to the last, measured here. Latency mode: a second
 * connection of the same client sends each notification; one sample is the time from the
 * send to the receipt on the listening connection, taken back to back ("hot") and then with
 * a pause before each ("paced", the listener idle in between). In the paced series, the
 * pqnotify and node-raw listeners also time each notification from the read that brought it
 * into the process (process.hrtime.bigint() taken as the bytes arrive: pqnotify dials through
 * a Transport that wraps the default one and times each read as it reaches the connection's
 * sink, after the TLS upgrade the decrypted ones) to the moment notifies() or the iterator
 * hands it out; the library itself is not changed, and burst runs are not instrumented. Connections mode:
 * `connections` connections each LISTEN; memory (heap + external, after a forced gc) is
 * measured with none, once one connection was opened and closed, with all of them idle (then
 * `ready`), and once each has received `count` notifications (then `connections`).
 *
 * The pqnotify and node-raw listeners also run on Bun and Deno (--runtime); pg and
 * postgres.js run on Node only.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as pqnotify from '../src/index.js';
import {
  type Connection,
  connect,
  type Dialer,
  escapeIdentifier,
  type Notification,
  type Transport,
} from '../src/index.js';
import { RawSession } from './raw-session.js';

/** The package's dialer; a build from before the explicit Transport has none (then untimed). */
const dialSocket = (pqnotify as { dialSocket?: Dialer }).dialSocket;

/**
 * The JavaScript clients this process can run. node-raw-frames is the server's ceiling:
 * node-raw framing the messages without making a string.
 */
export type JsClient =
  | 'pqnotify-loop'
  | 'pqnotify-iter'
  | 'pqnotify-batch'
  | 'pg'
  | 'postgres'
  | 'node-raw'
  | 'node-raw-frames';

/** What one listener process does, passed as its only argument (JSON). */
export interface ListenerTask {
  client: JsClient;
  /** Resolved URLs of the other clients' packages (the bundle lives outside the project). */
  modules: { pg: string; postgres: string };
  mode: 'burst' | 'latency' | 'connections';
  /** A `postgres://` URL without sslmode (each client sets TLS its own way). */
  url: string;
  /** Connect with sslmode=require (TLS, the server's certificate not verified). */
  tls: boolean;
  /** With tls: pqnotify and node-raw use sslnegotiation=direct (TLS from the first byte). */
  direct: boolean;
  channel: string;
  /** Burst mode: notifications per burst; connections mode: per connection. */
  count: number;
  /** Connections mode: how many LISTENing connections to open. */
  connections: number;
  /**
   * Latency mode: time each paced notification from its read to its handout, through the
   * package's dialSocket (a baseline build from before the Transport has none: untimed).
   */
  timed: boolean;
  /** Burst mode: how many bursts to receive (the last is the timed one in the report). */
  bursts: number;
  /** Latency mode: unrecorded samples first. */
  warmup: number;
  /** Latency mode: recorded samples, in each of the hot and paced series. */
  samples: number;
  /** Latency mode: the pause before each paced sample, in milliseconds. */
  gapMs: number;
}

/** One line a listener process prints (JSON). */
export type ListenerEvent =
  | { event: 'ready'; idleRssKiB: number }
  | {
      event: 'burst';
      index: number;
      count: number;
      /** First notification to last; null when the burst stalled. */
      seconds: number | null;
      /** CPU time (user + system, all threads) from the start of the wait to the last one. */
      cpuSeconds: number | null;
      /** Sequence numbers (last six payload characters, hex) of the first and last received. */
      firstSeq: number | null;
      lastSeq: number | null;
      stalled: boolean;
    }
  | {
      event: 'latency';
      hotUs: number[];
      pacedUs: number[];
      /**
       * Paced series: read to handout, microseconds; empty or (libpq) absent without the
       * instrumentation.
       */
      handoutUs?: number[];
    }
  | {
      event: 'connections';
      /** heapUsed + external after a forced gc, in KiB, with no connection open yet. */
      baseKiB: number;
      /**
       * The same once one connection of the client was opened and closed again: its code
       * loaded and compiled, and whatever it keeps once per process, before the N connections.
       */
      warmKiB: number;
      /** The same with every connection open and LISTENing (printed before the traffic). */
      idleKiB: number;
      /** The same once every connection received `count` notifications. */
      afterKiB: number;
      /** The resident set (VmRSS) at the same three points, in KiB. */
      rssKiB: { base: number; idle: number; after: number };
    }
  | {
      event: 'end';
      /** Peak resident set since the `ready` line when peakSinceListen, else of the process. */
      peakRssKiB: number;
      peakSinceListen: boolean;
      /** process.resourceUsage().maxRSS: the lifetime peak, startup included. */
      maxRssKiB: number;
    };

/** Seconds without a notification, once a burst has begun, before it counts as stalled. */
const stallSeconds = 10;
/** Seconds to wait for the first notification of a burst (the sender generates it first). */
const firstWaitSeconds = 600;

/** Notifications received so far in the current burst, read by the stall watchdog. */
interface Progress {
  count: number;
}

interface BurstTiming {
  count: number;
  first: number;
  last: number;
  /** process.cpuUsage() at the last notification. */
  cpu: NodeJS.CpuUsage;
  firstPayload: string;
  lastPayload: string;
}

/** What each client implements: a LISTENing connection, bursts, and latency samples. */
interface Receiver {
  burst(n: number, progress: Progress): Promise<BurstTiming>;
  latency(task: ListenerTask): Promise<LatencySeries>;
  close(): Promise<void>;
}

/** Latency samples in microseconds. */
interface LatencySeries {
  hotUs: number[];
  pacedUs: number[];
  handoutUs: number[];
}

/**
 * Read-to-handout timing of one listening connection: `read()` as bytes arrive, `handout()`
 * as a notification is handed to the caller.
 */
class HandoutClock {
  private readAt = 0n;
  /** The last handout's time since the read before it, in microseconds. */
  lastUs = 0;

  readonly read = (): void => {
    this.readAt = process.hrtime.bigint();
  };

  handout(): void {
    this.lastUs = Number(process.hrtime.bigint() - this.readAt) / 1000;
  }
}

/**
 * `inner`, with every read timed by `clock` as it reaches the sink (after an upgrade, the
 * decrypted bytes of the TLS transport).
 */
function timedTransport(inner: Transport, clock: HandoutClock): Transport {
  return {
    get unread() {
      return inner.unread;
    },
    read: (length) => inner.read(length),
    start: (sink, onClose) =>
      inner.start((bytes) => {
        clock.read();
        sink(bytes);
      }, onClose),
    take: () => inner.take(),
    write: (bytes) => inner.write(bytes),
    end: (last, deadlineMs) => inner.end(last, deadlineMs),
    destroy: () => inner.destroy(),
    upgrade: async (settings) => timedTransport(await inner.upgrade(settings), clock),
    peerCertificate: () => inner.peerCertificate(),
  };
}

/** The default dialer, with every read of the transports it opens timed by `clock`. */
function timedDialer(clock: HandoutClock): Dialer {
  return async (target, options) => timedTransport(await dialSocket!(target, options), clock);
}

/**
 * The URL a pqnotify connection uses: the task's, with sslmode=require over TLS (and
 * sslnegotiation=direct when the task says so).
 */
function pqnotifyUrl(task: ListenerTask): string {
  if (!task.tls) return task.url;
  const tls = task.direct ? 'sslmode=require&sslnegotiation=direct' : 'sslmode=require';
  return `${task.url}${task.url.includes('?') ? '&' : '?'}${tls}`;
}

function emit(event: ListenerEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function statusKiB(field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s*(\\d+)`, 'm').exec(
    readFileSync('/proc/self/status', 'utf8'),
  );
  return match ? Number(match[1]) : -1;
}

/** Resets VmHWM to the current resident set (Linux 4.0+); false when not allowed. */
function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function sequenceOf(payload: string): number | null {
  return payload.length < 6 ? null : Number.parseInt(payload.slice(-6), 16);
}

/**
 * Latency samples: `send(payload)` on one connection, `receive()` resolving with the payload
 * that arrived on the other. The send is awaited after the receipt, so it never delays the
 * measurement. Warm-up first, then the hot series, then the paced one.
 */
async function sampleLatency(
  task: ListenerTask,
  send: (payload: string) => Promise<unknown>,
  receive: () => Promise<string>,
  clock?: HandoutClock,
): Promise<LatencySeries> {
  let i = 0;
  const sample = async (): Promise<number> => {
    const payload = String(i++);
    const start = performance.now();
    const sent = send(payload);
    const got = await receive();
    const elapsed = performance.now() - start;
    await sent;
    if (got !== payload) throw new Error(`expected payload ${payload}, got ${got}`);
    return elapsed * 1000;
  };
  for (let k = 0; k < task.warmup; k++) await sample();
  const hotUs: number[] = [];
  for (let k = 0; k < task.samples; k++) hotUs.push(await sample());
  const pacedUs: number[] = [];
  const handoutUs: number[] = [];
  for (let k = 0; k < task.samples; k++) {
    await new Promise((resolve) => setTimeout(resolve, task.gapMs));
    pacedUs.push(await sample());
    if (clock) handoutUs.push(clock.lastUs);
  }
  return { hotUs, pacedUs, handoutUs };
}

/**
 * How a pqnotify listener takes its notifications: the libpq loop (waitReadable,
 * consumeInput, notifies), `for await` over notifications(), or over notificationBatches().
 */
type PqnotifyStyle = 'loop' | 'iter' | 'batch';

/** A burst's timing, taken as its last notification is handed out. */
function burstTiming(
  count: number,
  first: number,
  firstPayload: string,
  lastPayload: string,
): BurstTiming {
  return {
    count,
    first,
    last: performance.now(),
    cpu: process.cpuUsage(),
    firstPayload,
    lastPayload,
  };
}

async function pqnotifyReceiver(task: ListenerTask, style: PqnotifyStyle): Promise<Receiver> {
  const clock = task.timed && dialSocket !== undefined ? new HandoutClock() : undefined;
  const conn = await connect(
    pqnotifyUrl(task),
    clock === undefined ? {} : { dialer: timedDialer(clock) },
  );
  await conn.listen(task.channel);
  const burstByLoop = async (n: number, progress: Progress): Promise<BurstTiming> => {
    let count = 0;
    let first = 0;
    let firstPayload = '';
    let lastPayload = '';
    while (count < n) {
      await conn.waitReadable();
      conn.consumeInput();
      for (let m = conn.notifies(); m !== null; m = conn.notifies()) {
        if (count === 0) {
          first = performance.now();
          firstPayload = m.payload;
        }
        if (++count === n) {
          lastPayload = m.payload;
          break;
        }
      }
      progress.count = count;
    }
    return burstTiming(count, first, firstPayload, lastPayload);
  };
  const burstByIterator = async (n: number, progress: Progress): Promise<BurstTiming> => {
    let first = 0;
    let firstPayload = '';
    let lastPayload = '';
    for await (const m of conn.notifications()) {
      if (progress.count === 0) {
        first = performance.now();
        firstPayload = m.payload;
      }
      if (++progress.count === n) {
        lastPayload = m.payload;
        break;
      }
    }
    return burstTiming(progress.count, first, firstPayload, lastPayload);
  };
  const burstByBatches = async (n: number, progress: Progress): Promise<BurstTiming> => {
    let first = 0;
    let firstPayload = '';
    let lastPayload = '';
    for await (const batch of conn.notificationBatches()) {
      if (progress.count === 0) {
        first = performance.now();
        firstPayload = batch[0]?.payload ?? '';
      }
      progress.count += batch.length;
      if (progress.count >= n) {
        lastPayload = batch[batch.length - 1]?.payload ?? '';
        break;
      }
    }
    return burstTiming(progress.count, first, firstPayload, lastPayload);
  };
  /** Resolves with the next notification's payload, the way `style` takes them. */
  const receiver = (): { receive: () => Promise<string>; stop: () => Promise<unknown> } => {
    if (style === 'iter') {
      const iterator = conn.notifications()[Symbol.asyncIterator]();
      return {
        receive: async () => {
          const next = await iterator.next();
          clock?.handout();
          if (next.done) throw new Error('the notification iterator ended');
          return next.value.payload;
        },
        stop: () => iterator.return(),
      };
    }
    if (style === 'batch') {
      const batches = conn.notificationBatches()[Symbol.asyncIterator]();
      let batch: Notification[] = [];
      return {
        receive: async () => {
          if (batch.length === 0) {
            const next = await batches.next();
            clock?.handout();
            if (next.done) throw new Error('the batch iterator ended');
            batch = next.value;
          }
          return batch.shift()?.payload ?? '';
        },
        stop: () => batches.return(),
      };
    }
    return {
      receive: async () => {
        for (;;) {
          const notification = conn.notifies();
          if (notification) {
            clock?.handout();
            return notification.payload;
          }
          await conn.waitReadable();
          conn.consumeInput();
        }
      },
      stop: async () => undefined,
    };
  };
  const bursts = { loop: burstByLoop, iter: burstByIterator, batch: burstByBatches };
  return {
    burst: bursts[style],
    async latency() {
      const notifier = await connect(pqnotifyUrl(task));
      const { receive, stop } = receiver();
      const series = await sampleLatency(
        task,
        (payload) => notifier.notify(task.channel, payload),
        receive,
        clock,
      );
      await stop();
      await notifier.close();
      return series;
    },
    close: () => conn.close(),
  };
}

const textDecoder = new TextDecoder();

/** Resolves the pending receipt of the event-driven clients (pg, postgres.js, node-raw). */
class EventSink {
  private progress: Progress = { count: 0 };
  private target = 0;
  private timing = { first: 0, firstPayload: '' };
  private done: ((lastPayload: string) => void) | undefined;
  private waiting: ((payload: string) => void) | undefined;

  /** The notification handler to register with the client. */
  readonly onPayload = (payload: string): void => {
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting(payload);
      return;
    }
    const progress = this.progress;
    if (progress.count === 0) {
      this.timing.first = performance.now();
      this.timing.firstPayload = payload;
    }
    if (++progress.count === this.target) this.done?.(payload);
  };

  /**
   * The frame handler of the server's ceiling: counts like onPayload, and makes the payload
   * a string only where it is needed.
   */
  readonly onFrame = (bytes: Uint8Array, start: number, end: number): void => {
    const progress = this.progress;
    if (this.waiting === undefined && progress.count !== 0 && progress.count + 1 < this.target) {
      progress.count++;
      return;
    }
    this.onPayload(textDecoder.decode(bytes.subarray(start, end)));
  };

  burst(n: number, progress: Progress): Promise<BurstTiming> {
    return new Promise((resolve) => {
      // The watchdog reads the same object the handler counts in.
      this.progress = progress;
      this.target = n;
      this.timing = { first: 0, firstPayload: '' };
      this.done = (lastPayload) => {
        const last = performance.now();
        const cpu = process.cpuUsage();
        this.done = undefined;
        resolve({ ...this.timing, count: progress.count, last, cpu, lastPayload });
      };
    });
  }

  next(): Promise<string> {
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }
}

/** pg's settings: over TLS, encrypted without verifying the server (sslmode=require). */
function pgConfig(task: ListenerTask) {
  return { connectionString: task.url, ssl: task.tls ? { rejectUnauthorized: false } : false };
}

/** postgres.js's settings for one connection: sslmode=require over TLS, no notices. */
function postgresOptions(task: ListenerTask) {
  return { max: 1, onnotice: () => undefined, ssl: task.tls ? ('require' as const) : false };
}

async function pgReceiver(task: ListenerTask): Promise<Receiver> {
  const { default: pg } = (await import(task.modules.pg)) as typeof import('pg');
  const sink = new EventSink();
  const client = new pg.Client(pgConfig(task));
  await client.connect();
  client.on('notification', (message) => sink.onPayload(message.payload ?? ''));
  await client.query(`LISTEN ${client.escapeIdentifier(task.channel)}`);
  return {
    burst: (n, progress) => sink.burst(n, progress),
    async latency() {
      const notifier = new pg.Client(pgConfig(task));
      await notifier.connect();
      const series = await sampleLatency(
        task,
        (payload) => notifier.query('SELECT pg_notify($1, $2)', [task.channel, payload]),
        () => sink.next(),
      );
      await notifier.end();
      return series;
    },
    close: () => client.end(),
  };
}

async function postgresReceiver(task: ListenerTask): Promise<Receiver> {
  const { default: postgres } = (await import(task.modules.postgres)) as {
    default: typeof import('postgres');
  };
  const sink = new EventSink();
  const sql = postgres(task.url, postgresOptions(task));
  await sql.listen(task.channel, sink.onPayload);
  return {
    burst: (n, progress) => sink.burst(n, progress),
    latency: () =>
      sampleLatency(
        task,
        (payload) => sql.notify(task.channel, payload),
        () => sink.next(),
      ),
    close: () => sql.end({ timeout: 1 }),
  };
}

/**
 * The reference: Node with no client library (bench/raw-session.ts). With `frames`, the
 * server's ceiling: each notification is only framed, and its payload made a string only
 * when the burst needs it (the first and the last) or a latency sample waits for it.
 */
async function rawReceiver(task: ListenerTask, frames: boolean): Promise<Receiver> {
  const sink = new EventSink();
  const clock = task.timed && dialSocket !== undefined ? new HandoutClock() : undefined;
  const handler = frames
    ? { frames: sink.onFrame }
    : {
        strings: clock
          ? (_channel: string, payload: string) => {
              clock.handout();
              sink.onPayload(payload);
            }
          : (_channel: string, payload: string) => sink.onPayload(payload),
      };
  const session = await RawSession.open(task.url, handler, {
    tls: task.tls,
    direct: task.direct,
    ...(clock ? { onRead: clock.read } : {}),
  });
  await session.query(`LISTEN ${escapeIdentifier(task.channel)}`);
  return {
    burst: (n, progress) => sink.burst(n, progress),
    async latency() {
      const notifier = await RawSession.open(
        task.url,
        { strings: () => undefined },
        { tls: task.tls, direct: task.direct },
      );
      const series = await sampleLatency(
        task,
        (payload) => notifier.notify(task.channel, payload),
        () => sink.next(),
        frames ? undefined : clock,
      );
      notifier.close();
      return series;
    },
    close: async () => session.close(),
  };
}

function receiverFor(task: ListenerTask): Promise<Receiver> {
  switch (task.client) {
    case 'pqnotify-loop':
      return pqnotifyReceiver(task, 'loop');
    case 'pqnotify-iter':
      return pqnotifyReceiver(task, 'iter');
    case 'pqnotify-batch':
      return pqnotifyReceiver(task, 'batch');
    case 'pg':
      return pgReceiver(task);
    case 'postgres':
      return postgresReceiver(task);
    case 'node-raw':
      return rawReceiver(task, false);
    case 'node-raw-frames':
      return rawReceiver(task, true);
  }
}

function endEvent(peakSinceListen: boolean): ListenerEvent {
  const maxRssKiB = process.resourceUsage().maxRSS;
  return {
    event: 'end',
    peakRssKiB: peakSinceListen ? statusKiB('VmHWM') : maxRssKiB,
    peakSinceListen,
    maxRssKiB,
  };
}

async function runBursts(task: ListenerTask, receiver: Receiver): Promise<void> {
  const progress: Progress = { count: 0 };
  let index = 0;
  let seen = -1;
  let quietSince = performance.now();
  // Ends the process when a burst stops short, reporting how far it got.
  const watchdog = setInterval(() => {
    const now = performance.now();
    if (progress.count !== seen) {
      seen = progress.count;
      quietSince = now;
      return;
    }
    const limit = (progress.count === 0 ? firstWaitSeconds : stallSeconds) * 1000;
    if (now - quietSince < limit) return;
    emit({
      event: 'burst',
      index,
      count: progress.count,
      seconds: null,
      cpuSeconds: null,
      firstSeq: null,
      lastSeq: null,
      stalled: true,
    });
    emit(endEvent(false));
    process.exit(1);
  }, 1000);
  emit({ event: 'ready', idleRssKiB: statusKiB('VmRSS') });
  const peakSinceListen = resetPeak();
  for (; index < task.bursts; index++) {
    progress.count = 0;
    seen = -1;
    const cpuStart = process.cpuUsage();
    const timing = await receiver.burst(task.count, progress);
    emit({
      event: 'burst',
      index,
      count: timing.count,
      seconds: (timing.last - timing.first) / 1000,
      cpuSeconds: (timing.cpu.user - cpuStart.user + timing.cpu.system - cpuStart.system) / 1e6,
      firstSeq: sequenceOf(timing.firstPayload),
      lastSeq: sequenceOf(timing.lastPayload),
      stalled: false,
    });
  }
  clearInterval(watchdog);
  emit(endEvent(peakSinceListen));
}

async function runLatency(task: ListenerTask, receiver: Receiver): Promise<void> {
  emit({ event: 'ready', idleRssKiB: statusKiB('VmRSS') });
  emit({ event: 'latency', ...(await receiver.latency(task)) });
  emit(endEvent(false));
}

/** Many LISTENing connections of one client, counting what they receive. */
interface ConnectionSet {
  /** Resolves once every connection received `count` notifications. */
  received: Promise<void>;
  close(): Promise<void>;
}

/** Calls `done` once `calls` calls of the returned function were made. */
function countdown(calls: number, done: () => void): () => void {
  let left = calls;
  return () => {
    if (--left === 0) done();
  };
}

async function openConnections(task: ListenerTask): Promise<ConnectionSet> {
  let allReceived!: () => void;
  const received = new Promise<void>((resolve) => {
    allReceived = resolve;
  });
  const one = countdown(task.connections * task.count, allReceived);
  const listen = `LISTEN ${escapeIdentifier(task.channel)}`;
  switch (task.client) {
    case 'pqnotify-loop': {
      const conns: Connection[] = [];
      for (let i = 0; i < task.connections; i++) {
        const conn = await connect(pqnotifyUrl(task));
        await conn.listen(task.channel);
        conns.push(conn);
        void (async () => {
          for (let seen = 0; seen < task.count; ) {
            await conn.waitReadable();
            conn.consumeInput();
            for (let m = conn.notifies(); m !== null; m = conn.notifies()) {
              seen++;
              one();
            }
          }
        })();
      }
      return { received, close: async () => void (await Promise.all(conns.map((c) => c.close()))) };
    }
    case 'pg': {
      const { default: pg } = (await import(task.modules.pg)) as typeof import('pg');
      const clients: InstanceType<typeof pg.Client>[] = [];
      for (let i = 0; i < task.connections; i++) {
        const client = new pg.Client(pgConfig(task));
        await client.connect();
        client.on('notification', one);
        await client.query(listen);
        clients.push(client);
      }
      return { received, close: async () => void (await Promise.all(clients.map((c) => c.end()))) };
    }
    case 'postgres': {
      const { default: postgres } = (await import(task.modules.postgres)) as {
        default: typeof import('postgres');
      };
      const pools: ReturnType<typeof postgres>[] = [];
      for (let i = 0; i < task.connections; i++) {
        const sql = postgres(task.url, postgresOptions(task));
        await sql.listen(task.channel, one);
        pools.push(sql);
      }
      return {
        received,
        close: async () => void (await Promise.all(pools.map((sql) => sql.end({ timeout: 1 })))),
      };
    }
    default:
      throw new Error(`the connections scenario does not run ${task.client}`);
  }
}

/**
 * heapUsed + external (which includes arrayBuffers) after a full collection, and the
 * resident set then, in KiB.
 */
function collectedKiB(): { js: number; rss: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the connections scenario needs --expose-gc');
  gc();
  gc();
  const usage = process.memoryUsage();
  return { js: (usage.heapUsed + usage.external) / 1024, rss: statusKiB('VmRSS') };
}

async function runConnections(task: ListenerTask): Promise<void> {
  // Load the client's module first, so that the baseline holds its code too.
  if (task.client === 'pg') await import(task.modules.pg);
  if (task.client === 'postgres') await import(task.modules.postgres);
  const base = collectedKiB();
  const first = await openConnections({ ...task, connections: 1, count: 0 });
  await first.close();
  const warm = collectedKiB();
  const set = await openConnections(task);
  const idle = collectedKiB();
  emit({ event: 'ready', idleRssKiB: idle.rss });
  await set.received;
  const after = collectedKiB();
  emit({
    event: 'connections',
    baseKiB: base.js,
    warmKiB: warm.js,
    idleKiB: idle.js,
    afterKiB: after.js,
    rssKiB: { base: base.rss, idle: idle.rss, after: after.rss },
  });
  emit(endEvent(false));
  await set.close();
}

const task = JSON.parse(process.argv[2] ?? '') as ListenerTask;
if (task.mode === 'connections') await runConnections(task);
else {
  const receiver = await receiverFor(task);
  if (task.mode === 'burst') await runBursts(task, receiver);
  else await runLatency(task, receiver);
  await receiver.close();
}
process.exit(0);
