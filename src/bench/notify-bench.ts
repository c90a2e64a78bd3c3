import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_PAYLOAD_BYTES } from '../connection/channels.js';
import type { ConnectOptions } from '../connection/config.js';
import { connect, type RuntimeOptions } from '../connection/connect.js';
import type { Connection } from '../connection/connection.js';
import { ServerError } from '../connection/errors.js';
import { escapeIdentifier, escapeLiteral } from '../connection/escape.js';
import { createListener, type GapMarker, type Listener } from '../notify/listener.js';
import { PgClientError } from '../protocol/errors.js';

/** Options of runNotifyBench(). Counts are whole numbers; times are milliseconds. */
export interface NotifyBenchOptions {
  /** The server: a URL, a keyword/value string or connect() options (required). */
  conninfo: string | ConnectOptions;
  /** Extra connect() options for every connection the bench opens (onWarning, dialer, ...). */
  connectOptions?: ConnectOptions & RuntimeOptions;
  /** K: connections that LISTEN; default 1. */
  listeners?: number;
  /** M: connections that NOTIFY; default 1. */
  notifiers?: number;
  /** C: channels the notifications are spread over, round-robin; default 1. */
  channels?: number;
  /** How many of the C channels each listener listens on (consecutive shares); default all. */
  channelsPerListener?: number;
  /**
   * Total target notifications per second over all notifiers, on a fixed schedule (a
   * notifier that falls behind catches up at full speed); default unthrottled.
   */
  rate?: number;
  /** How long to send after the warm-up; default 10 s unless `count` is given. */
  durationMs?: number;
  /** Send this many notifications in all after the warm-up, instead of a duration. */
  count?: number;
  /** Bytes per payload (ASCII; the header alone when smaller); default 64; must be < 8000. */
  payloadSize?: number;
  /** Notifications per transaction; default 1. */
  batch?: number;
  /** Send for this long first without measuring; default 0. */
  warmupMs?: number;
  /**
   * The first N listeners hold a transaction open while the notifiers send, so their backends
   * read nothing and the server's queue fills; they commit when sending ends and catch up.
   * Default 0.
   */
  stalledListeners?: number;
  /** How often to sample pg_notification_queue_usage(); default 500 ms. */
  queueSampleIntervalMs?: number;
  /** Width of a timeline bucket; default 1000 ms. */
  timelineIntervalMs?: number;
  /** How often `onProgress` is called; default 1000 ms. */
  progressIntervalMs?: number;
  /** Called every progressIntervalMs while the bench runs, and once at the end. */
  onProgress?: (progress: NotifyBenchProgress) => void;
  /** Longest wait after sending for every listener to receive the tail; default 10 s. */
  drainTimeoutMs?: number;
  /** Aborting stops sending early; the bench drains and resolves with what it measured. */
  signal?: AbortSignal;
}

/** What onProgress receives. */
export interface NotifyBenchProgress {
  /** `warmup` before measuring, `measure` while sending, `drain` while waiting for the tail. */
  phase: 'warmup' | 'measure' | 'drain';
  /** Since the measured part began (negative during the warm-up). */
  elapsedMs: number;
  /** Notifications committed since the measured part began. */
  sent: number;
  /** Measured notifications received, summed over listeners. */
  delivered: number;
  /** Sent per second over the last progress interval. */
  sentPerSecond: number;
  /** Delivered per second (all listeners) over the last progress interval. */
  deliveredPerSecond: number;
  /** The latest pg_notification_queue_usage() sample (0 to 1), null before the first. */
  queueUsage: number | null;
  /** Gap markers seen so far, summed over listeners. */
  gaps: number;
  /** Each listener's current backend pid (0 while it reconnects), deliveries and gaps. */
  listeners: {
    /** The listener's backend pid; 0 while it reconnects. */
    processId: number;
    /** Measured notifications it received. */
    delivered: number;
    /** Gap markers it saw. */
    gaps: number;
  }[];
}

/** End-to-end latency from the pg_notify() call to the harness reading it, in milliseconds. */
export interface NotifyBenchLatency {
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** 99.9th percentile. */
  p999: number;
  /** The slowest. */
  max: number;
  /** The arithmetic mean. */
  mean: number;
}

/** Delivery counts of one listener, or summed over all of them. */
export interface NotifyBenchCounts {
  /** Measured notifications sent on the channels listened to. */
  expected: number;
  /** Of those, how many arrived (each once; duplicates are counted apart). */
  delivered: number;
  /** Delivered per second, from the start of the measured part to the last delivery. */
  perSecond: number;
  /** Null when nothing was delivered. Percentiles are within 1 % (a log-linear histogram). */
  latencyMs: NotifyBenchLatency | null;
  /** Missing sequence numbers that no gap marker explains: notifications lost silently. */
  lost: number;
  /** Missing sequence numbers sent while a listener was reconnecting (after its gap marker). */
  lostInGaps: number;
  /** Notifications received more than once. */
  duplicates: number;
  /** Notifications received after a later one of the same notifier. */
  outOfOrder: number;
  /** Gap markers: reconnects after a lost connection. */
  gaps: number;
  /** Notifications on the bench's channels whose payload the bench did not write. */
  unexpected: number;
}

