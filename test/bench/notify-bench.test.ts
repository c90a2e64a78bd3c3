import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { NotifyReport } from '../../bench/notify-types.js';
import {
  type NotifyBenchCounts,
  NotifyBenchError,
  type NotifyBenchResult,
  runNotifyBench,
} from '../../src/bench/index.js';
import { connect } from '../../src/index.js';
import { connectTest, managed, server } from '../support/server.js';

/** Every notification arrived once, in order, on every listener. */
function expectComplete(result: NotifyBenchResult): void {
  for (const row of [...result.listeners, result.overall]) {
    expect(row).toMatchObject({
      delivered: row.expected,
      lost: 0,
      lostInGaps: 0,
      duplicates: 0,
      outOfOrder: 0,
      gaps: 0,
      unexpected: 0,
    });
  }
  expect(result.drained).toBe(true);
  expect(result.errors).toEqual([]);
}

/** Percentiles are positive and ordered: p50 <= p90 <= p99 <= p99.9 <= max. */
function expectLatencyOrdered(counts: NotifyBenchCounts): void {
  const latency = counts.latencyMs;
  expect(latency).not.toBeNull();
  if (!latency) return;
  expect(latency.p50).toBeGreaterThan(0);
  expect(latency.p90).toBeGreaterThanOrEqual(latency.p50);
  expect(latency.p99).toBeGreaterThanOrEqual(latency.p90);
  expect(latency.p999).toBeGreaterThanOrEqual(latency.p99);
  expect(latency.max).toBeGreaterThanOrEqual(latency.p999);
  expect(latency.mean).toBeGreaterThan(0);
  expect(latency.mean).toBeLessThanOrEqual(latency.max);
}

