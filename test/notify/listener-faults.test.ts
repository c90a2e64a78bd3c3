import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Connection,
  type ConnectionError,
  createListener,
  type GapMarker,
  Listener,
  type ListenerItem,
  type ListenerNotification,
  type ListenerOptions,
} from '../../src/index.js';
import { TcpProxy } from '../support/proxy.js';
import { connectTest, server, transports } from '../support/server.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let counter = 0;
function fresh(prefix = 'flt'): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}`;
}

async function proxy(): Promise<TcpProxy> {
  const started = await TcpProxy.start({ host: '127.0.0.1', port: server.port });
  cleanups.push(() => started.close());
  return started;
}

/** `url` pointed at the proxy instead of the server. */
function via(url: string, through: TcpProxy): string {
  const parsed = new URL(url);
  parsed.host = `127.0.0.1:${through.port}`;
  return parsed.toString();
}

async function listenerOn(url: string, options: ListenerOptions): Promise<Listener> {
  const listener = await createListener(url, options);
  cleanups.push(() => listener.close());
  return listener;
}

async function observer(): Promise<Connection> {
  const conn = await connectTest();
  cleanups.push(() => conn.close());
  return conn;
}

/** The listener's backends, by its application_name. */
async function backends(conn: Connection, name: string): Promise<number> {
  const result = await conn.query(
    'SELECT count(*) FROM pg_stat_activity WHERE application_name = $1',
    [name],
  );
  return Number(result.rows[0]?.[0]);
}

/**
 * Waits until the listener has exactly one backend: a backend whose client went away leaves
 * when the server notices, which takes a moment; a leaked one never does.
 */
async function settledBackends(conn: Connection, name: string): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const count = await backends(conn, name);
    if (count === 1 || Date.now() > deadline) return count;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Collects items until `stop` says so. */
async function collect(
  iterator: AsyncIterator<ListenerItem>,
  stop: (items: ListenerItem[]) => boolean,
): Promise<ListenerItem[]> {
  const items: ListenerItem[] = [];
  while (!stop(items)) {
    const next = await iterator.next();
    if (next.done) break;
    items.push(next.value);
  }
  return items;
}

const payloads = (items: ListenerItem[]) =>
  items.map((item) => (item.type === 'notification' ? item.payload : 'gap'));

/** After a recovery: a NOTIFY sent now reaches the stream right behind the gap marker. */
async function expectGapThenNotification(
  stream: AsyncIterator<ListenerItem>,
  sender: Connection,
  channel: string,
): Promise<void> {
  await sender.notify(channel, 'after');
  expect(payloads(await collect(stream, (items) => items.length === 2))).toEqual(['gap', 'after']);
}

describe.each(transports)('$name', ({ url, plain }) => {
  describe('Listener under faults', () => {
    it('blackhole during reconnect: backs off through timed-out attempts, then recovers; downtime covers it all', async () => {
      const through = await proxy();
      const listener = await listenerOn(via(url, through), {
        reconnectInitialDelayMs: 50,
        reconnectMaxDelayMs: 200,
        heartbeatTimeoutMs: 1000,
      });
      const channel = fresh();
      await listener.listen(channel);
      const stream = listener.stream();
      const attempts: { attempt: number; delayMs: number; code: string }[] = [];
      let released = false;
      const timedOut = new Promise<void>((resolve) => {
        listener.on('reconnecting', ({ attempt, delayMs, error }) => {
          attempts.push({ attempt, delayMs, code: error.code });
          if (attempt === 3 && !released) resolve();
        });
      });
      const lastInput = listener.lastInputAt ?? 0;
      through.blackholeNew(true);
      const outageStart = Date.now();
      through.cut();
      await timedOut;
      expect(listener.state).toBe('reconnecting');
      expect(listener.connectedSince).toBeUndefined();
      const gapSeen = once(listener, 'gap');
      released = true;
      through.blackholeNew(false);
      const [gap] = (await gapSeen) as [GapMarker];
      const outage = Date.now() - outageStart;
      expect(attempts.slice(0, 3).map(({ attempt, code }) => ({ attempt, code }))).toEqual([
        { attempt: 1, code: 'CONNECTION_LOST' },
        { attempt: 2, code: 'CONNECTION_TIMEOUT' },
        { attempt: 3, code: 'CONNECTION_TIMEOUT' },
      ]);
      expect(attempts[1]?.delayMs).toBeGreaterThanOrEqual(25);
      expect(attempts[1]?.delayMs).toBeLessThanOrEqual(50);
      expect(attempts[2]?.delayMs).toBeGreaterThanOrEqual(50);
      expect(attempts[2]?.delayMs).toBeLessThanOrEqual(100);
      expect(gap.lastInputAt).toBe(lastInput);
      expect(gap.downtimeMs).toBeGreaterThanOrEqual(outage - 50);
      expect(listener.state).toBe('listening');
      const sender = await observer();
      await expectGapThenNotification(stream, sender, channel);
    });

    it('createListener against a silent peer rejects with CONNECTION_TIMEOUT and leaves no socket', async () => {
      const through = await proxy();
      through.blackholeNew(true);
      const error = await createListener(via(url, through), { heartbeatTimeoutMs: 1000 }).catch(
        (caught: unknown) => caught as ConnectionError,
      );
      expect(error).toMatchObject({ code: 'CONNECTION_TIMEOUT' });
      expect(through.accepted).toBe(1);
      while (through.open > 0) await new Promise((resolve) => setImmediate(resolve));
    });

    it('with retryInitialConnect, a silent peer is waited out until the server answers', async () => {
      const through = await proxy();
      through.blackholeNew(true);
      const listener = new Listener(via(url, through), {
        heartbeatTimeoutMs: 1000,
        retryInitialConnect: true,
        reconnectInitialDelayMs: 20,
      });
      cleanups.push(() => listener.close());
      const errors: string[] = [];
      listener.on('reconnecting', ({ attempt, error }) => {
        errors.push(error.code);
        if (attempt === 2) through.blackholeNew(false);
      });
      expect(listener.state).toBe('connecting');
      await listener.start();
      expect(errors).toEqual(['CONNECTION_TIMEOUT']);
      expect(listener.state).toBe('listening');
      await listener.listen(fresh());
    });

    it('a +16 MiB length flip in a NotificationResponse: error, reconnect, gap at once', async () => {
      const through = await proxy();
      const listener = await listenerOn(via(url, through), {
        heartbeatIntervalMs: 2000,
        heartbeatTimeoutMs: 1000,
        reconnectInitialDelayMs: 20,
      });
      const channel = fresh();
      await listener.listen(channel);
      const stream = listener.stream();
      const disconnected = once(listener, 'disconnected');
      const gapSeen = once(listener, 'gap');
      // Byte 1 of the next message is the top byte of its length: +0x01000000.
      through.corrupt(1, 0x01);
      const sender = await observer();
      const sentAt = Date.now();
      await sender.notify(channel, 'flipped');
      const [error] = (await disconnected) as [ConnectionError];
      if (plain) expect(error.message).toMatch(/NotificationResponse length \d+ exceeds 32258/);
      await gapSeen;
      expect(Date.now() - sentAt).toBeLessThan(3000);
      await expectGapThenNotification(stream, sender, channel);
    });

    it('half-open with heartbeat 2000/1000: found within 3 s, downtime covers the silence', async () => {
      const through = await proxy();
      const listener = await listenerOn(via(url, through), {
        heartbeatIntervalMs: 2000,
        heartbeatTimeoutMs: 1000,
        reconnectInitialDelayMs: 20,
      });
      const channel = fresh();
      await listener.listen(channel);
      const stream = listener.stream();
      const disconnected = once(listener, 'disconnected');
      const lastInput = listener.lastInputAt ?? 0;
      through.blackhole();
      const silenceStart = Date.now();
      const [error] = (await disconnected) as [ConnectionError];
      const detectedAfter = Date.now() - silenceStart;
      expect(error.message).toMatch(/heartbeat/);
      // Detection is due 3 s after the last input, which came before the silence began.
      expect(detectedAfter).toBeLessThan(3000 + 500);
      expect(Date.now() - lastInput).toBeGreaterThanOrEqual(2990);
      const gapSeen = once(listener, 'gap');
      through.resume();
      const [gap] = (await gapSeen) as [GapMarker];
      expect(gap.downtimeMs).toBeGreaterThanOrEqual(detectedAfter);
      expect(gap.lastInputAt).toBe(lastInput);
      const sender = await observer();
      await expectGapThenNotification(stream, sender, channel);
    });

    it('a dripping server (one byte at a time) is alive: whole messages keep coming', async () => {
      const through = await proxy();
      const listener = await listenerOn(via(url, through), {
        heartbeatIntervalMs: 1000,
        heartbeatTimeoutMs: 1000,
      });
      const channel = fresh();
      await listener.listen(channel);
      const disconnects: ConnectionError[] = [];
      listener.on('disconnected', (error) => disconnects.push(error));
      const stream = listener.stream();
      through.drip(1);
      const sender = await observer();
      for (let i = 1; i <= 10; i++) await sender.notify(channel, `d${i}`);
      const items = await collect(stream, (list) => list.length === 10);
      expect(payloads(items)).toEqual(Array.from({ length: 10 }, (_, i) => `d${i + 1}`));
      expect(disconnects).toEqual([]);
    });

    it('a handler that throws on every third notification hurts nothing, and its errors are reported', async () => {
      const name = fresh('app');
      const listener = await listenerOn(url, { applicationName: name });
      const watcher = await observer();
      expect(await backends(watcher, name)).toBe(1);
      const channel = fresh();
      const pid = listener.processId;
      const thrown: { error: unknown; payload: string | undefined }[] = [];
      listener.on('handlerError', (error, source) =>
        thrown.push({ error, payload: source.notification?.payload }),
      );
      const disconnects: ConnectionError[] = [];
      listener.on('disconnected', (error) => disconnects.push(error));
      let seen = 0;
      await listener.listen(channel, (notification) => {
        seen += 1;
        if (seen % 3 === 0) throw new Error(`third: ${notification.payload}`);
      });
      const other: string[] = [];
      await listener.listen(channel, (notification) => other.push(notification.payload));
      const stream = listener.stream();
      const second = listener.stream();
      const sender = await observer();
      for (let i = 1; i <= 30; i++) await sender.notify(channel, `n${i}`);
      const all = Array.from({ length: 30 }, (_, i) => `n${i + 1}`);
      expect(payloads(await collect(stream, (items) => items.length === 30))).toEqual(all);
      expect(payloads(await collect(second, (items) => items.length === 30))).toEqual(all);
      expect(other).toEqual(all);
      expect(thrown.map(({ payload }) => payload)).toEqual(
        all.filter((_, index) => (index + 1) % 3 === 0),
      );
      expect(String(thrown[0]?.error)).toMatch(/third: n3/);
      expect(disconnects).toEqual([]);
      expect(listener.processId).toBe(pid);
      expect(listener.state).toBe('listening');
      expect(await backends(watcher, name)).toBe(1);
    });

    it('an event listener that throws is reported too, and the stream goes on', async () => {
      const listener = await listenerOn(url, { reconnectInitialDelayMs: 5 });
      const reported: (string | undefined)[] = [];
      listener.on('handlerError', (_error, source) => reported.push(source.event));
      listener.on('gap', () => {
        throw new Error('gap listener');
      });
      listener.on('disconnected', () => {
        throw new Error('disconnected listener');
      });
      const channel = fresh();
      await listener.listen(channel);
      const stream = listener.stream();
      const gapSeen = once(listener, 'gap');
      const sender = await observer();
      await sender.query('SELECT pg_terminate_backend($1::int)', [String(listener.processId)]);
      await gapSeen;
      await expectGapThenNotification(stream, sender, channel);
      expect(reported).toEqual(['disconnected', 'gap']);
    });

    it('50 faults of mixed kinds: one backend, the subscribed channels, every notification after each gap', async () => {
      const through = await proxy();
      const name = fresh('app');
      const listener = await listenerOn(via(url, through), {
        applicationName: name,
        heartbeatIntervalMs: 200,
        heartbeatTimeoutMs: 200,
        reconnectInitialDelayMs: 5,
        reconnectMaxDelayMs: 50,
      });
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      cleanups.push(async () => process.off('unhandledRejection', onUnhandled));
      const channels = [fresh(), fresh()];
      for (const channel of channels) await listener.listen(channel);
      const dropped = await listener.listen(fresh());
      const stream = listener.stream();
      const sender = await observer();
      const kinds = ['cut', 'terminate', 'corrupt', 'refuse', 'blackhole', 'silent'] as const;
      const seen = new Map<string, number>();
      for (let i = 0; i < 50; i++) {
        const kind = i % 10 === 9 ? 'silent' : (kinds[i % 5] ?? 'cut');
        seen.set(kind, (seen.get(kind) ?? 0) + 1);
        const gapSeen = once(listener, 'gap');
        switch (kind) {
          case 'cut':
            through.cut();
            break;
          case 'terminate':
            await sender.query('SELECT pg_terminate_backend($1::int)', [
              String(listener.processId),
            ]);
            break;
          case 'corrupt':
            through.corrupt(1, 0x01);
            await sender.notify(channels[0] ?? '', `corrupt-${i}`);
            break;
          case 'refuse': {
            through.refuse(true);
            const refused = once(listener, 'reconnecting');
            through.cut();
            await refused;
            through.refuse(false);
            break;
          }
          case 'blackhole': {
            const lost = once(listener, 'disconnected');
            through.blackhole();
            await lost;
            through.resume();
            break;
          }
          case 'silent': {
            through.blackholeNew(true);
            const timedOut = new Promise<void>((resolve) => {
              const onAttempt = ({ error }: { error: ConnectionError }) => {
                if (error.code !== 'CONNECTION_TIMEOUT') return;
                listener.off('reconnecting', onAttempt);
                resolve();
              };
              listener.on('reconnecting', onAttempt);
            });
            through.cut();
            await timedOut;
            through.blackholeNew(false);
            break;
          }
        }
        await gapSeen;
        for (const channel of channels) await sender.notify(channel, `after-${i}`);
        const items = await collect(
          stream,
          (list) =>
            list.filter((item) => item.type === 'notification' && item.payload === `after-${i}`)
              .length === 2,
        );
        const after = items.slice(items.map((item) => item.type).lastIndexOf('gap') + 1);
        expect(
          after
            .filter((item): item is ListenerNotification => item.type === 'notification')
            .map((item) => `${item.channel}:${item.payload}`)
            .sort(),
        ).toEqual(channels.map((channel) => `${channel}:after-${i}`).sort());
        if (i === 25) await dropped.unlisten();
      }
      expect([...seen.keys()].sort()).toEqual([...kinds].sort());
      expect(listener.state).toBe('listening');
      expect((await listener.listeningChannels()).sort()).toEqual([...channels].sort());
      expect(await settledBackends(sender, name)).toBe(1);
      expect(unhandled).toEqual([]);
    }, 120_000);
  });
});
