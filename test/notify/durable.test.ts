/**
 * Durable notifications against a real server with wal_level = logical (a throwaway cluster of
 * this file): payloads of every size, commit order under concurrent writers with rollbacks,
 * acknowledgement and resume, and the faults the stream must survive without losing anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Connection,
  connect,
  createListener,
  type DurableNotification,
  type DurableStream,
  durableNotifyStatement,
  notifyDurable,
  openDurableStream,
  ReplicationError,
} from '../../src/index.js';
import { type Cluster, startCluster } from '../support/cluster.js';
import { startNode } from '../support/process.js';
import { TcpProxy } from '../support/proxy.js';

let cluster: Cluster;
let sql: Connection;
let slotNumber = 0;
/** A second cluster for tests that restart or reconfigure a server (made once: initdb is slow). */
let spare: Cluster | undefined;

const logical = { wal_level: 'logical', max_replication_slots: '16', max_wal_senders: '16' };

beforeAll(async () => {
  cluster = await startCluster({ settings: logical });
  sql = await connect(cluster.url);
});

afterAll(async () => {
  await sql?.close();
  await cluster?.destroy();
  await spare?.destroy();
});

/**
 * The spare cluster with wal_level = logical and the given settings on top (each call starts
 * from the logical settings again, without slots, and restarts the server).
 */
async function spareCluster(settings: Record<string, string> = {}): Promise<Cluster> {
  if (!spare) {
    spare = await startCluster({ settings: { ...logical, ...settings } });
    return spare;
  }
  // Slots left by earlier tests would keep a server with fewer slots or wal_level = replica
  // from starting.
  {
    await using admin = await connect(spare.url);
    await admin.exec(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active',
    );
  }
  await spare.appendConf({ ...logical, ...settings });
  await spare.stop('fast');
  await spare.start();
  return spare;
}

/** A fresh slot name per test. */
function newSlot(): string {
  slotNumber++;
  return `pqn_durable_${slotNumber}`;
}

/** Reads `count` items from the stream (its iterator, with automatic acknowledgement). */
async function take(stream: DurableStream, count: number): Promise<DurableNotification[]> {
  const items: DurableNotification[] = [];
  if (count === 0) return items;
  for await (const item of stream) {
    items.push(item);
    if (items.length === count) {
      stream.ack(item);
      break;
    }
  }
  return items;
}

/** Emits messages `from`..`to` of `channel` in one transaction, payload = the number. */
async function emitRange(conn: Connection, channel: string, from: number, to: number) {
  await conn.exec(
    `SELECT pg_logical_emit_message(true, 'pqnotify:${channel}', g::text) FROM generate_series(${from}, ${to}) g`,
  );
}

function payloads(items: DurableNotification[]): string[] {
  return items.map((item) => item.payload);
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}