/** One listener's row of the result. */
export interface NotifyBenchListenerResult extends NotifyBenchCounts {
  /** The listener's number, from 0. */
  index: number;
  /** Backend pids this listener had, in order (one more after each gap). */
  processIds: number[];
  /** Indexes (0 to C-1) of the channels it listened on. */
  channels: number[];
  /** True for a listener that held a transaction open while sending (stalledListeners). */
  stalled: boolean;
  /** Why this listener stopped early, or null. */
  error: string | null;
}

/**
 * The result of runNotifyBench(), which is also what `pqnotify bench --json` prints (schema
 * `pqnotify-bench/1`; fields are only ever added).
 */
export interface NotifyBenchResult {
  /** The schema of this object: `pqnotify-bench/1`. */
  schema: 'pqnotify-bench/1';
  /** When the run started, as ISO 8601. */
  startedAt: string;
  /** The server: server_version, `host:port`, max_connections. */
  server: { version: string; address: string; maxConnections: number };
  /** The workload as run (the options, with their defaults filled in). */
  settings: NotifyBenchSettings;
  /** True when the signal stopped the run early. */
  aborted: boolean;
  /** The measured sending time. */
  elapsedMs: number;
  /** The wait for the tail after sending. */
  drainMs: number;
  /**
   * True when every listener accounted for every notification before drainTimeoutMs (else
   * the missing ones count as lost).
   */
  drained: boolean;
  /** Measured notifications committed. */
  sent: number;
  /** Measured notifications committed per second of elapsedMs. */
  sentPerSecond: number;
  /** Notifications committed during the warm-up. */
  warmupSent: number;
  /** Transactions committed. */
  transactions: number;
  /** Transactions that failed. */
  failedTransactions: number;
  /** Counts summed over listeners (latency over every delivery). */
  overall: NotifyBenchCounts;
  /** One row per listener. */
  listeners: NotifyBenchListenerResult[];
  /**
   * pg_notification_queue_usage() (a fraction of the queue, 0 to 1), sampled from a
   * connection of its own: the highest sample, and every sample at `tMs` from the start of
   * the measured part (negative during the warm-up).
   */
  queueUsage: { max: number; samples: { tMs: number; usage: number }[] };
  /** One bucket per timelineIntervalMs from the start of the measured part. */
  timeline: NotifyBenchTimelineBucket[];
  /** Failed transactions and lost connections, counted by source and message. */
  errors: NotifyBenchErrorCount[];
}

/** NotifyBenchResult's `settings`: the workload as run. */
export interface NotifyBenchSettings {
  /** K: connections that LISTEN. */
  listeners: number;
  /** M: connections that NOTIFY. */
  notifiers: number;
  /** C: channels. */
  channels: number;
  /** Channels each listener listens on. */
  channelsPerListener: number;
  /** Target notifications per second over all notifiers; null: unthrottled. */
  rate: number | null;
  /** How long the measured part sent; null when `count` was given. */
  durationMs: number | null;
  /** How many notifications the measured part sent; null when a duration was given. */
  count: number | null;
  /** Bytes per payload. */
  payloadSize: number;
  /** Notifications per transaction. */
  batch: number;
  /** The unmeasured warm-up. */
  warmupMs: number;
  /** Listeners that held a transaction open while the notifiers sent. */
  stalledListeners: number;
}

/** One bucket of NotifyBenchResult's `timeline`. */
export interface NotifyBenchTimelineBucket {
  /** The start of the bucket, from the start of the measured part. */
  tMs: number;
  /** The part of the bucket before the run ended (the last bucket is shorter). */
  spanMs: number;
  /** Notifications sent in the bucket, by the time their transaction was sent. */
  sent: number;
  /** Notifications delivered in the bucket (over all listeners), by the time they arrived. */
  delivered: number;
  /** Median latency of the bucket's deliveries; null when nothing arrived in it. */
  p50Ms: number | null;
  /** 99th percentile latency of the bucket's deliveries; null when nothing arrived in it. */
  p99Ms: number | null;
}

/** One line of NotifyBenchResult's `errors`. */
export interface NotifyBenchErrorCount {
  /** `notifier N` or `listener N`. */
  source: string;
  /** The error's message. */
  message: string;
  /** How many times it happened. */
  count: number;
}

/**
 * Why the bench cannot run on this server, found before it sends anything:
 * - BENCH_TOO_MANY_CONNECTIONS: K + M + 1 connections do not fit in max_connections.
 * - BENCH_CANNOT_NOTIFY: the role cannot call pg_notify() here (a hot standby, a revoked
 *   EXECUTE privilege); `cause` holds the ServerError when the server gave one.
 */
export class NotifyBenchError extends PgClientError {
  /** Which of the two reasons. */
  readonly code: 'BENCH_TOO_MANY_CONNECTIONS' | 'BENCH_CANNOT_NOTIFY';

  constructor(code: NotifyBenchError['code'], message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'NotifyBenchError';
    this.code = code;
  }
}

type Settings = NotifyBenchResult['settings'];

/**
 * Checks runNotifyBench()'s options without connecting and returns the settings it would
 * run with. Throws RangeError: counts must be positive integers (stalledListeners at most
 * `listeners`), times non-negative, and payloadSize below 8000, PostgreSQL's payload limit.
 */
