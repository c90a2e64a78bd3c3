import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError, createListener, type Listener } from '../../src/index.js';
import { POOLER_PROBE, POOLER_PROBES, SUBSCRIPTION_CHECK } from '../../src/notify/subscription.js';
import { FakeBackend, type FakeSession, textField } from '../support/fake-backend.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const text = (value: string | number) => new TextEncoder().encode(String(value));

/** Sends one statement's result: RowDescription, a DataRow per row, CommandComplete. */
function rows(session: FakeSession, names: string[], values: (string | number)[][]): void {
  session.send(
    { type: 'RowDescription', fields: names.map(textField) },
    ...values.map((row) => ({ type: 'DataRow' as const, values: row.map(text) })),
    { type: 'CommandComplete', commandTag: `SELECT ${values.length}` },
  );
}

/** What one fake session answers to the subscription check. */
interface Answers {
  /** BackendKeyData's pid. */
  keyPid: number;
  /**
   * pg_backend_pid() and the channel count for a check: `n` counts the checks since the first
   * LISTEN of the session (0: the one right after it), -1 before any.
   */
  check(n: number): [pid: number, count: number];
  /** pg_listening_channels(). */
  channels?: string[];
}

/**
 * A fake server whose k-th connection answers as `sessions(k)` says: a primary (the
 * target_session_attrs check), LISTEN/UNLISTEN commit,
 * the subscription check and the probe get their rows, Terminate ends the session. `checks`
 * counts the checks each connection has answered.
 */
async function fakeServer(sessions: (k: number) => Answers) {
  const checks: number[] = [];
  const listenedAt: (number | undefined)[] = [];
  const changed = new Set<() => void>();
  let connections = 0;
  const backend = await FakeBackend.start(async (session: FakeSession) => {
    const k = connections++;
    checks[k] = 0;
    const answers = sessions(k);
    await session.expect('StartupMessage');
    session.sendReady(answers.keyPid);
    for (;;) {
      const message = await session.receive();
      if (message.type === 'Terminate') return;
      if (message.type !== 'Query') throw new Error(`unexpected ${message.type}`);
      for (const statement of message.query.split(/;\s+/)) {
        if (/^(UN)?LISTEN /.test(statement)) {
          listenedAt[k] ??= checks[k];
          session.send({ type: 'CommandComplete', commandTag: statement.split(' ')[0] ?? '' });
        } else if (statement === SUBSCRIPTION_CHECK || statement === POOLER_PROBE) {
          const since = listenedAt[k];
          const [pid, count] = answers.check(since === undefined ? -1 : (checks[k] ?? 0) - since);
          checks[k] = (checks[k] ?? 0) + 1;
          for (const wake of changed) wake();
          rows(session, ['pid', 'count'], [[pid, count]]);
        } else if (statement === 'SELECT pg_catalog.pg_is_in_recovery()') {
          rows(session, ['pg_is_in_recovery'], [['f']]);
        } else if (statement === 'SELECT pg_listening_channels()') {
          rows(
            session,
            ['pg_listening_channels'],
            (answers.channels ?? []).map((channel) => [channel]),
          );
        } else {
          throw new Error(`unexpected statement ${statement}`);
        }
      }
      session.send({ type: 'ReadyForQuery', transactionStatus: 'I' });
    }
  });
  cleanups.push(() => backend.close());
  /** Resolves once connection `k` has answered `n` checks. */
  const checked = (k: number, n: number) =>
    new Promise<void>((resolve) => {
      const test = () => {
        if ((checks[k] ?? 0) < n) return;
        changed.delete(test);
        resolve();
      };
      changed.add(test);
      test();
    });
  return { backend, checked, connections: () => connections };
}

async function listener(url: string): Promise<Listener> {
  const made = await createListener(url, { heartbeatIntervalMs: 20, reconnectInitialDelayMs: 10 });
  cleanups.push(() => made.close());
  return made;
}

describe('the heartbeat proves the subscription (fake backend)', () => {
  it('another backend answering is LISTEN_LOST with the pooler hint; reconnect and gap; a repeat gives up', async () => {
    // Connection k answers from its own backend until the test moves it to another one.
    const moved = new Set<number>();
    const { backend } = await fakeServer((k) => ({
      keyPid: 100 + k,
      check: (n) => (moved.has(k) ? [999, 1] : [100 + k, n < 0 ? 0 : 1]),
    }));
    const l = await listener(backend.url);
    const stream = l.stream();
    const disconnected = once(l, 'disconnected');
    const failed = once(l, 'error');
    l.on('gap', () => moved.add(1));
    await l.listen('jobs');
    moved.add(0);
    const [lost] = (await disconnected) as [ConnectionError];
    expect(lost.code).toBe('LISTEN_LOST');
    expect(lost.message).toMatch(/pid 999, not on pid 100/);
    expect(lost.message).toMatch(/transaction or statement mode/);
    expect(lost.message).toMatch(/directly or through a pool in session mode/);
    const [final] = (await failed) as [ConnectionError];
    expect(final.code).toBe('LISTEN_LOST');
    expect(final.message).toMatch(/again on a fresh connection: .*pid 999, not on pid 101/);
    const types: string[] = [];
    await expect(
      (async () => {
        for await (const item of stream) types.push(item.type);
      })(),
    ).rejects.toBe(final);
    expect(types).toEqual(['gap']);
  });

  it('missing channels are LISTEN_LOST naming them; a fresh connection that holds them goes on', async () => {
    const { backend, checked } = await fakeServer((k) => ({
      keyPid: 100 + k,
      check: (n) => [100 + k, n < 0 || (k === 0 && n > 0) ? 0 : 1],
      channels: k === 0 ? [] : ['jobs'],
    }));
    const l = await listener(backend.url);
    const stream = l.stream();
    const disconnected = once(l, 'disconnected');
    await l.listen('jobs');
    const [lost] = (await disconnected) as [ConnectionError];
    expect(lost.code).toBe('LISTEN_LOST');
    expect(lost.message).toMatch(/no longer listens on 1 of 1 channels \("jobs"\)/);
    for await (const item of stream) {
      expect(item).toMatchObject({ type: 'gap', channels: ['jobs'] });
      break;
    }
    await checked(1, 4);
    expect(l.processId).toBe(101);
  });

  it('a pooler found at LISTEN time (a new session runs on the backend of the listener) fails listen() with LISTEN_LOST', async () => {
    const { backend } = await fakeServer((k) => ({
      // The pooler's own key, not the backend's pid; every session runs on backend 7.
      keyPid: 5000 + k,
      check: () => [7, 1],
    }));
    const l = await createListener(backend.url, { reconnectInitialDelayMs: 10 });
    cleanups.push(() => l.close());
    const error = await l.listen('jobs').then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: 'LISTEN_LOST' });
    expect(String(error)).toMatch(
      /shares server connections between clients, .*a new session ran on the listener's backend/,
    );
  });

  it('behind a pooler whose new sessions are clean, LISTEN goes ahead after the probes', async () => {
    const { backend, checked, connections } = await fakeServer((k) => ({
      keyPid: 5000 + k,
      check: () => [10 + k, k === 0 ? 1 : 0],
      channels: ['jobs'],
    }));
    const l = await listener(backend.url);
    await l.listen('jobs');
    expect(connections()).toBe(1 + POOLER_PROBES);
    await checked(0, 3);
    expect(l.processId).toBe(5000);
  });
});
