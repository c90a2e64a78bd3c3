/**
 * The shapes of the notification benchmark's results (bench/notify.ts), which
 * bench/notify-report.ts renders: kept apart so the two import them, not each other.
 */
import type { JsClient } from './notify-listener.js';

/**
 * A client under test: the JavaScript ones run bench/notify-listener.ts, libpq the C receiver,
 * pqnotify-baseline the pqnotify loop built against another build's dist/ (--baseline).
 */
export type ClientName = JsClient | 'libpq' | 'pqnotify-baseline';

/** The runtime the pqnotify and node-raw listener processes run on (--runtime). */
export type Runtime = 'node' | 'bun' | 'deno';

/** What a run measures (--scenarios). */
export type Scenario = 'burst' | 'latency' | 'connections';

/** Payload sizes in bytes; the last six characters of each payload are its sequence number. */
export const payloadSizes = [6, 100, 1000] as const;

/** One payload size. */
export type PayloadSize = (typeof payloadSizes)[number];

/** Cold: the only burst of a fresh process. Warm: the second burst, after an untimed one. */
export type Variant = 'cold' | 'warm';

/** One listener process receiving bursts. */
export interface BurstRun {
  rep: number;
  client: ClientName;
  payloadBytes: PayloadSize;
  variant: Variant;
  /** Notifications sent in the timed burst. */
  expected: number;
  received: number;
  /** First to last notification of the timed burst, or null when it failed. */
  seconds: number | null;
  /** (received - 1) / seconds, or null when the run failed. */
  perSecond: number | null;
  /** Listener CPU time (user + system) during the timed burst, or null when it failed. */
  cpuSeconds: number | null;
  idleRssKiB: number | null;
  /** Peak resident set since LISTEN (or of the whole process when it could not be reset). */
  peakRssKiB: number | null;
  peakSinceListen: boolean;
  /** Lifetime peak (process.resourceUsage().maxRSS, getrusage for libpq), startup included. */
  maxRssKiB: number | null;
  /** Why the run failed: a short count, wrong sequence numbers, a crash. */
  error?: string;
}

/** Percentiles of latency samples, in microseconds. */
export interface Percentiles {
  p50Us: number;
  p90Us: number;
  p99Us: number;
}

/** One latency process: back-to-back samples (hot) and samples after a pause (paced). */
export interface LatencyRun {
  rep: number;
  client: ClientName;
  samples: number;
  hot: Percentiles | null;
  paced: Percentiles | null;
  /**
   * Paced series: from the read that brought the notification into the process to the
   * notification handed to the caller; null for clients without the instrumentation.
   */
  handout: Percentiles | null;
  error?: string;
}

/** Memory of one listener process holding many LISTENing connections of one client. */
export interface ConnectionsRun {
  rep: number;
  client: ClientName;
  connections: number;
  /** Bytes of notifications each connection received between the two measurements. */
  trafficBytes: number;
  /** heapUsed + external after a forced gc, in KiB: with no connection, idle, after traffic. */
  baseKiB: number | null;
  /** The same once one connection was opened and closed, before the N were opened. */
  warmKiB: number | null;
  idleKiB: number | null;
  afterKiB: number | null;
  /** The resident set (VmRSS) at the same three points, in KiB. */
  rssKiB: { base: number; idle: number; after: number } | null;
  error?: string;
}

/** Median memory per connection of one client, above the process without connections. */
export interface ConnectionsRow {
  client: ClientName;
  connections: number;
  idleKiBPerConnection: number | null;
  afterKiBPerConnection: number | null;
  /**
   * The same above the process after one connection was opened and closed (the client's code
   * loaded and compiled): what each further connection costs.
   */
  idleMarginalKiBPerConnection: number | null;
  afterMarginalKiBPerConnection: number | null;
  /** The same from the resident set: pages touched, where heap + external counts allocations. */
  idleRssKiBPerConnection: number | null;
  afterRssKiBPerConnection: number | null;
  failures: number;
}

/** Median throughput of one client, payload size and variant. */
export interface ThroughputRow {
  client: ClientName;
  payloadBytes: PayloadSize;
  variant: Variant;
  perSecond: number | null;
  /** Median listener CPU time per notification, in nanoseconds. */
  cpuNsPerNotification: number | null;
  /** Median listener CPU time over the first-to-last time (1 = one core busy throughout). */
  cpuBusy: number | null;
  failures: number;
}

/** Median latency percentiles of one client, each the median over the repetitions. */
export interface LatencyRow {
  client: ClientName;
  hot: Percentiles | null;
  paced: Percentiles | null;
  handout: Percentiles | null;
  failures: number;
}

/** Listener memory of one client and payload size. */
export interface MemoryRow {
  client: ClientName;
  payloadBytes: PayloadSize;
  variant: Variant;
  /** Median resident set right after LISTEN. */
  idleMiB: number | null;
  /** Median peak since LISTEN. */
  peakMiB: number | null;
  /** Largest (peak - idle) over the repetitions. */
  maxGrowthMiB: number | null;
}

/** One target of the issue, checked in this run. */
export interface TargetRow {
  target: string;
  client: ClientName;
  variant: Variant | 'all';
  /** A ratio (x), MiB above idle, or microseconds. */
  value: number | null;
  /** The bound, in the same unit as value. */
  limit: number;
  kind: 'atLeast' | 'atMost';
  unit: 'x' | 'MiB' | 'µs';
  /** null when the reference client did not run. */
  pass: boolean | null;
}

/** Where and how the benchmark ran. */
export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  /** The runtime of the pqnotify and node-raw listeners, with its version. */
  runtime: string;
  /** True when every client connected with sslmode=require (--tls). */
  tls: boolean;
  /** With tls: pqnotify and node-raw used sslnegotiation=direct (--tls-direct). */
  tlsDirect?: boolean;
  server: string;
  serverSource: string;
  libpq: string | null;
  pg: string;
  postgres: string;
}

/** Everything one run of the benchmark found; written as notify.json. */
export interface NotifyReport {
  date: string;
  quick: boolean;
  reps: number;
  counts: Partial<Record<PayloadSize, number>>;
  scenarios: Scenario[];
  latencyWarmup: number;
  latencySamples: number;
  latencyGapMs: number;
  machine: Machine;
  clients: ClientName[];
  skipped: { client: ClientName; reason: string }[];
  throughput: ThroughputRow[];
  latency: LatencyRow[];
  memory: MemoryRow[];
  connections: ConnectionsRow[];
  targets: TargetRow[];
  failures: string[];
  runs: { bursts: BurstRun[]; latency: LatencyRun[]; connections: ConnectionsRun[] };
}
