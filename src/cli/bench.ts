import { writeFile } from 'node:fs/promises';
import {
  checkNotifyBenchOptions,
  type NotifyBenchCounts,
  NotifyBenchError,
  type NotifyBenchOptions,
  type NotifyBenchProgress,
  type NotifyBenchResult,
  runNotifyBench,
} from '../bench/notify-bench.js';
import { renderBenchChart } from './chart.js';
import { startCluster } from './cluster.js';
import {
  CliError,
  type CliIo,
  type ConnectionSettings,
  checkLimit,
  connectionSettings,
  ExitCode,
  noServerConfigured,
  parseCommandLine,
  UsageError,
  writeLine,
} from './common.js';
import { durableBenchCommand } from './durable-bench.js';
import { markdownTable, plural } from './format.js';

const HELP = `Usage: pqnotify bench [--url URL] [options]

A load test of LISTEN/NOTIFY: K listeners and M notifiers on their own connections. Every
payload carries its notifier, a sequence number and the send time, so each listener's
deliveries are timed and checked for loss, duplicates and order. Prints progress on stderr
and a summary table on stdout. Without a server (--url, DATABASE_URL, PG* variables) it
starts an embedded PostgreSQL for the run.

  --listeners K          connections that LISTEN (default 1)
  --notifiers M          connections that NOTIFY (default 1)
  --channels C           channels the notifications are spread over (default 1)
  --listener-channels S  each listener listens on S of the C channels (default all)
  --rate R               total notifications per second (default: as fast as they commit)
  --duration D           how long to send: 10, 10s, 500ms, 2m (default 10s)
  --count N              send N notifications instead of for a duration
  --payload-size B       bytes per payload, below 8000 (default 64)
  --batch X              notifications per transaction (default 1)
  --warmup D             send for D first, unmeasured (default 0)
  --stall N              the first N listeners stay in a transaction while sending, so the
                         server's queue fills; they catch up at the end
  --json                 print the result as one JSON object (schema pqnotify-bench/1)
  --chart FILE.svg       write throughput, latency and queue usage over time as SVG
  --quiet                no progress on stderr
  --url URL              the server (default: DATABASE_URL, then PG* variables, as psql)
  -h, --help             this text

  --mode durable         instead: NOTIFY against durable notifications. For each count in
                         --writers (default 1,4,16), that many writers commit one notification
                         per transaction for --duration (default 5s), with NOTIFY and then
                         with pg_logical_emit_message, read by one LISTEN connection or one
                         durable stream; a table compares commits/s, delivery and latency and
                         counts losses (needs wal_level = logical; the embedded server has it).
                         Takes --writers, --duration, --payload-size, --json, --quiet, --url

Latency is from the pg_notify() call to the harness reading the notification, on one
clock. "lost" counts sequence gaps no reconnect explains; "in gaps" those sent while a
listener was reconnecting. Exits 1 when a connection broke or a transaction failed, 6 when
the payload or the connection count is over the server's limits.`;