export function checkNotifyBenchOptions(options: Omit<NotifyBenchOptions, 'conninfo'>): Settings {
  const whole = (name: string, value: number | undefined, fallback: number, min = 1) => {
    const result = value ?? fallback;
    if (!Number.isSafeInteger(result) || result < min) {
      throw new RangeError(`${name} must be an integer of at least ${min}, not ${value}`);
    }
    return result;
  };
  const channels = whole('channels', options.channels, 1);
  const listeners = whole('listeners', options.listeners, 1);
  const settings: Settings = {
    listeners,
    notifiers: whole('notifiers', options.notifiers, 1),
    channels,
    channelsPerListener: whole('channelsPerListener', options.channelsPerListener, channels),
    rate: options.rate ?? null,
    durationMs: null,
    count: null,
    payloadSize: whole('payloadSize', options.payloadSize, 64, 0),
    batch: whole('batch', options.batch, 1),
    warmupMs: whole('warmupMs', options.warmupMs, 0, 0),
    stalledListeners: whole('stalledListeners', options.stalledListeners, 0, 0),
  };
  if (settings.channelsPerListener > channels) {
    throw new RangeError(`channelsPerListener (${settings.channelsPerListener}) exceeds channels`);
  }
  if (settings.stalledListeners > listeners) {
    throw new RangeError(`stalledListeners (${settings.stalledListeners}) exceeds listeners`);
  }
  if (settings.rate !== null && !(settings.rate > 0 && Number.isFinite(settings.rate))) {
    throw new RangeError(`rate must be a positive number, not ${settings.rate}`);
  }
  if (options.count !== undefined && options.durationMs !== undefined) {
    throw new RangeError('give either durationMs or count, not both');
  }
  if (options.count !== undefined) settings.count = whole('count', options.count, 0);
  else settings.durationMs = whole('durationMs', options.durationMs, 10_000);
  if (settings.payloadSize >= MAX_PAYLOAD_BYTES) {
    throw new RangeError(
      `payload size ${settings.payloadSize} bytes: a payload must be shorter than ${MAX_PAYLOAD_BYTES} bytes`,
    );
  }
  return settings;
}

const nowMs = () => performance.now();
const nowUs = () => Math.round(performance.now() * 1000);

const SUB_BITS = 6;
const SUB = 1 << SUB_BITS;
const LARGEST_US = 2 ** 31 - 1;
const BUCKETS = SUB * (31 - SUB_BITS) + 2 * SUB;

/** Bucket of a whole number of microseconds: exact below 128, then 64 buckets per power of two. */
function bucketOf(us: number): number {
  if (us < 2 * SUB) return us;
  const shift = 31 - Math.clz32(us) - SUB_BITS;
  return SUB * shift + (us >>> shift);
}

/** The middle of a bucket, in microseconds. */
function bucketMiddle(bucket: number): number {
  if (bucket < 2 * SUB) return bucket;
  const shift = Math.floor(bucket / SUB) - 1;
  return (bucket - SUB * shift) * 2 ** shift + 2 ** (shift - 1);
}

/** A log-linear latency histogram (relative error under 1 %), with exact max and mean. */
class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  private sum = 0;
  private min = Number.POSITIVE_INFINITY;
  private max = 0;

  record(us: number): void {
    const value = Math.min(Math.max(us, 0), LARGEST_US);
    const bucket = bucketOf(value);
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
    this.count += 1;
    this.sum += value;
    this.min = Math.min(this.min, value);
    this.max = Math.max(this.max, value);
  }

  add(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++)
      this.counts[i] = (this.counts[i] ?? 0) + (other.counts[i] ?? 0);
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** The value at quantile `q` (nearest rank), in milliseconds. */
  quantileMs(q: number): number {
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank)
        return round3(Math.min(Math.max(bucketMiddle(i), this.min), this.max) / 1000);
    }
    return round3(this.max / 1000);
  }

  summary(): NotifyBenchLatency | null {
    if (this.count === 0) return null;
    return {
      p50: this.quantileMs(0.5),
      p90: this.quantileMs(0.9),
      p99: this.quantileMs(0.99),
      p999: this.quantileMs(0.999),
      max: round3(this.max / 1000),
      mean: round3(this.sum / this.count / 1000),
    };
  }
}

const round3 = (value: number) => Math.round(value * 1000) / 1000;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A payload's fields: `notifier seq sentAtUs kind`, then padding. */
interface Payload {
  notifier: number;
  seq: number;
  sentAtUs: number;
  /** `m` measured, `w` warm-up (not checked), `e` a notifier's end marker on a channel. */
  kind: string;
}

function makePayload(size: number, notifier: number, seq: number, sentAtUs: number, kind: string) {
  const header = `${notifier} ${seq} ${sentAtUs} ${kind}`;
  return header.length >= size ? header : `${header} `.padEnd(size, 'x');
}

function parsePayload(payload: string): Payload | undefined {
  const [notifier, seq, sentAtUs, kind] = payload
    .split(' ', 4)
    .map((field, i) => (i === 3 ? field : Number(field)));
  if (typeof kind !== 'string' || !['m', 'w', 'e'].includes(kind)) return undefined;
  if (![notifier, seq, sentAtUs].every((n) => Number.isSafeInteger(n) && Number(n) >= 0)) {
    return undefined;
  }
  return { notifier: Number(notifier), seq: Number(seq), sentAtUs: Number(sentAtUs), kind };
}

/** The last measured sequence number notifier-local stream (channel `c`) carried, or c - C. */
function lastSeqOn(sent: number, channel: number, channels: number): number {
  if (channel >= sent) return channel - channels;
  return channel + channels * Math.floor((sent - 1 - channel) / channels);
}

