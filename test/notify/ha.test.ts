import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ConnectionError,
  connect,
  createListener,
  type GapMarker,
  type ListenerItem,
} from '../../src/index.js';
import { BIN, startNode } from '../support/process.js';
import { type ReplicatedPair, startReplicatedPair } from '../support/replication.js';
import { managed } from '../support/server.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function pair(): Promise<ReplicatedPair> {
  const made = await startReplicatedPair();
  cleanups.push(() => made.destroy());
  return made;
}

/** postgres://… with both servers of the pair in the given order. */
function hostList(...ports: number[]): string {
  return `postgres://postgres@${ports.map((port) => `127.0.0.1:${port}`).join(',')}/postgres`;
}

describe.skipIf(!managed)('failover on a streaming replicated pair', () => {
  it('the Listener ends up on the promoted standby with one gap covering the outage, then receives', async () => {
    const { primary, standby } = await pair();
    const createdAt = performance.now();
    const listener = await createListener(hostList(primary.port, standby.port), {
      reconnectInitialDelayMs: 50,
      reconnectMaxDelayMs: 400,
    });
    cleanups.push(() => listener.close());
    await listener.listen('failover');
    const stream = listener.stream();
    const connected: string[] = [];
    listener.on('connected', ({ address }) => connected.push(address));
    const attempts: { attempt: number; delayMs: number; error: ConnectionError }[] = [];
    listener.on('reconnecting', (info) => attempts.push(info));
    const disconnected = once(listener, 'disconnected');

    const stoppedAt = performance.now();
    await primary.stop('immediate');
    await disconnected;
    const disconnectedAt = performance.now();
    // No primary exists until the promotion: the Listener backs off and says why.
    while (attempts.length < 3) await once(listener, 'reconnecting');
    const promotingAt = performance.now();
    await standby.promote();
    const promotedAt = performance.now();

    const items: ListenerItem[] = [];
    let gapAt = 0;
    let receivedAt = 0;
    for await (const item of stream) {
      items.push(item);
      if (item.type === 'gap') {
        gapAt = performance.now();
        await using sender = await connect(standby.url);
        await sender.notify('failover', 'from the new primary');
      } else {
        receivedAt = performance.now();
        break;
      }
    }
    const gaps = items.filter((item): item is GapMarker => item.type === 'gap');
    expect(gaps).toHaveLength(1);
    expect(items.at(-1)).toMatchObject({ type: 'notification', payload: 'from the new primary' });
    // The standby was in recovery until the promotion began: the gap covers at least that.
    expect(gaps[0]?.downtimeMs).toBeGreaterThanOrEqual(Math.floor(promotingAt - disconnectedAt));
    expect(gaps[0]?.downtimeMs).toBeLessThanOrEqual(Math.ceil(gapAt - createdAt));
    expect(connected).toEqual([`127.0.0.1:${standby.port}`]);
    expect(attempts.slice(1).every((a) => a.delayMs > 0)).toBe(true);
    // Each event after the first carries why the attempt before it failed.
    expect(attempts.at(-1)?.error.message).toMatch(/standby|refused|ECONNREFUSED/);
    expect(attempts.some((a) => /is a standby/.test(a.error.message))).toBe(true);
    console.info(
      `failover: primary stopped → gap ${Math.round(gapAt - stoppedAt)} ms, → first notification ${Math.round(receivedAt - stoppedAt)} ms (promotion took ${Math.round(promotedAt - stoppedAt)} ms; gap.downtimeMs ${gaps[0]?.downtimeMs})`,
    );
  });

  it('`pqnotify listen` says why each attempt fails until the promotion, then reports the gap', async () => {
    const { primary, standby } = await pair();
    const run = startNode([
      BIN,
      'listen',
      'failover',
      '--url',
      hostList(primary.port, standby.port),
    ]);
    cleanups.push(async () => {
      run.child.kill('SIGINT');
      await run.exit;
    });
    await run.match('stderr', /listening on "failover"/);
    await primary.stop('immediate');
    await run.match(
      'stderr',
      /attempt 1 failed: [\s\S]*server is a standby for target_session_attrs=primary/,
    );
    await standby.promote();
    await run.match('stderr', /gap: reconnected as pid \d+ after \d+ ms/);
    await using sender = await connect(standby.url);
    await sender.notify('failover', 'from the new primary');
    const lines = await run.stdoutLines(1);
    expect(lines[0]).toMatch(/^"failover" from pid \d+: from the new primary$/);
  });

  it('skips the standby listed first, and listens on the primary', async () => {
    const { primary, standby } = await pair();
    const listener = await createListener(hostList(standby.port, primary.port));
    cleanups.push(() => listener.close());
    const stream = listener.stream();
    await listener.listen('skip');
    await using sender = await connect(primary.url);
    await sender.notify('skip', 'on the primary');
    for await (const item of stream) {
      expect(item).toMatchObject({ type: 'notification', payload: 'on the primary' });
      break;
    }
    const seen = await sender.exec('SELECT pid FROM pg_stat_activity');
    expect(seen.rows.map((row) => Number(row[0]))).toContain(listener.processId);
  });
});
