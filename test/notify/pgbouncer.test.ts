import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Connection,
  type ConnectionError,
  connect,
  createListener,
  type ListenerItem,
} from '../../src/index.js';
import { type Cluster, startCluster } from '../support/cluster.js';
import { PgBouncer, type PoolMode, pgbouncerMissing } from '../support/pgbouncer.js';
import { BIN, startNode } from '../support/process.js';
import { managed } from '../support/server.js';

const missing = await pgbouncerMissing();
if (missing) console.warn(`PgBouncer tests skipped: ${missing}`);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let cluster: Cluster | undefined;
beforeAll(async () => {
  if (!missing && managed) cluster = await startCluster();
});
afterAll(async () => {
  await cluster?.destroy();
});

async function bouncer(
  poolMode: PoolMode,
  extra: { poolSize?: number; serverResetQuery?: string } = {},
): Promise<PgBouncer> {
  if (!cluster) throw new Error('no cluster');
  const started = await PgBouncer.start({
    serverPort: cluster.port,
    poolMode,
    poolSize: 8,
    ...extra,
  });
  cleanups.push(() => started.stop());
  return started;
}

/** A direct connection to the server behind the pooler. */
async function direct(): Promise<Connection> {
  if (!cluster) throw new Error('no cluster');
  const conn = await connect(cluster.url);
  cleanups.push(() => conn.close());
  return conn;
}

describe.skipIf(missing !== undefined || !managed)('through PgBouncer', () => {
  it('session mode: notifications, a terminated server connection, reconnect and gap', async () => {
    const pool = await bouncer('session');
    const listener = await createListener(pool.url, { reconnectInitialDelayMs: 20 });
    cleanups.push(() => listener.close());
    const stream = listener.stream();
    await listener.listen('jobs');
    const sender = await direct();
    await sender.notify('jobs', 'before');
    const items: ListenerItem[] = [];
    for await (const item of stream) {
      items.push(item);
      if (item.type === 'notification' && item.payload === 'before') {
        await sender.exec(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
        );
      } else if (item.type === 'gap') {
        await sender.notify('jobs', 'after');
      } else {
        break;
      }
    }
    expect(items.map((item) => item.type)).toEqual(['notification', 'gap', 'notification']);
    expect(items[2]).toMatchObject({ payload: 'after' });
  });

  it('session mode without a reset query: LISTENs left by departed clients are no proof of a pooler', async () => {
    const pool = await bouncer('session', { serverResetQuery: '' });
    // Two clients listen and leave: their server connections go back to the pool listening.
    const departed = await Promise.all([connect(pool.url), connect(pool.url)]);
    for (const conn of departed) await conn.exec('LISTEN jobs');
    for (const conn of departed) await conn.close();
    const sender = await direct();
    const stale = await sender.exec(
      "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND query = 'LISTEN jobs'",
    );
    expect(stale.rows[0]?.[0]).toBe('2');
    const listener = await createListener(pool.url);
    cleanups.push(() => listener.close());
    const stream = listener.stream();
    await listener.listen('jobs');
    await sender.notify('jobs', 'still works');
    for await (const item of stream) {
      expect(item).toMatchObject({ type: 'notification', payload: 'still works' });
      break;
    }
  });

  it.each(['transaction', 'statement'] as const)(
    '%s mode: listen() fails fast with LISTEN_LOST naming the pooler',
    async (mode) => {
      const pool = await bouncer(mode);
      const listener = await createListener(pool.url, { reconnectInitialDelayMs: 20 });
      cleanups.push(() => listener.close());
      const started = performance.now();
      const error = (await listener.listen('jobs').catch((reason: unknown) => reason)) as Error;
      const elapsed = performance.now() - started;
      expect(error).toMatchObject({ code: 'LISTEN_LOST' });
      console.info(
        `listen() through PgBouncer in ${mode} mode failed after ${Math.round(elapsed)} ms`,
      );
      expect(error.message).toMatch(/shares server connections between clients/);
      expect(error.message).toMatch(/transaction or statement mode/);
    },
  );

  it('transaction mode: `pqnotify listen` exits in seconds with the pooler message', async () => {
    const pool = await bouncer('transaction');
    const started = performance.now();
    const run = startNode([BIN, 'listen', 'jobs', '--url', pool.url]);
    const code = await run.exit;
    const elapsed = performance.now() - started;
    expect(code).toBe(1);
    expect(run.stderr()).toMatch(/pqnotify listen: .*shares server connections between clients/);
    expect(run.stderr()).toMatch(/session mode/);
    expect(elapsed).toBeLessThan(5_000);
    console.info(
      `pqnotify listen through PgBouncer in transaction mode exited after ${Math.round(elapsed)} ms`,
    );
  });

  it('a Listener connected in session mode detects the switch to transaction mode at a heartbeat', async () => {
    const pool = await bouncer('session');
    const listener = await createListener(pool.url, {
      heartbeatIntervalMs: 100,
      reconnectInitialDelayMs: 20,
    });
    cleanups.push(() => listener.close());
    await listener.listen('jobs');
    const disconnected = once(listener, 'disconnected');
    const failed = once(listener, 'error');
    await pool.setPoolMode('transaction');
    // Another client of the pool is given the listener's server connection once a heartbeat
    // has released it (its LISTENs show), and keeps it in a transaction. The listener's own
    // heartbeat may land on another server connection first and find the loss by itself.
    let lost = false;
    listener.once('disconnected', () => {
      lost = true;
    });
    const other = await connect(pool.url);
    cleanups.push(() => other.close());
    while (!lost) {
      const seen = await other.exec('BEGIN; SELECT count(*) FROM pg_listening_channels()');
      if (seen.rows[0]?.[0] !== '0') break;
      await other.exec('COMMIT');
    }
    const [error] = (await disconnected) as [ConnectionError];
    expect(error.code).toBe('LISTEN_LOST');
    expect(error.message).toMatch(/subscription lost.*the heartbeat ran on backend pid/);
    const [final] = (await failed) as [ConnectionError];
    expect(final.code).toBe('LISTEN_LOST');
  });
});