/** Shared measurement state: the timeline and the start of the measured part. */
class Recorder {
  readonly buckets: { sent: number; delivered: number; latency: Histogram }[] = [];
  measureStartMs = 0;

  constructor(readonly intervalMs: number) {}

  private bucket(atMs: number) {
    const index = Math.max(0, Math.floor((atMs - this.measureStartMs) / this.intervalMs));
    while (this.buckets.length <= index) {
      this.buckets.push({ sent: 0, delivered: 0, latency: new Histogram() });
    }
    return this.buckets[index]!;
  }

  sent(count: number, atMs: number): void {
    this.bucket(atMs).sent += count;
  }

  delivered(latencyUs: number, atMs: number): void {
    const bucket = this.bucket(atMs);
    bucket.delivered += 1;
    bucket.latency.record(latencyUs);
  }
}

/** Sequence numbers counted missing on one stream, [from, to] in steps of C. */
interface Missing {
  from: number;
  to: number;
  inGap: boolean;
}

/**
 * What one listener received. A stream is (notifier j, channel c), index j * C + c; notifier
 * j numbers its measured notifications 0, 1, 2, ... and sends number g on channel g mod C,
 * so on one stream consecutive numbers differ by C and any other step is a gap, a
 * duplicate or a reordering. End markers continue each stream's numbering.
 */
class ListenerState {
  readonly latency = new Histogram();
  readonly processIds: number[] = [];
  delivered = 0;
  lost = 0;
  lostInGaps = 0;
  duplicates = 0;
  outOfOrder = 0;
  gaps = 0;
  unexpected = 0;
  lastDeliveryMs = 0;
  error: string | null = null;
  processId = 0;
  private readonly next: Float64Array;
  private readonly highest: Float64Array;
  private readonly afterGap: Uint8Array;
  private readonly missing = new Map<number, Missing[]>();
  private targets: Float64Array | undefined;
  private unsettled = 0;
  private settled: (() => void) | undefined;

  constructor(
    readonly index: number,
    readonly channels: number[],
    readonly stalled: boolean,
    private readonly settings: Settings,
    private readonly recorder: Recorder,
  ) {
    const { notifiers, channels: c } = settings;
    this.next = new Float64Array(notifiers * c);
    this.highest = new Float64Array(notifiers).fill(-1);
    this.afterGap = new Uint8Array(notifiers * c);
    for (let j = 0; j < notifiers; j++) {
      for (let channel = 0; channel < c; channel++) this.next[j * c + channel] = channel;
    }
  }

  receive(channel: number | undefined, payload: string): void {
    const atUs = nowUs();
    const parsed = parsePayload(payload);
    const { notifiers, channels } = this.settings;
    if (channel === undefined || !parsed || parsed.notifier >= notifiers) {
      this.unexpected += 1;
      return;
    }
    if (parsed.kind === 'w') return;
    const { notifier, seq } = parsed;
    if (seq % channels !== channel) {
      this.unexpected += 1;
      return;
    }
    const stream = notifier * channels + channel;
    const next = this.next[stream]!;
    let late: boolean;
    if (seq < next) {
      if (!this.found(stream, seq)) {
        this.duplicates += 1;
        return;
      }
      late = true;
    } else {
      if (seq > next) this.markMissing(stream, next, seq - channels);
      this.advance(stream, seq + channels);
      late = seq < this.highest[notifier]!;
    }
    if (late) this.outOfOrder += 1;
    this.highest[notifier] = Math.max(this.highest[notifier]!, seq);
    if (parsed.kind === 'e') return;
    const latencyUs = atUs - parsed.sentAtUs;
    this.delivered += 1;
    this.lastDeliveryMs = atUs / 1000;
    this.latency.record(latencyUs);
    this.recorder.delivered(latencyUs, this.lastDeliveryMs);
  }

  gap(marker: GapMarker): void {
    this.gaps += 1;
    this.processId = marker.processId;
    this.processIds.push(marker.processId);
    this.afterGap.fill(1);
  }

  fail(message: string): void {
    this.error ??= message;
    this.settled?.();
  }

