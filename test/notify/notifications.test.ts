import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Connection, ConnectionError, type Notification } from '../../src/index.js';
import { connectTest, receive, transports, waitUntilSleeping } from '../support/server.js';

/** The notifications of a batch iterator, one by one. */
async function* flatten(batches: AsyncIterable<Notification[]>): AsyncGenerator<Notification> {
  for await (const batch of batches) yield* batch;
}

let channelCounter = 0;
/** A channel name no other test uses. */
function fresh(prefix = 'ch'): string {
  channelCounter += 1;
  return `${prefix}_${process.pid}_${channelCounter}`;
}

describe.each(transports)('$name', ({ plain, options }) => {
  describe('notifications through the libpq loop', () => {
    let listener: Connection;
    let notifier: Connection;
    let other: Connection;

    beforeAll(async () => {
      [listener, notifier, other] = await Promise.all([
        connectTest(options),
        connectTest(options),
        connectTest(options),
      ]);
    });

    afterAll(async () => {
      await Promise.all([listener.close(), notifier.close(), other.close()]);
    });

    afterEach(async () => {
      await listener.unlisten();
      while (listener.notifies()) {}
    });

    it('carries channel, payload and the sender pid', async () => {
      const channel = fresh();
      await listener.listen(channel);
      await notifier.notify(channel, 'hello');
      const [n] = await receive(listener, 1);
      expect(n).toEqual({ channel, payload: 'hello', processId: notifier.backendPid });
      expect(listener.pendingNotifications).toBe(0);
      expect(listener.notifies()).toBeNull();
    });

    it('a payload defaults to the empty string', async () => {
      const channel = fresh();
      await listener.listen(channel);
      await notifier.notify(channel);
      expect((await receive(listener, 1))[0]?.payload).toBe('');
    });

    it('self-notifications carry our own backend pid', async () => {
      const channel = fresh();
      await listener.listen(channel);
      await listener.notify(channel, 'me');
      const [n] = await receive(listener, 1);
      expect(n?.processId).toBe(listener.backendPid);
    });

    it('is delivered at commit, not before', async () => {
      const channel = fresh();
      await listener.listen(channel);
      await notifier.exec('BEGIN');
      await notifier.notify(channel, 'in-transaction');
      await other.notify(channel, 'marker');
      expect((await receive(listener, 1)).map((n) => n.payload)).toEqual(['marker']);
      await notifier.exec('COMMIT');
      expect((await receive(listener, 1)).map((n) => n.payload)).toEqual(['in-transaction']);
    });

    it('a rolled back NOTIFY sends nothing', async () => {
      const channel = fresh();
      await listener.listen(channel);
      await notifier.exec('BEGIN');
      await notifier.notify(channel, 'rolled-back');
      await notifier.exec('ROLLBACK');
      await notifier.notify(channel, 'after');
      expect((await receive(listener, 1)).map((n) => n.payload)).toEqual(['after']);
    });

    it('identical notifications in one transaction collapse, distinct ones do not', async () => {
      const channel = fresh();
      await listener.listen(channel);
      await notifier.exec('BEGIN');
      for (const payload of ['same', 'same', 'other', 'same'])
        await notifier.notify(channel, payload);
      await notifier.exec('COMMIT');
      await notifier.notify(channel, 'marker');
      expect((await receive(listener, 3)).map((n) => n.payload)).toEqual([
        'same',
        'other',
        'marker',
      ]);
    });

    it('a listener inside a transaction gets them after it ends', async () => {
      const channel = fresh();
      await listener.listen(channel);
      await listener.exec('BEGIN');
      await notifier.notify(channel, 'while-in-transaction');
      await listener.exec('SELECT 1');
      expect(listener.pendingNotifications).toBe(0);
      await listener.exec('COMMIT');
      expect((await receive(listener, 1)).map((n) => n.payload)).toEqual(['while-in-transaction']);
    });

    it('100,000 notifications in one transaction arrive complete and in order', async () => {
      const channel = fresh();
      await listener.listen(channel);
      await notifier.query(
        'SELECT count(pg_notify($1, i::text)) FROM generate_series(1, 100000) i',
        [channel],
      );
      const received = await receive(listener, 100_000);
      expect(received.length).toBe(100_000);
      let inOrder = true;
      for (const [index, n] of received.entries()) {
        if (n.payload !== String(index + 1) || n.channel !== channel) inOrder = false;
      }
      expect(inOrder).toBe(true);
    });

    it.each([
      ['mixed case', 'MixedCase_Channel'],
      ['spaces', 'a channel with spaces'],
      ['quotes', `it's a "quoted" channel`],
      ['unicode', 'kanał_żółw_🐢'],
      ['exactly 63 bytes', `${'é'.repeat(30)}abc`],
    ])('channel names are verbatim: %s', async (_what, channel) => {
      await listener.listen(channel);
      const listening = await listener.exec('SELECT pg_listening_channels()');
      expect(listening.rows).toEqual([[channel]]);
      await notifier.notify(channel, 'x');
      expect((await receive(listener, 1))[0]?.channel).toBe(channel);
    });

    it('a 7999-byte payload goes through', async () => {
      const channel = fresh();
      await listener.listen(channel);
      const payload = `${'€'.repeat(2666)}x`;
      expect(Buffer.byteLength(payload)).toBe(7999);
      await notifier.notify(channel, payload);
      expect((await receive(listener, 1))[0]?.payload).toBe(payload);
    });

    it('limits are refused before anything is sent', async () => {
      const channel = fresh();
      await listener.listen(channel);
      const overLong = `${'é'.repeat(31)}a`;
      expect(Buffer.byteLength(overLong)).toBe(63);
      await expect(notifier.notify(`${overLong}b`, 'x')).rejects.toThrow(RangeError);
      await expect(notifier.notify(`${overLong}b`, 'x')).rejects.toThrow(/64 bytes.*63/);
      await expect(listener.listen('')).rejects.toThrow(RangeError);
      await expect(notifier.notify(channel, 'x'.repeat(8000))).rejects.toThrow(/8000 bytes/);
      await expect(notifier.notify(channel, '€'.repeat(2667))).rejects.toThrow(RangeError);
      await expect(notifier.notify(channel, 'a\0b')).rejects.toThrow(TypeError);
      await expect(listener.listen('a\0b')).rejects.toThrow(TypeError);
      await notifier.notify(channel, 'marker');
      expect((await receive(listener, 1)).map((n) => n.payload)).toEqual(['marker']);
      expect(notifier.status).toBe('ok');
    });

    it('notifications that arrive during exec are queued, not dropped', async () => {
      const channel = fresh();
      await listener.listen(channel);
      await listener.query('SELECT pg_notify($1, $2)', [channel, 'own']);
      const sleeping = listener.exec('SELECT pg_sleep(0.3)');
      await waitUntilSleeping(other, listener.backendPid);
      await notifier.notify(channel, 'during-exec');
      await sleeping;
      await notifier.notify(channel, 'after-exec');
      const payloads = (await receive(listener, 3)).map((n) => n.payload);
      expect(payloads).toEqual(['own', 'during-exec', 'after-exec']);
    });

    it('waitReadable resolves false at the timeout and rejects on abort', async () => {
      expect(await listener.waitReadable({ timeout: 20 })).toBe(false);
      const controller = new AbortController();
      const waiting = listener.waitReadable({ signal: controller.signal });
      controller.abort(new Error('stop waiting'));
      await expect(waiting).rejects.toThrow('stop waiting');
    });
  });

  describe('pending waitReadable calls', () => {
    let listener: Connection;
    let notifier: Connection;

    beforeEach(async () => {
      [listener, notifier] = await Promise.all([connectTest(options), connectTest(options)]);
      await listener.listen('pending_waits');
    });

    afterEach(async () => {
      await Promise.all([listener.close(), notifier.close()]);
    });

    it('all resolve true when input arrives', async () => {
      const waits = [listener.waitReadable(), listener.waitReadable(), listener.waitReadable()];
      await notifier.notify('pending_waits', 'x');
      expect(await Promise.all(waits)).toEqual([true, true, true]);
    });

    it('all reject with CONNECTION_CLOSED when close() is called', async () => {
      const outcomes = [listener.waitReadable(), listener.waitReadable({ timeout: 60_000 })].map(
        (wait) => expect(wait).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' }),
      );
      await listener.close();
      await Promise.all(outcomes);
    });

    it('all wake when the server ends the session, like select(); consumeInput then throws', async () => {
      const waits = [listener.waitReadable(), listener.waitReadable()];
      await notifier.query('SELECT pg_terminate_backend($1::int)', [String(listener.backendPid)]);
      expect(await Promise.all(waits)).toEqual([true, true]);
      expect(() => listener.consumeInput()).toThrow(
        expect.objectContaining({ code: 'CONNECTION_LOST' }),
      );
      await expect(listener.waitReadable()).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
    });
  });

  describe('the async iterator', () => {
    let listener: Connection;
    let notifier: Connection;

    beforeEach(async () => {
      [listener, notifier] = await Promise.all([connectTest(options), connectTest(options)]);
    });

    afterEach(async () => {
      await Promise.all([listener.close(), notifier.close()]);
    });

    it('drains the queue, then waits; break ends it', async () => {
      const channel = fresh('it');
      await listener.listen(channel);
      await notifier.query('SELECT pg_notify($1, i::text) FROM generate_series(1, 3) i', [channel]);
      const seen: string[] = [];
      for await (const n of listener.notifications()) {
        seen.push(n.payload);
        if (seen.length === 3) break;
      }
      expect(seen).toEqual(['1', '2', '3']);
      expect((await listener.exec('SELECT 1')).rows).toEqual([['1']]);
    });

    it('an abort ends it cleanly', async () => {
      const channel = fresh('it');
      await listener.listen(channel);
      const controller = new AbortController();
      const seen: string[] = [];
      const done = (async () => {
        for await (const n of listener.notifications({ signal: controller.signal })) {
          seen.push(n.payload);
          controller.abort();
        }
      })();
      await notifier.notify(channel, 'one');
      await done;
      expect(seen).toEqual(['one']);
    });

    it('close() ends it cleanly', async () => {
      await listener.listen(fresh('it'));
      const done = (async () => {
        for await (const _ of listener.notifications()) {
          throw new Error('nothing was sent');
        }
      })();
      await listener.close();
      await expect(done).resolves.toBeUndefined();
    });

    it('idleTimeout ends it when nothing arrives', async () => {
      await listener.listen(fresh('it'));
      const seen: Notification[] = [];
      for await (const n of listener.notifications({ idleTimeout: 30 })) seen.push(n);
      expect(seen).toEqual([]);
    });

    it.each([
      ['one by one', (conn: Connection) => conn.notifications()],
      ['in batches', (conn: Connection) => flatten(conn.notificationBatches())],
    ])(
      '%s: a lost connection throws ConnectionError after the queued notifications',
      async (_, iterate) => {
        const channel = fresh('it');
        await listener.listen(channel);
        await notifier.notify(channel, 'before');
        await listener.waitReadable();
        await notifier.query('SELECT pg_terminate_backend($1::int)', [String(listener.backendPid)]);
        const seen: string[] = [];
        const error = await (async () => {
          for await (const n of iterate(listener)) seen.push(n.payload);
        })().catch((caught: unknown) => caught);
        expect(seen).toEqual(['before']);
        expect(error).toBeInstanceOf(ConnectionError);
        expect((error as ConnectionError).code).toBe('CONNECTION_LOST');
      },
    );

    it('in batches: each next() yields everything queued, in order, once', async () => {
      const channel = fresh('it');
      await listener.listen(channel);
      await notifier.query('SELECT pg_notify($1, i::text) FROM generate_series(1, 500) i', [
        channel,
      ]);
      const batches: Notification[][] = [];
      let count = 0;
      for await (const batch of listener.notificationBatches()) {
        batches.push(batch);
        count += batch.length;
        if (count >= 500) break;
      }
      expect(batches.every((batch) => batch.length > 0)).toBe(true);
      expect(batches.flat().map((n) => n.payload)).toEqual(
        Array.from({ length: 500 }, (_, i) => String(i + 1)),
      );
      expect(batches[0]![0]).toEqual({ channel, payload: '1', processId: notifier.backendPid });
      expect(listener.pendingNotifications).toBe(0);
    });

    it('in batches: a batch holds what was queued during a command, taken at once', async () => {
      const channel = fresh('it');
      await listener.listen(channel);
      await listener.exec(`NOTIFY ${channel}, 'a'; NOTIFY ${channel}, 'b'; SELECT 1`);
      expect(listener.pendingNotifications).toBe(2);
      const batches = listener.notificationBatches();
      const first = await batches.next();
      expect(first).toEqual({
        done: false,
        value: [
          { channel, payload: 'a', processId: listener.backendPid },
          { channel, payload: 'b', processId: listener.backendPid },
        ],
      });
      await batches.return();
    });

    it('in batches: abort, close() and idleTimeout end it cleanly', async () => {
      await listener.listen(fresh('it'));
      const controller = new AbortController();
      const aborted = listener.notificationBatches({ signal: controller.signal }).next();
      controller.abort();
      expect(await aborted).toEqual({ done: true, value: undefined });
      const idle = listener.notificationBatches({ idleTimeout: 20 }).next();
      expect(await idle).toEqual({ done: true, value: undefined });
      const pending = listener.notificationBatches().next();
      await listener.close();
      expect(await pending).toEqual({ done: true, value: undefined });
    });

    // Over TLS, the stream reports its end only once the input before it is read.
    it.runIf(plain)('keeps notifications that arrived before a close it saw first', async () => {
      const channel = fresh('it');
      await listener.listen(channel);
      await notifier.query('SELECT pg_notify($1, i::text) FROM generate_series(1, 3) i', [channel]);
      await listener.waitReadable();
      const closed = new Promise<unknown>((resolve) => listener.once('close', resolve));
      await notifier.query('SELECT pg_terminate_backend($1::int)', [String(listener.backendPid)]);
      expect(await closed).toBeInstanceOf(ConnectionError);
      expect(listener.status).toBe('bad');
      expect(listener.pendingNotifications).toBe(3);
      expect(() => listener.consumeInput()).toThrow(ConnectionError);
      expect([listener.notifies(), listener.notifies(), listener.notifies()]).toEqual(
        ['1', '2', '3'].map((payload) => ({
          channel,
          payload,
          processId: notifier.backendPid,
        })),
      );
      expect(listener.notifies()).toBeNull();
    });
  });
});
