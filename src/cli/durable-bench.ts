import { type DurableBenchResult, runDurableBench } from '../bench/durable-bench.js';
import { startCluster } from './cluster.js';
import {
  type CliIo,
  connectionSettings,
  ExitCode,
  noServerConfigured,
  UsageError,
  writeLine,
} from './common.js';
import { markdownTable } from './format.js';

/** What `pqnotify bench --mode durable` takes from the command line. */
export interface DurableBenchArgs {
  url: string | undefined;
  writers: string | undefined;
  durationMs: number | undefined;
  payloadSize: number | undefined;
  json: boolean;
  quiet: boolean;
}

/**
 * `pqnotify bench --mode durable`: for each writer count (default 1, 4, 16), M writers commit
 * one notification per transaction for the duration, first with NOTIFY, then with durable
 * messages; prints a comparison table (or JSON). Without a server it starts an embedded one
 * with wal_level = logical. Exits 1 when anything was lost.
 */
export async function durableBenchCommand(args: DurableBenchArgs, io: CliIo): Promise<number> {
  const counts = (args.writers ?? '1,4,16').split(',').map((text) => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || n < 1) {
      throw new UsageError(
        `--writers takes a list of counts such as 1,4,16, not "${args.writers}"`,
      );
    }
    return n;
  });
  const { conninfo: given, options: connectOptions } = connectionSettings(args.url, io);
  const run = async (conninfo: string): Promise<DurableBenchResult[]> => {
    const results: DurableBenchResult[] = [];
    for (const writers of counts) {
      for (const mode of ['notify', 'durable'] as const) {
        if (io.signal.aborted) return results;
        if (!args.quiet) {
          await writeLine(io.stderr, `pqnotify bench: ${mode} with ${writers} writer(s)...`);
        }
        results.push(
          await runDurableBench({
            conninfo,
            connectOptions,
            mode,
            writers,
            ...(args.durationMs === undefined ? {} : { durationMs: args.durationMs }),
            ...(args.payloadSize === undefined ? {} : { payloadSize: args.payloadSize }),
          }),
        );
      }
    }
    return results;
  };
  let results: DurableBenchResult[];
  if (noServerConfigured(args.url, connectOptions.env)) {
    await writeLine(
      io.stderr,
      'pqnotify bench: no server given; starting an embedded PostgreSQL with wal_level = logical',
    );
    const cluster = await startCluster({
      settings: { wal_level: 'logical', max_replication_slots: '4', max_wal_senders: '4' },
    });
    results = await cluster.use(() => run(cluster.url));
  } else {
    results = await run(given);
  }
  await writeLine(io.stdout, args.json ? JSON.stringify(results, null, 2) : formatTable(results));
  return results.some((r) => r.lost > 0 || r.duplicates > 0) ? ExitCode.failure : ExitCode.ok;
}

/** The comparison as a Markdown table, one row per mode and writer count. */
export function formatTable(results: readonly DurableBenchResult[]): string {
  const n = (value: number) => value.toLocaleString('en-US');
  return markdownTable(
    [
      'mode',
      'writers',
      'commits/s',
      'delivered/s',
      'p50 ms',
      'p99 ms',
      'lost',
      'dups',
      'out of order',
    ],
    results.map((r) => [
      r.mode === 'notify' ? 'NOTIFY' : 'durable',
      String(r.writers),
      n(r.commitsPerSecond),
      n(r.deliveredPerSecond),
      r.latencyMs ? r.latencyMs.p50.toFixed(2) : '-',
      r.latencyMs ? r.latencyMs.p99.toFixed(2) : '-',
      n(r.lost),
      n(r.duplicates),
      n(r.outOfOrder),
    ]),
  );
}
