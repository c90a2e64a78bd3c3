import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/cluster.js';
import { BIN, type Finished, runNode, startNode } from '../support/process.js';
import { server } from '../support/server.js';

/** Runs `pqnotify bench ARGS` to its end. */
function bench(args: string[]): Promise<Finished> {
  return runNode([BIN, 'bench', ...args]);
}

const latencySchema = {
  p50: 'number',
  p90: 'number',
  p99: 'number',
  p999: 'number',
  max: 'number',
  mean: 'number',
};

const countsSchema = {
  expected: 'number',
  delivered: 'number',
  perSecond: 'number',
  latencyMs: latencySchema,
  lost: 'number',
  lostInGaps: 'number',
  duplicates: 'number',
  outOfOrder: 'number',
  gaps: 'number',
  unexpected: 'number',
};

/** The documented `--json` schema (pqnotify-bench/1), as the types of each field. */
const resultSchema = {
  schema: 'string',
  startedAt: 'string',
  server: { version: 'string', address: 'string', maxConnections: 'number' },
  settings: {
    listeners: 'number',
    notifiers: 'number',
    channels: 'number',
    channelsPerListener: 'number',
    rate: 'null',
    durationMs: 'null',
    count: 'number',
    payloadSize: 'number',
    batch: 'number',
    warmupMs: 'number',
    stalledListeners: 'number',
  },
  aborted: 'boolean',
  elapsedMs: 'number',
  drainMs: 'number',
  drained: 'boolean',
  sent: 'number',
  sentPerSecond: 'number',
  warmupSent: 'number',
  transactions: 'number',
  failedTransactions: 'number',
  overall: countsSchema,
  listeners: [
    {
      index: 'number',
      processIds: ['number'],
      channels: ['number'],
      stalled: 'boolean',
      error: 'null',
      ...countsSchema,
    },
  ],
  queueUsage: { max: 'number', samples: [{ tMs: 'number', usage: 'number' }] },
  timeline: [
    {
      tMs: 'number',
      spanMs: 'number',
      sent: 'number',
      delivered: 'number',
      p50Ms: 'number',
      p99Ms: 'number',
    },
  ],
  errors: [],
};

type Schema = string | Schema[] | { [key: string]: Schema };

/** Checks `value` against `schema`: same keys, and the JSON type of every leaf. */
function expectShape(value: unknown, schema: Schema, path = '$'): void {
  if (typeof schema === 'string') {
    expect(value === null ? 'null' : typeof value, path).toBe(schema);
  } else if (Array.isArray(schema)) {
    expect(Array.isArray(value), path).toBe(true);
    const items = value as unknown[];
    if (schema.length === 0) expect(items, path).toEqual([]);
    else expect(items.length, path).toBeGreaterThan(0);
    for (const [i, item] of items.entries())
      expectShape(item, schema[0] as Schema, `${path}[${i}]`);
  } else {
    expect(typeof value === 'object' && value !== null, path).toBe(true);
    const record = value as Record<string, unknown>;
    expect(Object.keys(record).sort(), path).toEqual(Object.keys(schema).sort());
    for (const [key, sub] of Object.entries(schema))
      expectShape(record[key], sub, `${path}.${key}`);
  }
}

describe('pqnotify bench', () => {
  it('prints only the result object with --json, in the documented schema', async () => {
    const run = await bench([
      ...['--url', server.url, '--listeners', '2', '--notifiers', '2', '--channels', '2'],
      ...['--count', '200', '--batch', '5', '--json', '--quiet'],
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const result = JSON.parse(run.stdout);
    expectShape(result, resultSchema);
    expect(result).toMatchObject({
      schema: 'pqnotify-bench/1',
      sent: 200,
      settings: { listeners: 2, notifiers: 2, channels: 2, count: 200, batch: 5 },
      overall: { expected: 400, delivered: 400, lost: 0, duplicates: 0, outOfOrder: 0 },
    });
  });

  it('shows progress on stderr, the table on stdout, and writes the chart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pqnotify-bench-'));
    try {
      const chart = join(dir, 'load.svg');
      const run = await bench(['--url', server.url, '--count', '300', '--chart', chart]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/drain\s+sent 300 \(/);
      expect(run.stderr).toContain(`chart written to ${chart}`);
      const lines = run.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^pqnotify bench: 1 listener, 1 notifier, 1 channel/);
      expect(lines).toContainEqual(expect.stringMatching(/^\| listener \| +pids \| expected \|/));
      expect(lines.at(-1)).toMatch(/^\| all +\| +\| +300 \| +300 \|/);
      const svg = await readFile(chart, 'utf8');
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg).toContain('<polyline');
      expect(svg.trim().endsWith('</svg>')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [['--listeners', '0'], /--listeners must be a whole number of at least 1, not "0"/],
    [['--notifiers', 'many'], /--notifiers must be a whole number/],
    [['--duration', '1', '--count', '5'], /--duration or --count, not both/],
    [['--duration', 'soon'], /--duration must be a duration/],
    [['--rate', '0'], /--rate must be a positive number/],
    [['--listeners', '1', '--stall', '2'], /--stall cannot exceed --listeners/],
    [['--channels', '2', '--listener-channels', '3'], /--listener-channels cannot exceed/],
    [['--frobnicate'], /unknown option --frobnicate; /],
    [['extra'], /bench takes no arguments/],
  ])('exits 2 on bad options %j', async (args, message) => {
    const run = await bench([...args, '--url', server.url]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });

  it('exits 6 for a payload of 8000 bytes or more, before connecting', async () => {
    const run = await bench(['--payload-size', '8000', '--url', 'postgres://u@127.0.0.1:1/x']);
    expect(run.code).toBe(6);
    expect(run.stderr).toMatch(/payload size 8000 bytes: a payload must be shorter than 8000/);
  });

  it('exits 6 when K + M do not fit in max_connections, saying how many would', async () => {
    const run = await bench(['--listeners', '50000', '--count', '1', '--url', server.url]);
    expect(run.code).toBe(6);
    expect(run.stderr).toMatch(
      /50002 connections needed \(50000 listeners, 1 notifier, 1 to sample the queue\) but the server has room for \d+: max_connections \d+/,
    );
  });

  it('exits 4 when the server is unreachable', async () => {
    const port = await freePort();
    const run = await bench(['--count', '1', '--url', `postgres://u@127.0.0.1:${port}/x`]);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/^pqnotify bench: .*127\.0\.0\.1/);
  });

  it('starts an embedded server when none is configured', async () => {
    const run = await bench(['--count', '20', '--listeners', '2', '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('starting an embedded PostgreSQL');
    expect(run.stdout).toMatch(/\| all +\| +\| +40 \| +40 \|/);
  }, 60_000);

  it('removes its embedded server even when a second Ctrl-C cuts the run short', async () => {
    const run = startNode([BIN, 'bench', '--duration', '60']);
    const [, root] = await run.match('stderr', / in (\S+)\n/);
    await run.match('stderr', /sent [\d,]+/);
    expect(existsSync(root as string)).toBe(true);
    run.child.kill('SIGINT');
    await run.match('stderr', /Ctrl-C again/);
    run.child.kill('SIGINT');
    expect(await run.exit, run.stderr()).toBe(130);
    expect(existsSync(root as string)).toBe(false);
  }, 60_000);
});
