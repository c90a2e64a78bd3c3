import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConnectionError, Listener, type ListenerClock } from '../../src/index.js';
import {
  resolveRetryPolicy,
  retriesExhausted,
  retryDefaults,
  retryDelay,
} from '../../src/notify/retry.js';
import { FakeBackend, type FakeSession } from '../support/fake-backend.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('retry policy', () => {
  it('has its defaults written once', () => {
    expect(resolveRetryPolicy()).toEqual(retryDefaults);
    expect(retryDefaults).toEqual({
      initialDelayMs: 250,
      maxDelayMs: 30_000,
      maxAttempts: Number.POSITIVE_INFINITY,
    });
  });

  it('backs off exponentially with equal jitter, up to the cap', () => {
    const policy = resolveRetryPolicy({ reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 500 });
    const top = () => 0.999_999;
    const bottom = () => 0;
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelay(policy, n, top))).toEqual([
      0, 100, 200, 400, 500, 500,
    ]);
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelay(policy, n, bottom))).toEqual([
      0, 50, 100, 200, 250, 250,
    ]);
    expect(retryDelay(policy, 3, () => 0.5)).toBe(150);
    expect(retryDelay(policy, 1000, top)).toBe(500);
  });

  it('gives up at the attempt limit, never when unlimited', () => {
    const limited = resolveRetryPolicy({ reconnectMaxAttempts: 3 });
    expect([1, 2, 3].map((n) => retriesExhausted(limited, n))).toEqual([false, false, true]);
    expect(retriesExhausted(resolveRetryPolicy(), 1e9)).toBe(false);
  });

  it('refuses nonsense settings', () => {
    expect(() => resolveRetryPolicy({ reconnectInitialDelayMs: -1 })).toThrow(RangeError);
    expect(() => resolveRetryPolicy({ reconnectMaxDelayMs: Number.NaN })).toThrow(RangeError);
    expect(() => resolveRetryPolicy({ reconnectMaxAttempts: 0 })).toThrow(RangeError);
  });
});

/** A clock whose sleeps return at once and are recorded, and whose random() is fixed. */
function fakeClock(random: number): ListenerClock & { slept: number[] } {
  const slept: number[] = [];
  return {
    slept,
    now: () => Date.now(),
    sleep: async (ms) => {
      slept.push(ms);
    },
    random: () => random,
  };
}

/** Startup, then every LISTEN fails with an ErrorResponse (other queries succeed). */
async function refusingListens(session: FakeSession): Promise<void> {
  await session.expect('StartupMessage');
  session.sendReady();
  for (;;) {
    const query = await session.expect('Query');
    if (query.query.includes('LISTEN')) {
      session.send(
        {
          type: 'ErrorResponse',
          fields: { severity: 'ERROR', code: '25006', message: 'cannot execute LISTEN here' },
        },
        { type: 'ReadyForQuery', transactionStatus: 'I' },
      );
    } else {
      session.send(
        { type: 'CommandComplete', commandTag: 'SELECT 1' },
        { type: 'ReadyForQuery', transactionStatus: 'I' },
      );
    }
  }
}

