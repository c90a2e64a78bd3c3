import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Connection,
  ConnectionError,
  connect,
  createListener,
  type GapMarker,
  type ListenerItem,
} from '../../src/index.js';
import { type Cluster, startCluster } from '../support/cluster.js';
import { TcpProxy } from '../support/proxy.js';
import { connectTest, managed, server, transports } from '../support/server.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track<T extends { close(): Promise<unknown> } | { destroy(): Promise<unknown> }>(
  thing: T,
): T {
  cleanups.push(() => ('close' in thing ? thing.close() : thing.destroy()));
  return thing;
}

let counter = 0;
function fresh(): string {
  counter += 1;
  return `lst_${process.pid}_${counter}`;
}

/** A URL to the test server through `port` (a proxy), or directly. */
function urlVia(port = server.port, host = '127.0.0.1'): string {
  return `postgres://${server.user}:${encodeURIComponent(server.password)}@${host}:${port}/${server.database}`;
}

/** Collects items from an iterator until `stop` says so. */
async function collect(
  iterator: AsyncIterable<ListenerItem>,
  stop: (items: ListenerItem[]) => boolean,
): Promise<ListenerItem[]> {
  const items: ListenerItem[] = [];
  for await (const item of iterator) {
    items.push(item);
    if (stop(items)) break;
  }
  return items;
}

async function notifier(): Promise<Connection> {
  return track(await connectTest());
}