/** A whole number of at least `min`, or a UsageError naming the option. */
function integer(name: string, text: string | undefined, min = 1): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, not "${text}"`);
  }
  return value;
}

/** A duration in milliseconds from `10`, `10s`, `1.5s`, `500ms` or `2m`. */
function duration(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!match) throw new UsageError(`--${name} must be a duration such as 10, 10s, 500ms or 2m`);
  const scale = match[2] === 'ms' ? 1 : match[2] === 'm' ? 60_000 : 1000;
  return Math.round(Number(match[1]) * scale);
}

/** The library options from the command line; usage mistakes throw UsageError. */
function benchOptions(values: Record<string, string | boolean | undefined>) {
  const text = (name: string) => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const rate = text('rate');
  if (rate !== undefined && !(Number(rate) > 0 && Number.isFinite(Number(rate)))) {
    throw new UsageError(`--rate must be a positive number, not "${rate}"`);
  }
  if (text('duration') !== undefined && text('count') !== undefined) {
    throw new UsageError('give --duration or --count, not both');
  }
  const options: Omit<NotifyBenchOptions, 'conninfo'> = {
    listeners: integer('listeners', text('listeners')),
    notifiers: integer('notifiers', text('notifiers')),
    channels: integer('channels', text('channels')),
    channelsPerListener: integer('listener-channels', text('listener-channels')),
    rate: rate === undefined ? undefined : Number(rate),
    durationMs: duration('duration', text('duration')),
    count: integer('count', text('count')),
    payloadSize: integer('payload-size', text('payload-size'), 0),
    batch: integer('batch', text('batch')),
    warmupMs: duration('warmup', text('warmup')),
    stalledListeners: integer('stall', text('stall'), 0),
  };
  if (options.durationMs === 0) throw new UsageError('--duration must be longer than 0');
  const channels = options.channels ?? 1;
  if ((options.channelsPerListener ?? channels) > channels) {
    throw new UsageError(`--listener-channels cannot exceed --channels (${channels})`);
  }
  if ((options.stalledListeners ?? 0) > (options.listeners ?? 1)) {
    throw new UsageError('--stall cannot exceed --listeners');
  }
  checkLimit(() => checkNotifyBenchOptions(options));
  return options;
}

const count = (value: number) => value.toLocaleString('en-US');
const percent = (fraction: number) => `${Number((fraction * 100).toPrecision(2))}%`;
const ms = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(2));

function progressLine(p: NotifyBenchProgress): string {
  const usage = p.queueUsage === null ? '-' : percent(p.queueUsage);
  return (
    `${(p.elapsedMs / 1000).toFixed(1).padStart(6)} s ${p.phase.padEnd(7)} ` +
    `sent ${count(p.sent)} (${count(p.sentPerSecond)}/s)  ` +
    `delivered ${count(p.delivered)} (${count(p.deliveredPerSecond)}/s)  ` +
    `queue ${usage}  gaps ${p.gaps}`
  );
}

function countCells(c: NotifyBenchCounts): string[] {
  const l = c.latencyMs ?? undefined;
  return [
    count(c.expected),
    count(c.delivered),
    count(c.perSecond),
    ms(l?.p50),
    ms(l?.p90),
    ms(l?.p99),
    ms(l?.p999),
    ms(l?.max),
    count(c.lost),
    count(c.lostInGaps),
    count(c.gaps),
    count(c.duplicates),
    count(c.outOfOrder),
  ];
}

/**
 * The human summary of a run (what `pqnotify bench` prints without --json): settings, totals,
 * a Markdown table with a row per listener and one for all. Also renders a saved --json result.
 */
function formatBenchSummary(result: NotifyBenchResult): string {
  const s = result.settings;
  const amount =
    s.count === null ? `${(s.durationMs ?? 0) / 1000} s` : `${count(s.count)} notifications`;
  const lines = [
    `pqnotify bench: ${plural(s.listeners, 'listener')}, ${plural(s.notifiers, 'notifier')}, ` +
      `${plural(s.channels, 'channel')} (${s.channelsPerListener} per listener), ` +
      `${s.rate === null ? 'unthrottled' : `${count(s.rate)}/s`}, ${amount}, ` +
      `payload ${s.payloadSize} B, batch ${s.batch}` +
      (s.warmupMs > 0 ? `, warm-up ${s.warmupMs / 1000} s` : '') +
      (s.stalledListeners > 0 ? `, ${s.stalledListeners} stalled` : '') +
      (result.aborted ? ' (stopped early)' : ''),
    `server: PostgreSQL ${result.server.version} at ${result.server.address}`,
    `sent: ${count(result.sent)} notifications in ${(result.elapsedMs / 1000).toFixed(2)} s ` +
      `(${count(result.sentPerSecond)}/s), ${count(result.transactions)} transactions, ` +
      `${count(result.failedTransactions)} failed`,
    `drain: ${result.drainMs} ms${result.drained ? '' : ' (timed out: missing ones count as lost)'}; ` +
      `queue usage max ${percent(result.queueUsage.max)} ` +
      `(${result.queueUsage.samples.length} samples)`,
    '',
    markdownTable(
      [
        'listener',
        'pids',
        'expected',
        'delivered',
        'rate/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'p99.9 ms',
        'max ms',
        'lost',
        'in gaps',
        'gaps',
        'dups',
        'out of order',
      ],
      [
        ...result.listeners.map((l) => [
          `${l.index}${l.stalled ? ' (stalled)' : ''}${l.error === null ? '' : ' (failed)'}`,
          l.processIds.join('→'),
          ...countCells(l),
        ]),
        ['all', '', ...countCells(result.overall)],
      ],
    ),
  ];
  return lines.join('\n');
}

/** Prints progress on stderr: one line rewritten in place on a terminal, else a line each time. */
function progressPrinter(io: CliIo): { onProgress: (p: NotifyBenchProgress) => void; end(): void } {
  const tty = 'isTTY' in io.stderr && io.stderr.isTTY === true;
  let printed = false;
  return {
    onProgress(p) {
      printed = true;
      if (tty) io.stderr.write(`\r${progressLine(p)}\x1b[K`);
      else io.stderr.write(`${progressLine(p)}\n`);
    },
    end() {
      if (tty && printed) io.stderr.write('\n');
    },
  };
}

async function withServer<T>(
  url: string | undefined,
  io: CliIo,
  run: (conninfo: string, options: ConnectionSettings['options']) => Promise<T>,
): Promise<T> {
  const { conninfo, options } = connectionSettings(url, io);
  if (!noServerConfigured(url, options.env)) return run(conninfo, options);
  await writeLine(
    io.stderr,
    'pqnotify bench: no server given (--url, DATABASE_URL, PG* variables); starting an embedded PostgreSQL',
  );
  const cluster = await startCluster();
  await writeLine(
    io.stderr,
    `pqnotify bench: embedded server at ${cluster.url} in ${cluster.root}`,
  );
  return cluster.use(() => run(cluster.url, options));
}

/** `pqnotify bench`: runs runNotifyBench() and prints its result; see HELP. */
export async function benchCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    url: { type: 'string' },
    listeners: { type: 'string' },
    notifiers: { type: 'string' },
    channels: { type: 'string' },
    'listener-channels': { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    count: { type: 'string' },
    'payload-size': { type: 'string' },
    batch: { type: 'string' },
    warmup: { type: 'string' },
    stall: { type: 'string' },
    json: { type: 'boolean' },
    chart: { type: 'string' },
    quiet: { type: 'boolean' },
    mode: { type: 'string' },
    writers: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    await writeLine(io.stdout, HELP);
    return ExitCode.ok;
  }
  if (positionals.length > 0) throw new UsageError('bench takes no arguments, only options');
  if (values.mode !== undefined && values.mode !== 'notify') {
    if (values.mode !== 'durable') throw new UsageError('--mode is notify or durable');
    const { url, writers, duration: d, 'payload-size': size, json, quiet, ...other } = values;
    const extra = Object.keys(other).filter((name) => name !== 'mode' && name !== 'help');
    if (extra.length > 0) {
      throw new UsageError(`--mode durable does not take --${extra.join(', --')}`);
    }
    return durableBenchCommand(
      {
        url,
        writers,
        durationMs: duration('duration', d),
        payloadSize: integer('payload-size', size, 40),
        json: json ?? false,
        quiet: quiet ?? false,
      },
      io,
    );
  }
  if (values.writers !== undefined) throw new UsageError('--writers goes with --mode durable');
  const options = benchOptions(values);
  const progress = values.quiet ? undefined : progressPrinter(io);
  const result = await withServer(values.url, io, async (conninfo, connectOptions) => {
    try {
      return await runNotifyBench({
        ...options,
        conninfo,
        connectOptions,
        signal: io.signal,
        ...(progress ? { onProgress: progress.onProgress } : {}),
      });
    } catch (error) {
      if (!(error instanceof NotifyBenchError)) throw error;
      const code = error.code === 'BENCH_TOO_MANY_CONNECTIONS' ? ExitCode.limit : ExitCode.failure;
      throw new CliError(code, error.message);
    } finally {
      progress?.end();
    }
  });
  await writeLine(
    io.stdout,
    values.json ? JSON.stringify(result, null, 2) : formatBenchSummary(result),
  );
  if (values.chart) {
    await writeFile(values.chart, renderBenchChart(result));
    await writeLine(io.stderr, `pqnotify bench: chart written to ${values.chart}`);
  }
  for (const error of result.errors) {
    await writeLine(
      io.stderr,
      `pqnotify bench: ${error.source}: ${error.message} (${error.count}×)`,
    );
  }
  return result.errors.length > 0 ? ExitCode.failure : ExitCode.ok;
}