  /**
   * Resolves once every stream of this listener has passed `targets[stream]` (the sequence
   * number of its end marker, or of its last notification when no end marker was sent), or
   * the listener failed.
   */
  settle(targets: Float64Array): Promise<void> {
    this.targets = targets;
    this.unsettled = 0;
    this.forEachStream((stream) => {
      if (this.next[stream]! <= targets[stream]!) this.unsettled += 1;
    });
    if (this.unsettled === 0 || this.error !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.settled = resolve;
    });
  }

  /** Counts what never arrived up to each stream's last sequence number as missing. */
  finish(lastSeqs: Float64Array): void {
    const { channels } = this.settings;
    this.forEachStream((stream) => {
      const next = this.next[stream]!;
      const last = lastSeqs[stream]!;
      if (next <= last) {
        this.markMissing(stream, next, last);
        this.next[stream] = last + channels;
      }
    });
  }

  counts(expected: number, measureStartMs: number, sendEndMs: number): NotifyBenchCounts {
    const windowMs = Math.max(this.lastDeliveryMs, sendEndMs) - measureStartMs;
    return {
      expected,
      delivered: this.delivered,
      perSecond: windowMs > 0 ? Math.round((this.delivered * 1000) / windowMs) : 0,
      latencyMs: this.latency.summary(),
      lost: this.lost,
      lostInGaps: this.lostInGaps,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      gaps: this.gaps,
      unexpected: this.unexpected,
    };
  }

  private forEachStream(visit: (stream: number) => void): void {
    const { notifiers, channels } = this.settings;
    for (let j = 0; j < notifiers; j++) {
      for (const channel of this.channels) visit(j * channels + channel);
    }
  }

  private advance(stream: number, next: number): void {
    const target = this.targets?.[stream];
    const before = this.next[stream]!;
    this.next[stream] = next;
    if (target !== undefined && before <= target && next > target) {
      this.unsettled -= 1;
      if (this.unsettled === 0) this.settled?.();
    }
  }

  private markMissing(stream: number, from: number, to: number): void {
    const count = (to - from) / this.settings.channels + 1;
    const inGap = this.afterGap[stream] === 1;
    if (inGap) this.lostInGaps += count;
    else this.lost += count;
    const list = this.missing.get(stream) ?? [];
    list.push({ from, to, inGap });
    this.missing.set(stream, list);
    this.afterGap[stream] = 0;
  }

  /** Takes a late arrival out of the missing ranges; false when it was not missing (a duplicate). */
  private found(stream: number, seq: number): boolean {
    const list = this.missing.get(stream);
    const index = list?.findIndex((range) => range.from <= seq && seq <= range.to) ?? -1;
    if (!list || index < 0) return false;
    const range = list[index]!;
    const step = this.settings.channels;
    const rest: Missing[] = [];
    if (range.from < seq) rest.push({ ...range, to: seq - step });
    if (seq < range.to) rest.push({ ...range, from: seq + step });
    list.splice(index, 1, ...rest);
    if (range.inGap) this.lostInGaps -= 1;
    else this.lost -= 1;
    return true;
  }
}

/** One notifying connection and what it committed. */
interface NotifierState {
  index: number;
  conn: Connection;
  /** Measured notifications committed; also the next sequence number. */
  sent: number;
  /** Measured notifications this notifier may send (count mode), else Infinity. */
  quota: number;
  warmupSent: number;
  warmupChannel: number;
  transactions: number;
  failed: number;
  /** The connection was lost; the notifier stopped. */
  dead: boolean;
}

/**
 * The run: opens the connections, sends, drains, and builds the result. One instance per
 * runNotifyBench() call.
 */
class BenchRun {
  private control: Connection | undefined;
  private readonly listeners: Listener[] = [];
  private readonly stalledConns = new Map<ListenerState, Connection>();
  private readonly states: ListenerState[] = [];
  private readonly notifiers: NotifierState[] = [];
  private readonly channelNames: string[];
  private readonly channelIndex = new Map<string, number>();
  private readonly stop = new AbortController();
  private readonly closing = new AbortController();
  private readonly errors = new Map<string, { source: string; message: string; count: number }>();
  private readonly samples: { tMs: number; usage: number }[] = [];
  private sampling: Promise<void> | undefined;
  private server: NotifyBenchResult['server'] = { version: '', address: '', maxConnections: 0 };
  private readonly recorder: Recorder;
  private phase: NotifyBenchProgress['phase'] = 'warmup';
  private deadlineMs = Number.POSITIVE_INFINITY;
  private sendEndMs = 0;
  private drainMs = 0;
  private drained = false;
  private readonly startedAt = new Date();

  constructor(
    private readonly options: NotifyBenchOptions,
    private readonly settings: Settings,
  ) {
    const prefix = `pqnotify_bench_${randomBytes(4).toString('hex')}_`;
    this.channelNames = Array.from({ length: settings.channels }, (_, c) => `${prefix}${c}`);
    for (const [c, name] of this.channelNames.entries()) this.channelIndex.set(name, c);
    this.recorder = new Recorder(options.timelineIntervalMs ?? 1000);
  }