describe('Listener retries with an injected clock', () => {
  it('keeps the attempt counter across failed LISTENs: backoff, cap, then gives up', async () => {
    const backend = await FakeBackend.start(refusingListens);
    cleanups.push(() => backend.close());
    const clock = fakeClock(0.999_999);
    const listener = new Listener(backend.url, {
      targetSessionAttrs: 'any',
      reconnectInitialDelayMs: 100,
      reconnectMaxDelayMs: 300,
      reconnectMaxAttempts: 5,
      heartbeatIntervalMs: 0,
      clock,
    });
    cleanups.push(() => listener.close());
    await listener.start();
    expect(listener.state).toBe('listening');
    const attempts: { attempt: number; delayMs: number; code: string }[] = [];
    listener.on('reconnecting', ({ attempt, delayMs, error }) =>
      attempts.push({ attempt, delayMs, code: error.code }),
    );
    const failed = once(listener, 'error');
    const listening = listener.listen('chan');
    const [error] = (await failed) as [ConnectionError];
    await expect(listening).rejects.toBe(error);
    expect(error.code).toBe('CONNECTION_REJECTED');
    expect(error.message).toMatch(/LISTEN failed/);
    expect(attempts).toEqual([
      { attempt: 1, delayMs: 0, code: 'CONNECTION_REJECTED' },
      { attempt: 2, delayMs: 100, code: 'CONNECTION_REJECTED' },
      { attempt: 3, delayMs: 200, code: 'CONNECTION_REJECTED' },
      { attempt: 4, delayMs: 300, code: 'CONNECTION_REJECTED' },
      { attempt: 5, delayMs: 300, code: 'CONNECTION_REJECTED' },
    ]);
    expect(clock.slept).toEqual([100, 200, 300, 300]);
    expect(listener.state).toBe('failed');
  });

  it('with retryInitialConnect, the first connection follows the same policy', async () => {
    const clock = fakeClock(0);
    let sessions = 0;
    const backend = await FakeBackend.start(async (session) => {
      sessions += 1;
      if (sessions < 3) {
        session.end();
        return;
      }
      await refusingListens(session);
    });
    cleanups.push(() => backend.close());
    const listener = new Listener(backend.url, {
      targetSessionAttrs: 'any',
      retryInitialConnect: true,
      reconnectInitialDelayMs: 40,
      heartbeatIntervalMs: 0,
      clock,
    });
    cleanups.push(() => listener.close());
    const attempts: { attempt: number; delayMs: number; code: string }[] = [];
    listener.on('reconnecting', ({ attempt, delayMs, error }) =>
      attempts.push({ attempt, delayMs, code: error.code }),
    );
    expect(listener.state).toBe('connecting');
    await listener.start();
    expect(listener.state).toBe('listening');
    expect(attempts.map(({ attempt, delayMs }) => ({ attempt, delayMs }))).toEqual([
      { attempt: 2, delayMs: 20 },
      { attempt: 3, delayMs: 40 },
    ]);
    expect(clock.slept).toEqual([20, 40]);
  });

  it('without retryInitialConnect, the first failure rejects and the listener is failed', async () => {
    const backend = await FakeBackend.start(async (session) => session.end());
    cleanups.push(() => backend.close());
    const listener = new Listener(backend.url, { targetSessionAttrs: 'any' });
    await expect(listener.start()).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
    expect(listener.state).toBe('failed');
  });
});

describe('Listener liveness', () => {
  it('bytes of a frame that never completes are no sign of life: the heartbeat replaces the connection', async () => {
    let sessions = 0;
    const backend = await FakeBackend.start(async (session) => {
      sessions += 1;
      await session.expect('StartupMessage');
      session.sendReady(100 + sessions);
      if (sessions > 1) {
        await refusingListens(session);
        return;
      }
      // A NoticeResponse announcing 16 MiB, then a byte every 20 ms: bytes keep coming,
      // and no message ever completes.
      session.sendBytes(Uint8Array.of(0x4e, 0x01, 0x00, 0x00, 0x00));
      const timer = setInterval(() => session.sendBytes(Uint8Array.of(0x4d)), 20);
      session.socket.once('close', () => clearInterval(timer));
    });
    cleanups.push(() => backend.close());
    const listener = new Listener(backend.url, {
      targetSessionAttrs: 'any',
      heartbeatIntervalMs: 200,
      heartbeatTimeoutMs: 200,
      reconnectInitialDelayMs: 5,
    });
    cleanups.push(() => listener.close());
    await listener.start();
    const [error] = (await once(listener, 'disconnected')) as [ConnectionError];
    expect(error.message).toMatch(/no answer to the heartbeat within 200 ms/);
    const [gap] = await once(listener, 'gap');
    expect(gap).toMatchObject({ previousProcessId: 101, processId: 102 });
  });
});