describe('durable notifications', () => {
  it('delivers payloads of 0, 7999, 8000 bytes, 1 MiB and binary, with their transaction facts', async () => {
    await using stream = await openDurableStream(cluster.url, { slot: newSlot() });
    const big = 'x'.repeat(1024 * 1024);
    const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
    const sizes = ['', 'a'.repeat(7999), 'b'.repeat(8000), big];
    const before = Date.now();
    for (const payload of sizes) await notifyDurable(sql, 'sizes', payload);
    const lsn = await notifyDurable(sql, 'sizes', binary);
    expect(lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    const items = await take(stream, 5);
    expect(items.map((item) => item.data.length)).toEqual([0, 7999, 8000, 1024 * 1024, 256]);
    expect(items.slice(0, 4).map((item) => item.payload)).toEqual(sizes);
    expect(items[4]?.data).toEqual(binary);
    for (const item of items) {
      expect(item.channel).toBe('sizes');
      expect(item.index).toBe(0);
      expect(item.xid).toBeGreaterThan(0);
      expect(item.commitTime.getTime()).toBeGreaterThanOrEqual(before - 1000);
    }
    // Separate transactions: commit LSNs strictly increase.
    const commits = items.map((item) => item.lsn);
    expect(new Set(commits).size).toBe(5);
  });

  it('delivers 100,000 messages from 4 concurrent writers once each, in commit order, never a rolled-back one', async () => {
    const slot = newSlot();
    await using stream = await openDurableStream(cluster.url, { slot });
    const writers = await Promise.all([1, 2, 3, 4].map(() => connect(cluster.url)));
    const perWriter = 25_000;
    const batch = 250;
    const committed = new Map<string, number>();
    const write = async (conn: Connection, w: number) => {
      for (let start = 0, tx = 0; start < perWriter; start += batch, tx++) {
        const rollback = tx % 7 === 3;
        await conn.exec(
          `BEGIN; SELECT pg_logical_emit_message(true, 'pqnotify:bulk', '${w}:' || g) FROM generate_series(${start}, ${start + batch - 1}) g; ${rollback ? 'ROLLBACK' : 'COMMIT'}`,
        );
        if (!rollback) committed.set(`${w}:${start}`, batch);
      }
    };
    let writersDone = false;
    let expectedTotal = -1;
    const reading = (async () => {
      const items: DurableNotification[] = [];
      // The total is known once the writers are done; until then read what comes.
      for await (const item of stream) {
        items.push(item);
        if (writersDone && items.length === expectedTotal) break;
      }
      return items;
    })();
    await Promise.all(writers.map((conn, i) => write(conn, i + 1)));
    // One more message after the writers: the iterator then sees writersDone set.
    expectedTotal = [...committed.values()].reduce((a, b) => a + b, 0) + 1;
    writersDone = true;
    await notifyDurable(sql, 'bulk', 'end');
    const items = await reading;
    for (const conn of writers) await conn.close();

    expect(items.length).toBe(expectedTotal);
    expect(items[items.length - 1]?.payload).toBe('end');
    const seen = new Set<string>();
    const perWriterSeen = new Map<string, number[]>();
    let previous: DurableNotification | undefined;
    for (const item of items.slice(0, -1)) {
      expect(seen.has(item.payload)).toBe(false);
      seen.add(item.payload);
      const [w, n] = item.payload.split(':');
      const list = perWriterSeen.get(w ?? '') ?? [];
      list.push(Number(n));
      perWriterSeen.set(w ?? '', list);
      // Commit order: LSNs never go back, and indexes rise inside a transaction.
      if (previous) {
        const order = BigInt(`0x${previous.lsn.replace('/', '').padStart(16, '0')}`);
        const next = BigInt(`0x${item.lsn.replace('/', '').padStart(16, '0')}`);
        expect(next >= order).toBe(true);
        if (next === order) expect(item.index).toBe(previous.index + 1);
      }
      previous = item;
    }
    // Every committed batch whole and in order; no rolled-back one.
    for (const [w, numbers] of perWriterSeen) {
      const expected: number[] = [];
      for (let start = 0; start < perWriter; start += batch) {
        if (committed.has(`${w}:${start}`)) {
          for (let n = start; n < start + batch; n++) expected.push(n);
        }
      }
      expect(numbers).toEqual(expected);
    }
    expect(perWriterSeen.size).toBe(4);
  }, 120_000);

  it('resumes after the last acknowledged item: nothing acknowledged again, nothing lost', async () => {
    const slot = newSlot();
    const first = await openDurableStream(cluster.url, { slot, ack: 'manual' });
    await emitRange(sql, 'resume', 1, 4);
    await emitRange(sql, 'resume', 5, 10);
    const got = await take(first, 6);
    // Items 1..4 are the first transaction, 5..10 the second: acknowledging 6 confirms only
    // the first transaction to the server (a slot moves by whole transactions).
    first.ack(got[5] as DurableNotification);
    await first.close();
    await emitRange(sql, 'resume', 11, 12);
    {
      await using second = await openDurableStream(cluster.url, { slot });
      expect(payloads(await take(second, 8))).toEqual(range(5, 12));
    }
    // An application that stored the position of item 6 skips up to it.
    const stored = { lsn: got[5]?.lsn ?? '', index: got[5]?.index ?? 0 };
    await using third = await openDurableStream(cluster.url, { slot, after: stored });
    await emitRange(sql, 'resume', 13, 13);
    expect(payloads(await take(third, 1))).toEqual(['13']);
  });

  it('per-channel handlers get their channel in commit order; other channels are skipped', async () => {
    await using stream = await openDurableStream(cluster.url, {
      slot: newSlot(),
      channels: ['a', 'b'],
    });
    const seen: string[] = [];
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    stream.listen('a', (item) => {
      seen.push(`a:${item.payload}`);
    });
    stream.listen('b', async (item) => {
      await new Promise((resolve) => setImmediate(resolve));
      seen.push(`b:${item.payload}`);
      if (item.payload === 'last') done();
    });
    await sql.exec(`BEGIN;
      SELECT pg_logical_emit_message(true, 'pqnotify:a', '1');
      SELECT pg_logical_emit_message(true, 'pqnotify:c', 'skipped');
      SELECT pg_logical_emit_message(true, 'other:a', 'other prefix');
      SELECT pg_logical_emit_message(false, 'pqnotify:a', 'not transactional');
      SELECT pg_logical_emit_message(true, 'pqnotify:b', '2');
      COMMIT`);
    await notifyDurable(sql, 'a', '3');
    await notifyDurable(sql, 'b', 'last');
    await finished;
    expect(seen).toEqual(['a:1', 'b:2', 'a:3', 'b:last']);
  });

  it('a handler that throws closes the stream unacknowledged: the item comes again', async () => {
    const slot = newSlot();
    const stream = await openDurableStream(cluster.url, { slot });
    const failed = new Promise<Error>((resolve) => stream.once('error', resolve));
    stream.listen('boom', (item) => {
      if (item.payload === '2') throw new Error('handler failed on 2');
    });
    await emitRange(sql, 'boom', 1, 1);
    await emitRange(sql, 'boom', 2, 3);
    expect((await failed).message).toBe('handler failed on 2');
    await stream.close();
    await using again = await openDurableStream(cluster.url, { slot });
    expect(payloads(await take(again, 2))).toEqual(['2', '3']);
  });

  it('catching up on a backlog holds reading at the high-water mark: bounded memory, nothing lost', async () => {
    const slot = newSlot();
    // Create the slot, then build a backlog of 2,000 items of 1 kB while nobody reads.
    await (await openDurableStream(cluster.url, { slot })).close();
    for (let tx = 0; tx < 40; tx++) {
      await sql.exec(
        `SELECT pg_logical_emit_message(true, 'pqnotify:backlog', lpad(g::text, 1000, '0')) FROM generate_series(${tx * 50 + 1}, ${tx * 50 + 50}) g`,
      );
    }
    await using stream = await openDurableStream(cluster.url, { slot, highWaterMark: 50 });
    let peak = 0;
    let count = 0;
    for await (const item of stream) {
      peak = Math.max(peak, stream.pending);
      count++;
      expect(Number(item.payload)).toBe(count);
      // A slow consumer for the first 500 items: without the hold, the whole backlog would pile up.
      if (count <= 500) await new Promise((resolve) => setTimeout(resolve, 1));
      if (count === 2000) break;
    }
    // The mark, plus one transaction (50) and what one read of at most 128 kB can hold.
    expect(peak).toBeGreaterThanOrEqual(50);
    expect(peak).toBeLessThan(50 + 50 + 140);
  });

  it('helpers on Connection and Listener send durable notifications', async () => {
    await using stream = await openDurableStream(cluster.url, { slot: newSlot() });
    await using listener = await createListener(cluster.url);
    const fromConn = await sql.notifyDurable('helpers', 'from connection', { prefix: 'pqnotify:' });
    const fromListener = await listener.notifyDurable('helpers', Uint8Array.of(1, 2));
    const items = await take(stream, 2);
    expect(items.map((item) => item.messageLsn)).toEqual([fromConn, fromListener]);
    expect(items[0]?.payload).toBe('from connection');
    expect(items[1]?.data).toEqual(Uint8Array.of(1, 2));
  });

  it('a statement for the caller’s transaction: delivered only if it commits', async () => {
    await using stream = await openDurableStream(cluster.url, { slot: newSlot() });
    const rolledBack = durableNotifyStatement('tx', 'rolled back');
    await sql.exec('BEGIN');
    await sql.query(rolledBack.text, rolledBack.values);
    await sql.exec('ROLLBACK');
    const kept = durableNotifyStatement('tx', Uint8Array.of(0, 1, 2));
    await sql.exec('BEGIN');
    await sql.query(kept.text, kept.values);
    await sql.exec('COMMIT');
    const [item] = await take(stream, 1);
    expect(item?.data).toEqual(Uint8Array.of(0, 1, 2));
    expect(() => durableNotifyStatement('', 'x')).toThrow(RangeError);
    expect(() => durableNotifyStatement('a\0b', 'x')).toThrow(TypeError);
  });
});

describe('durable notifications through faults', () => {
  it('pg_terminate_backend of the walsender: reconnects, resumes, nothing lost or repeated', async () => {
    await using stream = await openDurableStream(cluster.url, {
      slot: newSlot(),
      reconnectInitialDelayMs: 20,
    });
    await emitRange(sql, 'term', 1, 5);
    const before = await take(stream, 3);
    const reconnected = new Promise((resolve) => stream.once('connected', resolve));
    await sql.query('SELECT pg_terminate_backend($1::int)', [String(stream.processId)]);
    await emitRange(sql, 'term', 6, 8);
    await reconnected;
    const after = await take(stream, 5);
    expect(payloads([...before, ...after])).toEqual(range(1, 8));
  });

  it('the fault proxy cutting the connection: reconnects and resumes', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: cluster.port });
    try {
      await using stream = await openDurableStream(
        `postgres://postgres@127.0.0.1:${proxy.port}/postgres`,
        { slot: newSlot(), reconnectInitialDelayMs: 20 },
      );
      await emitRange(sql, 'cut', 1, 4);
      const before = await take(stream, 2);
      const reconnected = new Promise((resolve) => stream.once('connected', resolve));
      proxy.cut();
      await emitRange(sql, 'cut', 5, 6);
      await reconnected;
      expect(payloads([...before, ...(await take(stream, 4))])).toEqual(range(1, 6));
    } finally {
      await proxy.close();
    }
  });

  it('the fault proxy black-holing the connection: the silence is noticed, then it resumes', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: cluster.port });
    try {
      await using stream = await openDurableStream(
        `postgres://postgres@127.0.0.1:${proxy.port}/postgres?connect_timeout=2`,
        {
          slot: newSlot(),
          statusIntervalMs: 100,
          livenessTimeoutMs: 500,
          reconnectInitialDelayMs: 20,
          reconnectMaxDelayMs: 200,
        },
      );
      await emitRange(sql, 'hole', 1, 3);
      const before = await take(stream, 3);
      const lost = new Promise<Error>((resolve) => stream.once('disconnected', resolve));
      proxy.blackhole();
      proxy.blackholeNew(true);
      await emitRange(sql, 'hole', 4, 5);
      expect((await lost).message).toMatch(/no answer .* for 500 ms/);
      const reconnected = new Promise((resolve) => stream.once('connected', resolve));
      proxy.blackholeNew(false);
      proxy.resume();
      await reconnected;
      expect(payloads([...before, ...(await take(stream, 2))])).toEqual(range(1, 5));
    } finally {
      await proxy.close();
    }
  });

  for (const mode of ['fast', 'immediate'] as const) {
    it(`a server restart (${mode}) mid-stream: reconnects, resumes, nothing lost or repeated`, async () => {
      const restartCluster = await spareCluster();
      {
        await using stream = await openDurableStream(restartCluster.url, {
          slot: newSlot(),
          reconnectInitialDelayMs: 50,
          reconnectMaxDelayMs: 200,
        });
        {
          await using writer = await connect(restartCluster.url);
          await emitRange(writer, 'restart', 1, 6);
        }
        const before = await take(stream, 4);
        await stream.flush();
        const reconnected = new Promise((resolve) => stream.once('connected', resolve));
        await restartCluster.stop(mode);
        await restartCluster.start();
        {
          await using writer = await connect(restartCluster.url);
          await emitRange(writer, 'restart', 7, 9);
        }
        await reconnected;
        expect(payloads([...before, ...(await take(stream, 5))])).toEqual(range(1, 9));
      }
    }, 60_000);
  }

  it('a consumer killed with SIGKILL: the next one resumes after the last acknowledgement the server had', async () => {
    const slot = newSlot();
    const consumer = () =>
      startNode(['test/support/durable-consumer.mjs', cluster.url, slot, '25']);
    const first = consumer();
    await first.match('stdout', /^ready$/m);
    // Transactions of 5 messages; the consumer flushes every 25 items, at a transaction's end.
    for (let n = 1; n <= 200; n += 5) await emitRange(sql, 'kill', n, n + 4);
    await first.match('stdout', /^flushed 75$/m);
    first.child.kill('SIGKILL');
    await first.exit;
    const firstItems = [...first.stdout().matchAll(/^item (\d+) /gm)].map((m) => Number(m[1]));
    const flushed = [...first.stdout().matchAll(/^flushed (\d+)$/gm)].map((m) => Number(m[1]));
    const lastFlushed = Math.max(...flushed);
    await emitRange(sql, 'kill', 201, 210);

    const second = consumer();
    await second.match('stdout', /^item 210 /m);
    second.child.kill('SIGKILL');
    await second.exit;
    const secondItems = [...second.stdout().matchAll(/^item (\d+) /gm)].map((m) => Number(m[1]));
    // Nothing acknowledged (and flushed) comes again...
    expect(secondItems[0]).toBeGreaterThan(lastFlushed);
    // ...the second consumer starts where the server's confirmation left off, within what
    // the first one had (acknowledgements after the last flush may or may not have reached it)...
    expect(secondItems[0]).toBeLessThanOrEqual(Math.max(...firstItems) + 1);
    // ...and everything committed arrives, in order, between the two.
    expect(secondItems).toEqual(range(secondItems[0] ?? 0, 210).map(Number));
    expect(new Set([...firstItems, ...secondItems]).size).toBe(210);
  }, 60_000);
});