  async run(): Promise<NotifyBenchResult> {
    const signal = this.options.signal;
    const onAbort = () => this.stop.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.setUp();
      if (signal?.aborted) this.stop.abort();
      const progress = this.startProgress();
      try {
        await this.measure();
        await this.drain();
      } finally {
        progress.stop();
      }
      return this.result();
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await this.close();
    }
  }

  private connect(): Promise<Connection> {
    return connect(this.options.conninfo, this.options.connectOptions);
  }

  private async setUp(): Promise<void> {
    this.control = await this.connect();
    await this.checkServer(this.control);
    const { listeners, notifiers, channels, channelsPerListener, stalledListeners } = this.settings;
    const opened = Array.from({ length: listeners }, async (_, index) => {
      const share = Array.from(
        { length: channelsPerListener },
        (_, k) => (index * channelsPerListener + k) % channels,
      );
      const stalled = index < stalledListeners;
      const state = new ListenerState(index, share, stalled, this.settings, this.recorder);
      this.states.push(state);
      if (state.stalled) await this.openStalled(state);
      else await this.openListener(state);
    });
    const connected = Array.from({ length: notifiers }, async (_, index) => {
      const conn = await this.connect();
      this.notifiers.push({
        index,
        conn,
        sent: 0,
        quota: Number.POSITIVE_INFINITY,
        warmupSent: 0,
        warmupChannel: index % channels,
        transactions: 0,
        failed: 0,
        dead: false,
      });
    });
    const outcomes = await Promise.allSettled([...opened, ...connected]);
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure) throw failure.reason;
    this.states.sort((a, b) => a.index - b.index);
    this.notifiers.sort((a, b) => a.index - b.index);
  }

  /** Version, hot standby, room for K + M more connections, and a pg_notify() that is rolled back. */
  private async checkServer(conn: Connection): Promise<void> {
    const { rows } = await conn.exec(
      `SELECT current_setting('server_version'), pg_is_in_recovery(),
        current_setting('max_connections')::int,
        current_setting('superuser_reserved_connections')::int
          + coalesce(current_setting('reserved_connections', true), '0')::int,
        (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
        (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')`,
    );
    const [version, inRecovery, max, reserved, superuser, inUse] = rows[0] ?? [];
    this.server = {
      version: version ?? '',
      address: conn.address,
      maxConnections: Number(max),
    };
    if (inRecovery === 't') {
      throw new NotifyBenchError(
        'BENCH_CANNOT_NOTIFY',
        `${conn.address} is a hot standby (in recovery): NOTIFY and LISTEN need a primary`,
      );
    }
    const { listeners, notifiers } = this.settings;
    const held = superuser === 't' ? 0 : Number(reserved);
    const free = Number(max) - held - Number(inUse);
    if (listeners + notifiers > free) {
      throw new NotifyBenchError(
        'BENCH_TOO_MANY_CONNECTIONS',
        `${listeners + notifiers + 1} connections needed (${plural(listeners, 'listener')}, ` +
          `${plural(notifiers, 'notifier')}, 1 to sample the queue) but the server has room for ${free + 1}: ` +
          `max_connections ${max}, ${held} reserved, ${Number(inUse) - 1} in use by other sessions`,
      );
    }
    await conn.exec('BEGIN');
    try {
      await conn.exec(`SELECT pg_notify(${escapeLiteral(this.channelNames[0]!)}, 'probe')`);
    } catch (error) {
      if (!(error instanceof ServerError)) throw error;
      throw new NotifyBenchError(
        'BENCH_CANNOT_NOTIFY',
        `this role cannot send notifications on ${conn.address}: ${error.message}`,
        { cause: error },
      );
    } finally {
      if (conn.status === 'ok') await conn.exec('ROLLBACK');
    }
  }

  private async openListener(state: ListenerState): Promise<void> {
    const listener = await createListener(this.options.conninfo, {
      ...this.options.connectOptions,
      reconnectMaxDelayMs: 1000,
    });
    this.listeners.push(listener);
    state.processId = listener.processId;
    state.processIds.push(listener.processId);
    listener.on('gap', (marker) => state.gap(marker));
    listener.on('disconnected', () => {
      state.processId = 0;
    });
    listener.on('error', (error) => state.fail(this.recordError(`listener ${state.index}`, error)));
    const handler = (n: { channel: string; payload: string }) =>
      state.receive(this.channelIndex.get(n.channel), n.payload);
    for (const channel of state.channels)
      await listener.listen(this.channelNames[channel]!, handler);
  }

  /** A plain connection that LISTENs, then stays in a transaction so its backend reads nothing. */
  private async openStalled(state: ListenerState): Promise<void> {
    const conn = await this.connect();
    this.stalledConns.set(state, conn);
    state.processId = conn.backendPid;
    state.processIds.push(conn.backendPid);
    const names = state.channels.map((c) => `LISTEN ${escapeIdentifier(this.channelNames[c]!)}`);
    await conn.exec(names.join('; '));
    await conn.exec('BEGIN');
  }

  /** Commits a stalled listener's transaction and reads what it then receives. */
  private async release(state: ListenerState, conn: Connection): Promise<void> {
    try {
      await conn.exec('COMMIT');
      for await (const n of conn.notifications({ signal: this.closing.signal })) {
        state.receive(this.channelIndex.get(n.channel), n.payload);
      }
    } catch (error) {
      if (this.closing.signal.aborted) return;
      state.fail(this.recordError(`listener ${state.index}`, error));
    }
  }

  private async measure(): Promise<void> {
    const { warmupMs, durationMs, count, notifiers } = this.settings;
    const startMs = nowMs();
    this.recorder.measureStartMs = startMs + warmupMs;
    if (durationMs !== null) this.deadlineMs = this.recorder.measureStartMs + durationMs;
    if (count !== null) {
      for (const n of this.notifiers) {
        n.quota = Math.floor(count / notifiers) + (n.index < count % notifiers ? 1 : 0);
      }
    }
    const sampler = setInterval(
      () => void this.sample(),
      this.options.queueSampleIntervalMs ?? 500,
    );
    try {
      await this.sample();
      await Promise.all(this.notifiers.map((n) => this.runNotifier(n, startMs)));
      this.sendEndMs = nowMs();
      this.phase = 'drain';
    } finally {
      clearInterval(sampler);
    }
    await this.sampling;
    await this.sample();
  }

  private async runNotifier(n: NotifierState, startMs: number): Promise<void> {
    const { rate, batch, notifiers } = this.settings;
    const periodMs = rate === null ? 0 : (batch * notifiers * 1000) / rate;
    let due = startMs + (periodMs * n.index) / notifiers;
    for (;;) {
      while (periodMs > 0 && !this.stop.signal.aborted) {
        const wait = Math.min(due, this.deadlineMs) - nowMs();
        if (wait <= 0) break;
        await sleep(Math.ceil(wait), undefined, { signal: this.stop.signal }).catch(() => {});
      }
      const at = nowMs();
      if (this.stop.signal.aborted || at >= this.deadlineMs) return;
      const warm = at < this.recorder.measureStartMs;
      if (!warm) this.phase = 'measure';
      const size = warm ? batch : Math.min(batch, n.quota - n.sent);
      if (size <= 0) return;
      const rows = this.batchRows(n, size, warm);
      due += periodMs;
      try {
        await n.conn.exec(this.notifySql(rows));
      } catch (error) {
        n.failed += 1;
        this.recordError(`notifier ${n.index}`, error);
        if (error instanceof ServerError) continue;
        n.dead = true;
        return;
      }
      n.transactions += 1;
      if (warm) {
        n.warmupSent += size;
        n.warmupChannel = (n.warmupChannel + size) % this.settings.channels;
      } else {
        n.sent += size;
        this.recorder.sent(size, at);
      }
    }
  }

  /** [channel, payload] pairs of the next transaction; numbering advances only once committed. */
  private batchRows(n: NotifierState, size: number, warm: boolean): [number, string][] {
    const { channels, payloadSize } = this.settings;
    const sentAtUs = nowUs();
    return Array.from({ length: size }, (_, i) => {
      if (warm) {
        const channel = (n.warmupChannel + i) % channels;
        return [channel, makePayload(payloadSize, n.index, 0, sentAtUs, 'w')];
      }
      const seq = n.sent + i;
      return [seq % channels, makePayload(payloadSize, n.index, seq, sentAtUs, 'm')];
    });
  }

  private notifySql(rows: [number, string][]): string {
    const values = rows.map(
      ([channel, payload]) =>
        `(${escapeLiteral(this.channelNames[channel]!)}, ${escapeLiteral(payload)})`,
    );
    return `SELECT pg_notify(c, p) FROM (VALUES ${values.join(', ')}) AS v(c, p)`;
  }

  /**
   * Releases stalled listeners, sends each notifier's end markers (one per channel, numbered
   * after its last notification there) and waits until every listener has passed them.
   */
  private async drain(): Promise<void> {
    const started = nowMs();
    const { notifiers, channels, payloadSize } = this.settings;
    for (const [state, conn] of this.stalledConns) void this.release(state, conn);
    const targets = new Float64Array(notifiers * channels);
    await Promise.all(
      this.notifiers.map(async (n) => {
        const ends: { seq: number; row: [number, string] }[] = [];
        for (let c = 0; c < channels; c++) {
          const seq = lastSeqOn(n.sent, c, channels) + channels;
          targets[n.index * channels + c] = seq - channels;
          ends.push({ seq, row: [c, makePayload(payloadSize, n.index, seq, nowUs(), 'e')] });
        }
        if (n.dead) return;
        ends.sort((a, b) => a.seq - b.seq);
        try {
          await n.conn.exec(this.notifySql(ends.map((end) => end.row)));
          for (let c = 0; c < channels; c++) targets[n.index * channels + c]! += channels;
        } catch (error) {
          this.recordError(`notifier ${n.index}`, error);
        }
      }),
    );
    const limit = this.options.drainTimeoutMs ?? 10_000;
    const timeout = sleep(limit, false, { signal: this.closing.signal }).catch(() => false);
    const settled = Promise.all(this.states.map((state) => state.settle(targets))).then(() => true);
    this.drained = await Promise.race([settled, timeout]);
    this.drainMs = Math.round(nowMs() - started);
    await this.sample();
  }

  private async sample(): Promise<void> {
    if (this.sampling) return this.sampling;
    const conn = this.control;
    if (conn?.status !== 'ok') return;
    this.sampling = (async () => {
      try {
        const { rows } = await conn.exec('SELECT pg_notification_queue_usage()');
        const usage = Number(rows[0]?.[0] ?? 0);
        this.samples.push({ tMs: Math.round(nowMs() - this.recorder.measureStartMs), usage });
      } catch (error) {
        this.recordError('queue sampler', error);
      } finally {
        this.sampling = undefined;
      }
    })();
    return this.sampling;
  }

  private startProgress(): { stop(): void } {
    const onProgress = this.options.onProgress;
    if (!onProgress) return { stop() {} };
    let previous = { atMs: nowMs(), sent: 0, delivered: 0 };
    const report = () => {
      const atMs = nowMs();
      const sent = this.notifiers.reduce((sum, n) => sum + n.sent, 0);
      const delivered = this.states.reduce((sum, s) => sum + s.delivered, 0);
      const seconds = Math.max(atMs - previous.atMs, 1) / 1000;
      onProgress({
        phase: this.phase,
        elapsedMs: Math.round(atMs - this.recorder.measureStartMs),
        sent,
        delivered,
        sentPerSecond: Math.round((sent - previous.sent) / seconds),
        deliveredPerSecond: Math.round((delivered - previous.delivered) / seconds),
        queueUsage: this.samples.at(-1)?.usage ?? null,
        gaps: this.states.reduce((sum, s) => sum + s.gaps, 0),
        listeners: this.states.map((s) => ({
          processId: s.processId,
          delivered: s.delivered,
          gaps: s.gaps,
        })),
      });
      previous = { atMs, sent, delivered };
    };
    const timer = setInterval(report, this.options.progressIntervalMs ?? 1000);
    return {
      stop() {
        clearInterval(timer);
        report();
      },
    };
  }

  /** Counts `error` under `source` for the result's `errors`; returns its message. */
  private recordError(source: string, error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    const key = `${source}\0${message}`;
    const entry = this.errors.get(key) ?? { source, message, count: 0 };
    entry.count += 1;
    this.errors.set(key, entry);
    return message;
  }

  private result(): NotifyBenchResult {
    const { channels, notifiers } = this.settings;
    const lastSeqs = new Float64Array(notifiers * channels);
    const sentOn = new Array<number>(channels).fill(0);
    for (const n of this.notifiers) {
      for (let c = 0; c < channels; c++) {
        const last = lastSeqOn(n.sent, c, channels);
        lastSeqs[n.index * channels + c] = last;
        sentOn[c]! += (last - c) / channels + 1;
      }
    }
    const { measureStartMs } = this.recorder;
    const sendEndMs = this.sendEndMs || nowMs();
    const overall = new Histogram();
    const rows = this.states.map((state): NotifyBenchListenerResult => {
      state.finish(lastSeqs);
      overall.add(state.latency);
      const expected = state.channels.reduce((sum, c) => sum + sentOn[c]!, 0);
      return {
        index: state.index,
        processIds: state.processIds,
        channels: state.channels,
        stalled: state.stalled,
        error: state.error,
        ...state.counts(expected, measureStartMs, sendEndMs),
      };
    });
    const sum = (pick: (row: NotifyBenchCounts) => number) =>
      rows.reduce((total, row) => total + pick(row), 0);
    const lastDelivery = Math.max(sendEndMs, ...this.states.map((s) => s.lastDeliveryMs));
    const windowMs = lastDelivery - measureStartMs;
    const interval = this.recorder.intervalMs;
    const delivered = sum((r) => r.delivered);
    const elapsedMs = Math.max(0, sendEndMs - measureStartMs);
    const sent = this.notifiers.reduce((total, n) => total + n.sent, 0);
    return {
      schema: 'pqnotify-bench/1',
      startedAt: this.startedAt.toISOString(),
      server: this.server,
      settings: this.settings,
      aborted: this.options.signal?.aborted ?? false,
      elapsedMs: Math.round(elapsedMs),
      drainMs: this.drainMs,
      drained: this.drained,
      sent,
      sentPerSecond: elapsedMs > 0 ? Math.round((sent * 1000) / elapsedMs) : 0,
      warmupSent: this.notifiers.reduce((total, n) => total + n.warmupSent, 0),
      transactions: this.notifiers.reduce((total, n) => total + n.transactions, 0),
      failedTransactions: this.notifiers.reduce((total, n) => total + n.failed, 0),
      overall: {
        expected: sum((r) => r.expected),
        delivered,
        perSecond: windowMs > 0 ? Math.round((delivered * 1000) / windowMs) : 0,
        latencyMs: overall.summary(),
        lost: sum((r) => r.lost),
        lostInGaps: sum((r) => r.lostInGaps),
        duplicates: sum((r) => r.duplicates),
        outOfOrder: sum((r) => r.outOfOrder),
        gaps: sum((r) => r.gaps),
        unexpected: sum((r) => r.unexpected),
      },
      listeners: rows,
      queueUsage: {
        max: Math.max(0, ...this.samples.map((s) => s.usage)),
        samples: this.samples,
      },
      timeline: this.recorder.buckets.map((bucket, i) => ({
        tMs: i * interval,
        spanMs: Math.ceil(Math.max(0, Math.min(interval, windowMs - i * interval))),
        sent: bucket.sent,
        delivered: bucket.delivered,
        p50Ms: bucket.latency.count > 0 ? bucket.latency.quantileMs(0.5) : null,
        p99Ms: bucket.latency.count > 0 ? bucket.latency.quantileMs(0.99) : null,
      })),
      errors: [...this.errors.values()],
    };
  }

  private async close(): Promise<void> {
    this.stop.abort();
    this.closing.abort();
    await Promise.allSettled([
      ...this.listeners.map((listener) => listener.close()),
      ...[...this.stalledConns.values(), ...this.notifiers.map((n) => n.conn)].map((conn) =>
        conn.close(),
      ),
      this.sampling,
    ]);
    await this.control?.close();
  }
}

/**
 * A load test of LISTEN/NOTIFY on any server: K listeners (Listeners, so a lost connection
 * is retried and shows as a gap) and M notifiers on their own connections, plus one to sample
 * pg_notification_queue_usage(). Each payload carries the notifier, a sequence number and the
 * send time, so every listener's deliveries are checked for loss, duplicates and order, and
 * timed on one clock. Checks the options (RangeError) and the server (NotifyBenchError,
 * ConnectionError) before sending anything; then sends for the duration or count, drains
 * and resolves with the result (see NotifyBenchResult, the `--json` schema). Channels are
 * named `pqnotify_bench_<random>_<n>`, so runs on one server do not meet. Every connection
 * is closed when it resolves or rejects.
 */
export async function runNotifyBench(options: NotifyBenchOptions): Promise<NotifyBenchResult> {
  const settings = checkNotifyBenchOptions(options);
  return new BenchRun(options, settings).run();
}