describe('runNotifyBench', () => {
  it('delivers every notification to every listener; counts and timeline add up', async () => {
    const result = await runNotifyBench({
      conninfo: server.url,
      listeners: 2,
      notifiers: 2,
      channels: 3,
      count: 600,
      batch: 4,
      payloadSize: 100,
    });
    expect(result.sent).toBe(600);
    expect(result.transactions).toBe(150);
    expect(result.failedTransactions).toBe(0);
    expect(result.listeners.map((l) => l.expected)).toEqual([600, 600]);
    expect(result.overall.expected).toBe(1200);
    expectComplete(result);
    for (const row of [...result.listeners, result.overall]) expectLatencyOrdered(row);
    expect(result.listeners.map((l) => l.processIds.length)).toEqual([1, 1]);
    expect(result.timeline.reduce((sum, b) => sum + b.sent, 0)).toBe(600);
    expect(result.timeline.reduce((sum, b) => sum + b.delivered, 0)).toBe(1200);
    expect(result.queueUsage.samples.length).toBeGreaterThanOrEqual(2);
    expect(result.server.maxConnections).toBeGreaterThan(0);
    expect(result.aborted).toBe(false);
  });

  it('gives each listener its share of the channels', async () => {
    const result = await runNotifyBench({
      conninfo: server.url,
      listeners: 3,
      notifiers: 2,
      channels: 6,
      channelsPerListener: 2,
      count: 300,
    });
    expect(result.listeners.map((l) => l.channels)).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    expect(result.listeners.map((l) => l.expected)).toEqual([100, 100, 100]);
    expectComplete(result);
  });

  it('paces a rate for a duration after an unmeasured warm-up', async () => {
    const result = await runNotifyBench({
      conninfo: server.url,
      listeners: 1,
      notifiers: 2,
      rate: 400,
      batch: 2,
      warmupMs: 200,
      durationMs: 500,
    });
    expect(result.settings).toMatchObject({ rate: 400, durationMs: 500, count: null });
    expect(result.warmupSent).toBeGreaterThan(0);
    expect(result.sent).toBeGreaterThan(0);
    expect(result.sent % 2).toBe(0);
    expect(result.listeners[0]?.expected).toBe(result.sent);
    expectComplete(result);
  });

  it('shows the queue filling while a listener is stalled; it catches up afterwards', async () => {
    const result = await runNotifyBench({
      conninfo: server.url,
      listeners: 2,
      stalledListeners: 1,
      notifiers: 1,
      count: 2000,
      batch: 50,
      payloadSize: 4000,
    });
    const [first] = result.queueUsage.samples;
    expect(first).toBeDefined();
    expect(result.queueUsage.max).toBeGreaterThan(first?.usage ?? 1);
    expect(result.listeners.map((l) => l.stalled)).toEqual([true, false]);
    expectComplete(result);
  });

  it('reports a killed listener backend as a gap, not as silent loss', async () => {
    await using admin = await connectTest();
    const controller = new AbortController();
    let killed = 0;
    let deliveredAtGap: number | undefined;
    const result = await runNotifyBench({
      conninfo: server.url,
      listeners: 2,
      notifiers: 1,
      rate: 500,
      durationMs: 20_000,
      progressIntervalMs: 20,
      signal: controller.signal,
      onProgress: ({ listeners }) => {
        const target = listeners[0];
        if (!target) return;
        if (killed === 0 && target.delivered > 10 && target.processId !== 0) {
          killed = target.processId;
          void admin.query('SELECT pg_terminate_backend($1::int)', [String(killed)]);
        } else if (killed !== 0 && target.gaps === 1) {
          deliveredAtGap ??= target.delivered;
          if (target.delivered > deliveredAtGap) controller.abort();
        }
      },
    });
    expect(result.aborted).toBe(true);
    const [victim, other] = result.listeners;
    expect(victim?.processIds[0]).toBe(killed);
    expect(victim?.processIds).toHaveLength(2);
    expect(victim).toMatchObject({ gaps: 1, lost: 0, duplicates: 0, outOfOrder: 0, error: null });
    expect((victim?.delivered ?? 0) + (victim?.lostInGaps ?? 0)).toBe(victim?.expected);
    expect(other).toMatchObject({ gaps: 0, lost: 0, lostInGaps: 0, delivered: result.sent });
    expect(result.overall.gaps).toBe(1);
  });

  it('stops early on abort and still accounts for everything sent', async () => {
    const controller = new AbortController();
    const result = await runNotifyBench({
      conninfo: server.url,
      listeners: 2,
      notifiers: 2,
      rate: 200,
      durationMs: 20_000,
      progressIntervalMs: 20,
      signal: controller.signal,
      onProgress: ({ delivered }) => {
        if (delivered > 0) controller.abort();
      },
    });
    expect(result.aborted).toBe(true);
    expect(result.sent).toBeGreaterThan(0);
    expect(result.elapsedMs).toBeLessThan(20_000);
    expectComplete(result);
  });

  it('refuses bad options before connecting', async () => {
    const nowhere = 'postgres://u@127.0.0.1:1/none?connect_timeout=1';
    await expect(runNotifyBench({ conninfo: nowhere, payloadSize: 8000 })).rejects.toThrow(
      /shorter than 8000 bytes/,
    );
    await expect(runNotifyBench({ conninfo: nowhere, listeners: 0 })).rejects.toThrow(RangeError);
    await expect(runNotifyBench({ conninfo: nowhere, count: 5, durationMs: 5 })).rejects.toThrow(
      RangeError,
    );
    await expect(
      runNotifyBench({ conninfo: nowhere, listeners: 1, stalledListeners: 2 }),
    ).rejects.toThrow(RangeError);
  });

  it('refuses more connections than max_connections allows, with the numbers', async () => {
    const error = await runNotifyBench({
      conninfo: server.url,
      listeners: 100_000,
      notifiers: 4,
      count: 1,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotifyBenchError);
    expect(error).toMatchObject({ code: 'BENCH_TOO_MANY_CONNECTIONS' });
    expect(String(error)).toMatch(
      /100005 connections needed \(100000 listeners, 4 notifiers, 1 to sample the queue\) but the server has room for \d+: max_connections \d+/,
    );
  });

  it.skipIf(!managed)('refuses a role that cannot call pg_notify()', async () => {
    await using admin = await connectTest();
    const name = `pqn_bench_${process.pid}`;
    const password = `pw-${name}`;
    await admin.exec(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
    try {
      await admin.exec(`CREATE DATABASE ${name}`);
      const owner = await connect({ ...urlParts(), dbname: name });
      try {
        await owner.exec('REVOKE EXECUTE ON FUNCTION pg_notify(text, text) FROM PUBLIC');
      } finally {
        await owner.close();
      }
      const error = await runNotifyBench({
        conninfo: { ...urlParts(), dbname: name, user: name, password },
        count: 1,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotifyBenchError);
      expect(error).toMatchObject({ code: 'BENCH_CANNOT_NOTIFY' });
      expect(String(error)).toMatch(/cannot send notifications .*permission denied.*42501/);
    } finally {
      await admin.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.exec(`DROP ROLE ${name}`);
    }
  });
});

/** The test server as connect() options for its superuser. */
function urlParts() {
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    dbname: server.database,
  };
}

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs `npm run bench -- notify --quick ...args` (as npm would: node with tsx) writing into a
 * temporary directory, and returns the report it wrote.
 */
async function benchNotify(args: string[]): Promise<NotifyReport> {
  const out = await mkdtemp(join(tmpdir(), 'pqnotify-bench-test-'));
  try {
    await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/run.ts',
        'notify',
        '--quick',
        '--out',
        out,
        '--name',
        'r',
        ...args,
      ],
      { cwd: root, maxBuffer: 16 * 1024 * 1024 },
    );
    return JSON.parse(await readFile(join(out, 'r.json'), 'utf8')) as NotifyReport;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** The test server for the pqn_trust role (node-raw speaks trust authentication only). */
const trustUrl = managed && `postgres://pqn_trust@127.0.0.1:${managed.port}/${managed.database}`;

describe('npm run bench -- notify', () => {
  it('runs every client over TLS on its own server with a test certificate', async () => {
    // The bench's server takes TLS connections only (hostssl): a client that fell back to
    // plaintext would fail its runs.
    const report = await benchNotify([
      '--tls',
      '--sizes',
      '6',
      '--count',
      '2000',
      '--scenarios',
      'burst,latency',
    ]);
    expect(report.failures).toEqual([]);
    expect(report.machine.tls).toBe(true);
    expect(report.machine.serverSource).toMatch(/ssl = on/);
    const ran = report.clients.filter((c) => !report.skipped.some((s) => s.client === c));
    expect(ran).toEqual(
      expect.arrayContaining([
        'pqnotify-loop',
        'pqnotify-batch',
        'pg',
        'postgres',
        'node-raw',
        'node-raw-frames',
      ]),
    );
    for (const client of ran) {
      const rows = report.throughput.filter((r) => r.client === client);
      expect(rows.map((r) => [r.variant, r.perSecond !== null && r.perSecond > 0])).toEqual([
        ['cold', true],
        ['warm', true],
      ]);
    }
    const handout = (client: string) =>
      report.latency.find((r) => r.client === client)?.handout?.p50Us;
    expect(handout('pqnotify-loop')).toBeGreaterThan(0);
    expect(handout('node-raw')).toBeGreaterThan(0);
    expect(handout('pg')).toBeUndefined();
    expect(report.targets.map((t) => t.target)).toEqual(
      expect.arrayContaining([
        'throughput 6 B vs postgres.js',
        'paced latency p50 vs node-raw',
        'read to handout p50 (paced)',
        'throughput 6 B vs the notifies() loop',
      ]),
    );
  }, 300_000);

  it.skipIf((managed?.cluster?.major ?? 0) < 17)(
    '--tls-direct puts pqnotify and node-raw on sslnegotiation=direct, the others on SSLRequest',
    async () => {
      // The bench's server takes TLS connections only; its binaries are the test server's.
      const report = await benchNotify([
        '--tls-direct',
        '--clients',
        'pqnotify-loop,node-raw-frames,pg',
        '--sizes',
        '6',
        '--count',
        '2000',
        '--scenarios',
        'burst',
      ]);
      expect(report.failures).toEqual([]);
      expect(report.machine).toMatchObject({ tls: true, tlsDirect: true });
      expect(report.skipped).toEqual([]);
      for (const client of ['pqnotify-loop', 'node-raw-frames', 'pg']) {
        const rows = report.throughput.filter((r) => r.client === client);
        expect(rows.map((r) => r.perSecond !== null && r.perSecond > 0)).toEqual([true, true]);
      }
    },
    300_000,
  );

  it.skipIf(!trustUrl)(
    'measures memory per connection, idle and after traffic, for pqnotify, pg and postgres.js',
    async () => {
      const report = await benchNotify([
        '--url',
        trustUrl || '',
        '--scenarios',
        'connections',
        '--connections',
        '5',
        '--clients',
        'pqnotify-loop,pg,postgres,node-raw',
      ]);
      expect(report.failures).toEqual([]);
      expect(report.connections.map((r) => r.client)).toEqual(['pqnotify-loop', 'pg', 'postgres']);
      for (const row of report.connections) {
        expect(row.connections).toBe(5);
        expect(row.idleKiBPerConnection).toBeGreaterThan(0);
        expect(row.afterKiBPerConnection).not.toBeNull();
        expect(row.idleRssKiBPerConnection).not.toBeNull();
        expect(row.idleMarginalKiBPerConnection).toBeGreaterThan(0);
        expect(row.afterMarginalKiBPerConnection).not.toBeNull();
      }
      for (const run of report.runs.connections) {
        expect(run.warmKiB).toBeGreaterThan(run.baseKiB ?? Number.POSITIVE_INFINITY);
      }
      expect(report.runs.connections.map((r) => r.trafficBytes)).toEqual([
        300_000, 300_000, 300_000,
      ]);
      expect(report.targets.map((t) => t.target)).toEqual([
        'memory per connection, idle, vs pg',
        'memory per connection, after traffic, vs pg',
        'memory per connection, idle, marginal, vs pg',
        'memory per connection, after traffic, marginal, vs pg',
      ]);
    },
    300_000,
  );

  it.skipIf(!trustUrl).each(['bun', 'deno'])(
    'runs the pqnotify and node-raw listeners on %s (--runtime)',
    async (runtime) => {
      const report = await benchNotify([
        '--url',
        trustUrl || '',
        '--runtime',
        runtime,
        '--sizes',
        '6',
        '--count',
        '2000',
        '--scenarios',
        'burst',
        '--clients',
        'pqnotify-loop,node-raw',
      ]);
      expect(report.failures).toEqual([]);
      expect(report.machine.runtime.startsWith(`${runtime} `)).toBe(true);
      expect(report.throughput.every((r) => r.perSecond !== null && r.perSecond > 0)).toBe(true);
    },
    300_000,
  );

  it('refuses an unknown runtime and a baseline that is no build', async () => {
    await expect(benchNotify(['--runtime', 'java'])).rejects.toThrow(/--runtime: unknown java/);
    await expect(benchNotify(['--baseline', root])).rejects.toThrow(/no index\.js in/);
  });
});