describe('errors a user can act on', () => {
  it('wal_level below logical', async () => {
    const replica = await spareCluster({ wal_level: 'replica' });
    const error = await openDurableStream(replica.url, { slot: 'pqn_x' }).catch((e) => e);
    expect(error).toBeInstanceOf(ReplicationError);
    expect(error.code).toBe('REPLICATION_WAL_LEVEL');
    expect(error.message).toMatch(/wal_level is replica.*wal_level = logical.*restart/);
    // Sending is accepted at any wal_level (it only writes WAL); nothing can read it back.
    await using conn = await connect(replica.url);
    expect(await conn.notifyDurable('c', 'x')).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  }, 60_000);

  it('a role without REPLICATION', async () => {
    await sql.exec('CREATE ROLE pqn_norepl LOGIN');
    const url = cluster.url.replace('postgres@', 'pqn_norepl@');
    const error = await openDurableStream(url, { slot: 'pqn_x' }).catch((e) => e);
    expect(error).toBeInstanceOf(ReplicationError);
    expect(error.code).toBe('REPLICATION_PERMISSION');
    expect(error.message).toMatch(/ALTER ROLE name REPLICATION/);
  });

  it('slots and WAL senders exhausted', async () => {
    const small = await spareCluster({ max_replication_slots: '1', max_wal_senders: '2' });
    {
      await using first = await openDurableStream(small.url, { slot: 'pqn_one' });
      const slots = await openDurableStream(small.url, { slot: 'pqn_two' }).catch((e) => e);
      expect(slots).toBeInstanceOf(ReplicationError);
      expect(slots.code).toBe('REPLICATION_SLOTS_EXHAUSTED');
      expect(slots.message).toMatch(/max_replication_slots/);
      await using hold = await connect(`${small.url}?replication=database`);
      const senders = await openDurableStream(small.url, { slot: 'pqn_one' }).catch((e) => e);
      expect(senders).toBeInstanceOf(ReplicationError);
      expect(senders.code).toBe('REPLICATION_WAL_SENDERS_EXHAUSTED');
      expect(senders.message).toMatch(/max_wal_senders/);
      expect(first.processId).toBeGreaterThan(0);
      expect(hold.status).toBe('ok');
    }
  }, 60_000);

  it('a missing slot with createSlot: never', async () => {
    const error = await openDurableStream(cluster.url, {
      slot: 'pqn_absent',
      createSlot: 'never',
    }).catch((e) => e);
    expect(error).toBeInstanceOf(ReplicationError);
    expect(error.code).toBe('REPLICATION_SLOT_MISSING');
  });
});
