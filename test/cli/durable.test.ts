/**
 * `pqnotify listen --durable`, `notify --durable` and `slots` against a throwaway cluster
 * with wal_level = logical; and SlotWatcher's retained-WAL events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Connection,
  connect,
  listSlots,
  notifyDurable,
  openDurableStream,
  watchSlots,
} from '../../src/index.js';
import { type Cluster, startCluster } from '../support/cluster.js';
import { BIN, cleanEnv, runNode, startNode } from '../support/process.js';

let cluster: Cluster;
let sql: Connection;

beforeAll(async () => {
  cluster = await startCluster({
    settings: { wal_level: 'logical', max_replication_slots: '8', max_wal_senders: '8' },
  });
  sql = await connect(cluster.url);
});

afterAll(async () => {
  await sql?.close();
  await cluster?.destroy();
});

function run(args: string[]) {
  return runNode([BIN, ...args, '--url', cluster.url], { env: cleanEnv() });
}

async function listenDurable(args: string[]) {
  const running = startNode([BIN, 'listen', '--durable', ...args, '--url', cluster.url]);
  await running.match('stderr', /streaming durable notifications from slot \S+ as pid \d+/);
  return running;
}

describe('pqnotify listen --durable / notify --durable', () => {
  it('prints what was sent while it was not running, then resumes after what it printed', async () => {
    const first = await listenDurable(['--slot', 'cli_slot', '--json']);
    expect((await run(['notify', '--durable', 'jobs', 'one'])).code).toBe(0);
    const [line] = await first.stdoutLines(1);
    const item = JSON.parse(line ?? '');
    expect(item).toMatchObject({ channel: 'jobs', payload: 'one', index: 0 });
    expect(item.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    first.child.kill('SIGINT');
    expect(await first.exit).toBe(0);

    // Sent while nothing listens, over NOTIFY's 8000-byte limit.
    const big = 'z'.repeat(10_000);
    expect((await run(['notify', '--durable', 'jobs', big])).code).toBe(0);
    expect((await run(['notify', '--durable', 'other', 'two'])).code).toBe(0);
    const second = await listenDurable(['--slot', 'cli_slot', 'other']);
    const [text] = await second.stdoutLines(1);
    expect(text).toMatch(/^"other" at [0-9A-F]+\/[0-9A-F]+#0 \(xid \d+\): two$/);
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
  });

  it('usage errors', async () => {
    const noSlot = await run(['listen', '--durable']);
    expect(noSlot.code).toBe(2);
    expect(noSlot.stderr).toMatch(/--slot NAME/);
    const slotAlone = await run(['listen', 'c', '--slot', 'x']);
    expect(slotAlone.code).toBe(2);
    const badSlot = await run(['listen', '--durable', '--slot', 'Bad-Name']);
    expect(badSlot.code).toBe(1);
    expect(badSlot.stderr).toMatch(/invalid replication slot name/);
  });
});

describe('pqnotify slots', () => {
  it('lists slots with their retained WAL, as a table and as JSON, and drops one', async () => {
    await using stream = await openDurableStream(cluster.url, { slot: 'cli_listed' });
    const table = await run(['slots']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/\| slot\s+\|\s+plugin \|/);
    expect(table.stdout).toMatch(/\| cli_listed\s+\|\s+pgoutput \|\s+postgres \|\s+pid \d+ \|/);
    const json = await run(['slots', '--json']);
    const listed = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(listed.find((slot) => slot.slotName === 'cli_listed')).toMatchObject({
      plugin: 'pgoutput',
      active: true,
      slotType: 'logical',
    });
    // A slot in use cannot be dropped.
    const busy = await run(['slots', '--drop', 'cli_listed']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/is active for PID/);
    await stream.close();
    expect((await run(['slots', '--drop', 'cli_listed'])).code).toBe(0);
    expect((await listSlots(sql)).map((slot) => slot.slotName)).not.toContain('cli_listed');
  });
});

describe('pqnotify bench --mode durable', () => {
  it('compares NOTIFY with durable messages per writer count, with nothing lost', async () => {
    const result = await run([
      'bench',
      '--mode',
      'durable',
      '--writers',
      '1,2',
      '--duration',
      '300ms',
      '--json',
      '--quiet',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout);
    expect(rows.map((r: { mode: string; writers: number }) => `${r.mode} ${r.writers}`)).toEqual([
      'notify 1',
      'durable 1',
      'notify 2',
      'durable 2',
    ]);
    for (const row of rows) {
      expect(row.commits).toBeGreaterThan(0);
      expect(row.delivered).toBe(row.commits);
      expect(row).toMatchObject({ lost: 0, duplicates: 0, outOfOrder: 0 });
      expect(row.latencyMs.p50).toBeGreaterThan(0);
    }
    // No temporary slot is left behind.
    expect(
      (await listSlots(sql)).filter((slot) => slot.slotName.startsWith('pqnotify_bench')),
    ).toEqual([]);
  });

  it('refuses options of the other mode', async () => {
    const result = await run(['bench', '--mode', 'durable', '--listeners', '2']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--mode durable does not take --listeners/);
  });
});

describe('SlotWatcher', () => {
  it('reports a slot whose retained WAL passes the threshold', async () => {
    // A slot nobody reads: create it, then close the stream.
    const stream = await openDurableStream(cluster.url, { slot: 'watched' });
    await stream.close();
    using watcher = watchSlots(sql, { thresholdBytes: 2 * 1024 * 1024, slots: ['watched'] });
    expect(await watcher.sample()).toEqual([]);
    for (let i = 0; i < 3; i++) await notifyDurable(sql, 'fill', 'x'.repeat(1024 * 1024));
    const events: string[] = [];
    watcher.on('retained', (slot) => events.push(`${slot.slotName} ${slot.thresholdBytes}`));
    const over = await watcher.sample();
    expect(over.map((slot) => slot.slotName)).toEqual(['watched']);
    expect(over[0]?.retainedBytes).toBeGreaterThanOrEqual(3 * 1024 * 1024);
    expect(events).toEqual([`watched ${2 * 1024 * 1024}`]);
    await run(['slots', '--drop', 'watched']);
  });
});