describe.each(transports)('$name', ({ url }) => {
  describe('Listener', () => {
    it('delivers notifications to iterators and handlers; subscriptions share one LISTEN', async () => {
      const listener = track(await createListener(url));
      const channel = fresh();
      const handled: string[] = [];
      const first = await listener.listen(channel, (n) => handled.push(n.payload));
      const second = await listener.listen(channel);
      expect(await listener.listeningChannels()).toEqual([channel]);
      const stream = listener.stream();
      const sender = await notifier();
      await sender.notify(channel, 'one');
      const items = await collect(stream, (list) => list.length === 1);
      expect(items).toEqual([
        { type: 'notification', channel, payload: 'one', processId: sender.backendPid },
      ]);
      expect(handled).toEqual(['one']);
      await first.unlisten();
      expect(await listener.listeningChannels()).toEqual([channel]);
      await second.unlisten();
      expect(await listener.listeningChannels()).toEqual([]);
    });

    it('refuses bad channels and payloads before sending', async () => {
      const listener = track(await createListener(url));
      await expect(listener.listen('')).rejects.toThrow(RangeError);
      await expect(listener.listen('x'.repeat(64))).rejects.toThrow(/64 bytes/);
      await expect(listener.notify('ok', 'y'.repeat(8000))).rejects.toThrow(RangeError);
      expect(listener.channels).toEqual([]);
    });

    it('after pg_terminate_backend: reconnects, re-LISTENs, one gap marker, then everything sent after it', async () => {
      const listener = track(await createListener(url, { reconnectInitialDelayMs: 20 }));
      const channel = fresh();
      await listener.listen(channel);
      const oldPid = listener.processId;
      const stream = listener.stream();
      const sender = await notifier();
      const gapSeen = once(listener, 'gap');
      await sender.query('SELECT pg_terminate_backend($1::int)', [String(oldPid)]);
      const [gap] = (await gapSeen) as [GapMarker];
      for (let i = 1; i <= 5; i++) await sender.notify(channel, `after-${i}`);
      const items = await collect(
        stream,
        (list) => list.filter((item) => item.type === 'notification').length === 5,
      );
      expect(items[0]).toEqual(gap);
      expect(items.filter((item) => item.type === 'gap')).toHaveLength(1);
      expect(gap.previousProcessId).toBe(oldPid);
      expect(gap.processId).toBe(listener.processId);
      expect(gap.processId).not.toBe(oldPid);
      expect(gap.channels).toEqual([channel]);
      expect(gap.downtimeMs).toBeGreaterThanOrEqual(0);
      expect(
        items.slice(1).map((item) => (item.type === 'notification' ? item.payload : 'gap')),
      ).toEqual(['after-1', 'after-2', 'after-3', 'after-4', 'after-5']);
      expect(await listener.listeningChannels()).toEqual([channel]);
    });

    it('a stalled connection is detected by the heartbeat and replaced', async () => {
      const proxy = track(await TcpProxy.start({ host: '127.0.0.1', port: server.port }));
      const listener = track(
        await createListener(urlVia(proxy.port), {
          heartbeatIntervalMs: 100,
          heartbeatTimeoutMs: 200,
          reconnectInitialDelayMs: 20,
        }),
      );
      const channel = fresh();
      await listener.listen(channel);
      const stream = listener.stream();
      const disconnected = once(listener, 'disconnected');
      const gap = once(listener, 'gap');
      proxy.blackhole();
      const [error] = (await disconnected) as [ConnectionError];
      expect(error.message).toMatch(/heartbeat/);
      proxy.resume();
      const sender = await notifier();
      await gap;
      await sender.notify(channel, 'after-stall');
      const items = await collect(stream, (list) =>
        list.some((item) => item.type === 'notification'),
      );
      expect(items.map((item) => item.type)).toEqual(['gap', 'notification']);
    });

    it('a connection that stalls while paused by backpressure is detected by the heartbeat and replaced', async () => {
      const proxy = track(await TcpProxy.start({ host: '127.0.0.1', port: server.port }));
      const listener = track(
        await createListener(urlVia(proxy.port), {
          highWaterMark: 10,
          heartbeatIntervalMs: 100,
          heartbeatTimeoutMs: 200,
          reconnectInitialDelayMs: 20,
        }),
      );
      const channel = fresh();
      let allReceived: () => void = () => undefined;
      const received = new Promise<void>((resolve) => {
        allReceived = resolve;
      });
      let count = 0;
      await listener.listen(channel, () => {
        count += 1;
        if (count === 20) allReceived();
      });
      const stream = listener.stream();
      const paused = once(listener, 'backpressure');
      const sender = await notifier();
      await sender.query('SELECT count(pg_notify($1, i::text)) FROM generate_series(1, 20) i', [
        channel,
      ]);
      await Promise.all([paused, received]);
      expect(listener.backpressured).toBe(true);
      const disconnected = once(listener, 'disconnected');
      const gap = once(listener, 'gap');
      proxy.blackhole();
      const [error] = (await disconnected) as [ConnectionError];
      expect(error.message).toMatch(/heartbeat/);
      expect(listener.backpressured).toBe(true);
      proxy.resume();
      await gap;
      await sender.notify(channel, 'after-stall');
      const items = await collect(stream, (list) =>
        list.some((item) => item.type === 'notification' && item.payload === 'after-stall'),
      );
      expect(items.map((item) => (item.type === 'notification' ? item.payload : 'gap'))).toEqual([
        ...Array.from({ length: 20 }, (_, i) => String(i + 1)),
        'gap',
        'after-stall',
      ]);
    });

    it('while paused, the heartbeat reads a bounded slice and takes a busy connection for alive', async () => {
      const highWaterMark = 100;
      const total = 50_000;
      const listener = track(
        await createListener(url, {
          highWaterMark,
          heartbeatIntervalMs: 20,
          heartbeatTimeoutMs: 5000,
        }),
      );
      const channel = fresh();
      let readWhilePaused: () => void = () => undefined;
      const probed = new Promise<void>((resolve) => {
        readWhilePaused = resolve;
      });
      await listener.listen(channel, () => {
        if (listener.backpressured) readWhilePaused();
      });
      const disconnects: ConnectionError[] = [];
      listener.on('disconnected', (error) => disconnects.push(error));
      const stream = listener.stream();
      // Paused before the burst commits: a heartbeat query in flight at the commit (an idle
      // listener sends one every 20 ms here) would take the whole burst while not paused.
      const paused = once(listener, 'backpressure');
      const sender = await notifier();
      const burst = 'SELECT count(pg_notify($1, i::text)) FROM generate_series($2::int, $3::int) i';
      await sender.query(burst, [channel, '1', String(highWaterMark)]);
      const [{ pending: atPause }] = (await paused) as [{ pending: number }];
      const sending = sender.query(burst, [channel, String(highWaterMark + 1), String(total)]);
      await probed;
      expect(listener.backpressured).toBe(true);
      expect(listener.pending).toBeGreaterThan(atPause);
      expect(listener.pending).toBeLessThan(total / 5);
      let received = 0;
      let inOrder = true;
      for await (const item of stream) {
        if (item.type === 'gap') break;
        received += 1;
        if (item.payload !== String(received)) inOrder = false;
        if (received === total) break;
      }
      await sending;
      expect(received).toBe(total);
      expect(inOrder).toBe(true);
      expect(disconnects).toEqual([]);
    });

    it('moves to the second host of the list when the first goes away', async () => {
      const [first, second] = [
        track(await TcpProxy.start({ host: '127.0.0.1', port: server.port })),
        track(await TcpProxy.start({ host: '127.0.0.1', port: server.port })),
      ];
      const url = `postgres://${server.user}:${encodeURIComponent(server.password)}@127.0.0.1:${first.port},127.0.0.1:${second.port}/${server.database}`;
      const listener = track(await createListener(url, { reconnectInitialDelayMs: 20 }));
      const channel = fresh();
      await listener.listen(channel);
      expect(first.open).toBe(1);
      const gap = once(listener, 'gap');
      first.refuse(true);
      first.cut();
      await gap;
      expect(second.open).toBe(1);
      const stream = listener.stream();
      const sender = await notifier();
      await sender.notify(channel, 'via-second');
      const [item] = await collect(stream, () => true);
      expect(item).toMatchObject({ type: 'notification', payload: 'via-second' });
    });

    it('listen/unlisten races with cuts end with exactly the subscribed channels', async () => {
      const proxy = track(await TcpProxy.start({ host: '127.0.0.1', port: server.port }));
      const listener = track(
        await createListener(urlVia(proxy.port), { reconnectInitialDelayMs: 5 }),
      );
      const channels = Array.from({ length: 20 }, () => fresh());
      const subscriptions = await Promise.all(
        channels.map(async (channel, index) => {
          if (index % 5 === 0) proxy.cut();
          return listener.listen(channel);
        }),
      );
      const dropped = subscriptions.filter((_, index) => index % 2 === 1);
      await Promise.all(
        dropped.map(async (subscription, index) => {
          if (index % 3 === 0) proxy.cut();
          await subscription.unlisten();
        }),
      );
      const kept = channels.filter((_, index) => index % 2 === 0).sort();
      expect(listener.channels.sort()).toEqual(kept);
      expect((await listener.listeningChannels()).sort()).toEqual(kept);
    });

    it('10,000 channels on one listener', async () => {
      const listener = track(await createListener(url));
      const base = fresh();
      const channels = Array.from({ length: 10_000 }, (_, i) => `${base}_${i}`);
      await Promise.all(channels.map((channel) => listener.listen(channel)));
      expect((await listener.listeningChannels()).length).toBe(10_000);
      const stream = listener.stream();
      const sender = await notifier();
      await sender.notify(channels[9_999] ?? '', 'last');
      const [item] = await collect(stream, () => true);
      expect(item).toMatchObject({ channel: channels[9_999], payload: 'last' });
    }, 90_000); // 7-20 s on two shared cores: 10,000 subscriptions, each awaited

    it('a slow consumer with a high-water mark keeps memory bounded while 1,000,000 notifications are sent', async () => {
      const highWaterMark = 2000;
      const listener = track(
        await createListener(url, {
          highWaterMark,
          queueUsageIntervalMs: 50,
          queueUsageThreshold: 0.00001,
        }),
      );
      const channel = fresh();
      await listener.listen(channel);
      const paused = once(listener, 'backpressure');
      const usage = once(listener, 'queueUsage');
      const stream = listener.stream();
      const sender = await notifier();
      const sending = sender.query(
        'SELECT count(pg_notify($1, i::text)) FROM generate_series(1, 1000000) i',
        [channel],
      );
      const heapBefore = process.memoryUsage().heapUsed;
      let received = 0;
      let inOrder = true;
      let mostPending = 0;
      let heapWhilePaused = 0;
      for await (const item of stream) {
        if (item.type !== 'notification') continue;
        received += 1;
        if (item.payload !== String(received)) inOrder = false;
        mostPending = Math.max(mostPending, listener.pending);
        if (received === 20_000) {
          const [state] = (await paused) as [{ paused: boolean }];
          expect(state.paused).toBe(true);
          await usage;
          heapWhilePaused = process.memoryUsage().heapUsed;
        }
        if (received < 20_000 && received % 100 === 0)
          await new Promise((resolve) => setImmediate(resolve));
        if (received === 1_000_000) break;
      }
      await sending;
      expect(received).toBe(1_000_000);
      expect(inOrder).toBe(true);
      expect(mostPending).toBeLessThan(highWaterMark + 10_000);
      expect(heapWhilePaused - heapBefore).toBeLessThan(64 * 1024 * 1024);
    });

    it('an unknown host and a wrong password are clear errors', async () => {
      await expect(createListener('postgres://u@no-such-host.invalid/db')).rejects.toMatchObject({
        code: 'CONNECTION_DNS',
      });
      const wrong = `postgres://${server.user}:wrong-password@127.0.0.1:${server.port}/${server.database}`;
      const error = await createListener(wrong).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConnectionError);
      expect((error as ConnectionError).code).toBe('CONNECTION_AUTH');
    });

    it('batches(): everything queued in one next(), the gap marker in its place', async () => {
      const listener = track(await createListener(url, { reconnectInitialDelayMs: 20 }));
      const channel = fresh();
      await listener.listen(channel);
      const batches = listener.batches();
      const before = listener.stream();
      const sender = await notifier();
      const payloadOf = (item: ListenerItem) =>
        item.type === 'notification' ? item.payload : 'gap';
      for (let i = 1; i <= 3; i++) await sender.notify(channel, `before-${i}`);
      await collect(before, (list) => list.length === 3);
      const gapSeen = once(listener, 'gap');
      await sender.query('SELECT pg_terminate_backend($1::int)', [String(listener.processId)]);
      await gapSeen;
      const after = listener.stream();
      for (let i = 1; i <= 3; i++) await sender.notify(channel, `after-${i}`);
      await collect(after, (list) => list.length === 3);
      const first = await batches.next();
      expect(first.done).toBe(false);
      expect((first.value as ListenerItem[]).map(payloadOf)).toEqual([
        'before-1',
        'before-2',
        'before-3',
        'gap',
        'after-1',
        'after-2',
        'after-3',
      ]);
      await sender.notify(channel, 'later');
      expect(((await batches.next()).value as ListenerItem[]).map(payloadOf)).toEqual(['later']);
      const controller = new AbortController();
      const aborted = listener.batches({ signal: controller.signal }).next();
      controller.abort();
      expect(await aborted).toEqual({ done: true, value: undefined });
      await batches.return();
    });

    it('close() ends iterators and later calls fail', async () => {
      const listener = await createListener(url);
      await listener.listen(fresh());
      const done = collect(listener.stream(), () => false);
      await listener.close();
      expect(await done).toEqual([]);
      await expect(listener.listen(fresh())).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    });
  });
});

describe.skipIf(!managed)('Listener against servers that stop or are standbys', () => {
  it('the server stops (fast) and starts again on the same port', async () => {
    const cluster = track(await startCluster());
    const url = cluster.url;
    const listener = track(
      await createListener(url, { reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 200 }),
    );
    const channel = fresh();
    await listener.listen(channel);
    const stream = listener.stream();
    const disconnected = once(listener, 'disconnected');
    await cluster.stop('fast');
    await disconnected;
    const gap = once(listener, 'gap');
    await cluster.start();
    await gap;
    await using sender = await connect(cluster.url);
    await sender.notify(channel, 'after-restart');
    const items = await collect(stream, (list) =>
      list.some((item) => item.type === 'notification'),
    );
    expect(items.map((item) => item.type)).toEqual(['gap', 'notification']);
  });

  it('skips a hot standby in the host list', async () => {
    const standby: Cluster = track(await startCluster({ standby: true }));
    const url = `postgres://${server.user}:${encodeURIComponent(server.password)}@127.0.0.1:${standby.port},127.0.0.1:${server.port}/postgres`;
    const listener = track(await createListener(url));
    await listener.listen(fresh());
    expect(await listener.listeningChannels()).toHaveLength(1);
    const sender = await notifier();
    const pids = await sender.exec('SELECT pid FROM pg_stat_activity');
    expect(pids.rows.map((row) => Number(row[0]))).toContain(listener.processId);
  });

  it.skipIf((managed?.cluster?.major ?? 0) < 17)(
    "the server's 'NOTIFY queue is N% full' warning surfaces as a typed notice",
    async () => {
      const cluster = track(await startCluster({ settings: { max_notify_queue_pages: '64' } }));
      const url = cluster.url;
      const stuck = track(await connect(url));
      await stuck.listen('fill');
      const listener = track(await createListener(url));
      const notices: number[] = [];
      listener.on('notice', (notice) => {
        if (notice.queueFullPercent !== undefined) notices.push(notice.queueFullPercent);
      });
      const payload = 'x'.repeat(7000);
      while (notices.length === 0) {
        await listener.notify('fill', payload);
      }
      expect(notices[0]).toBeGreaterThanOrEqual(50);
    },
  );

  it('gives up after the attempt limit with an error event', async () => {
    const cluster = track(await startCluster());
    const listener = track(
      await createListener(cluster.url, {
        reconnectInitialDelayMs: 10,
        reconnectMaxAttempts: 3,
      }),
    );
    const attempts: number[] = [];
    listener.on('reconnecting', ({ attempt }) => attempts.push(attempt));
    const failed = once(listener, 'error');
    await cluster.stop('immediate');
    const [error] = (await failed) as [ConnectionError];
    expect(error).toBeInstanceOf(ConnectionError);
    expect(attempts).toEqual([1, 2, 3]);
    await expect(listener.listen(fresh())).rejects.toBe(error);
  });
});
