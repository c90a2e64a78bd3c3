import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { type Connection, type ConnectionError, createListener } from '../../src/index.js';
import { TcpProxy } from '../support/proxy.js';
import { connectTest, server } from '../support/server.js';

/**
 * Measures, for each kind of fault, how long the Listener takes to notice it (detection) and
 * to listen again (recovery), and counts the backends it leaves behind. Not part of the
 * suite: `PQNOTIFY_MEASURE=1 npx vitest run test/notify/listener-fault-times.test.ts`
 * prints a table (3 runs of each kind, plain TCP through the fault proxy, heartbeat
 * 2000/1000, so a connect timeout of 2 s; other settings are the defaults).
 */
const measure = process.env.PQNOTIFY_MEASURE === '1';

interface Sample {
  detectMs: number;
  recoverMs: number;
  leaked: number;
}

const plainUrl = (port: number, name: string) => {
  const url = new URL(server.url);
  url.host = `127.0.0.1:${port}`;
  url.searchParams.set('sslmode', 'disable');
  url.searchParams.set('application_name', name);
  return url.toString();
};

async function backends(conn: Connection, name: string): Promise<number> {
  const result = await conn.query(
    'SELECT count(*) FROM pg_stat_activity WHERE application_name = $1',
    [name],
  );
  return Number(result.rows[0]?.[0]);
}

/** Backends left once the server has noticed every closed client (within 5 s). */
async function settled(conn: Connection, name: string, expected: number): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const count = await backends(conn, name);
    if (count === expected || Date.now() > deadline) return count;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let runs = 0;

/**
 * One fault on a listening Listener: `inject` breaks things and resolves with the moment
 * from which recovery is timed (when the fault is lifted, or when it was injected).
 */
async function faultOnce(
  observer: Connection,
  inject: (proxy: TcpProxy, pid: number) => Promise<number>,
): Promise<Sample> {
  runs += 1;
  const name = `measure_${process.pid}_${runs}`;
  const proxy = await TcpProxy.start({ host: '127.0.0.1', port: server.port });
  const listener = await createListener(plainUrl(proxy.port, name), {
    heartbeatIntervalMs: 2000,
    heartbeatTimeoutMs: 1000,
  });
  try {
    await listener.listen('measure');
    let detectedAt = 0;
    let gapAt = 0;
    listener.once('disconnected', () => {
      detectedAt = Date.now();
    });
    const gap = once(listener, 'gap').then(() => {
      gapAt = Date.now();
    });
    const start = Date.now();
    const liftedAt = await inject(proxy, listener.processId);
    await gap;
    const detectMs = detectedAt - start;
    const recoverMs = gapAt - Math.max(liftedAt, detectedAt);
    const leaked = (await settled(observer, name, 1)) - 1;
    return { detectMs, recoverMs, leaked };
  } finally {
    await listener.close();
    await proxy.close();
  }
}

const range = (values: number[]) => `${Math.min(...values)}–${Math.max(...values)}`;

describe.skipIf(!measure)('Listener fault times (PQNOTIFY_MEASURE=1)', () => {
  it('measures detection and recovery per fault kind', async () => {
    const observer = await connectTest();
    const rows: string[] = [];
    const kinds: [string, (proxy: TcpProxy, pid: number) => Promise<number>][] = [
      [
        'cut',
        async (proxy) => {
          proxy.cut();
          return Date.now();
        },
      ],
      [
        'terminate',
        async (_proxy, pid) => {
          await observer.query('SELECT pg_terminate_backend($1::int)', [String(pid)]);
          return Date.now();
        },
      ],
      [
        'refuse (1 s)',
        async (proxy) => {
          proxy.refuse(true);
          proxy.cut();
          await new Promise((resolve) => setTimeout(resolve, 1000));
          proxy.refuse(false);
          return Date.now();
        },
      ],
      [
        'corrupt length (+16 MiB)',
        async (proxy) => {
          proxy.corrupt(1, 0x01);
          await observer.notify('measure', 'flipped');
          return Date.now();
        },
      ],
      [
        'half-open',
        async (proxy) => {
          proxy.blackhole();
          return Date.now();
        },
      ],
    ];
    for (const [kind, inject] of kinds) {
      const samples: Sample[] = [];
      for (let i = 0; i < 3; i++) {
        samples.push(
          await faultOnce(observer, async (proxy, pid) => {
            const at = await inject(proxy, pid);
            if (kind === 'half-open') {
              // Let the reconnect through once the loss is found.
              return new Promise<number>((resolve) => {
                const check = setInterval(() => {
                  if (proxy.open === 0 || proxy.accepted > 1) {
                    clearInterval(check);
                    proxy.resume();
                    resolve(Date.now());
                  }
                }, 5);
              });
            }
            return at;
          }),
        );
      }
      rows.push(
        `| ${kind} | ${range(samples.map((s) => s.detectMs))} | ${range(samples.map((s) => s.recoverMs))} | ${samples.reduce((n, s) => n + s.leaked, 0)} |`,
      );
    }
    // Blackhole during reconnect: the reconnect meets a peer that accepts and never answers.
    const during: Sample[] = [];
    for (let i = 0; i < 3; i++) {
      runs += 1;
      const name = `measure_${process.pid}_${runs}`;
      const proxy = await TcpProxy.start({ host: '127.0.0.1', port: server.port });
      const listener = await createListener(plainUrl(proxy.port, name), {
        heartbeatIntervalMs: 2000,
        heartbeatTimeoutMs: 1000,
      });
      await listener.listen('measure');
      let attemptAt = 0;
      const timedOut = new Promise<number>((resolve) => {
        listener.on('reconnecting', ({ error }) => {
          if (error.code === 'CONNECTION_TIMEOUT') resolve(Date.now() - attemptAt);
          attemptAt = Date.now();
        });
      });
      const gap = once(listener, 'gap');
      proxy.blackholeNew(true);
      proxy.cut();
      const detectMs = await timedOut;
      proxy.blackholeNew(false);
      const lifted = Date.now();
      await gap;
      const recoverMs = Date.now() - lifted;
      const leaked = (await settled(observer, name, 1)) - 1;
      during.push({ detectMs, recoverMs, leaked });
      await listener.close();
      await proxy.close();
    }
    rows.push(
      `| blackhole during reconnect | ${range(during.map((s) => s.detectMs))} (attempt to timeout) | ${range(during.map((s) => s.recoverMs))} | ${during.reduce((n, s) => n + s.leaked, 0)} |`,
    );
    // Silent peer on the first connect: createListener must reject.
    const silent: Sample[] = [];
    for (let i = 0; i < 3; i++) {
      runs += 1;
      const name = `measure_${process.pid}_${runs}`;
      const proxy = await TcpProxy.start({ host: '127.0.0.1', port: server.port });
      proxy.blackholeNew(true);
      const start = Date.now();
      const error = await createListener(plainUrl(proxy.port, name), {
        heartbeatTimeoutMs: 1000,
      }).catch((caught: unknown) => caught as ConnectionError);
      expect(error).toMatchObject({ code: 'CONNECTION_TIMEOUT' });
      const detectMs = Date.now() - start;
      while (proxy.open > 0) await new Promise((resolve) => setImmediate(resolve));
      silent.push({
        detectMs,
        recoverMs: 0,
        leaked: proxy.open + (await backends(observer, name)),
      });
      await proxy.close();
    }
    rows.push(
      `| silent peer on connect | ${range(silent.map((s) => s.detectMs))} (CONNECTION_TIMEOUT) | — | ${silent.reduce((n, s) => n + s.leaked, 0)} |`,
    );
    await observer.close();
    console.log(
      [
        '| fault | detection ms | recovery ms | leaked backends |',
        '|---|---|---|---|',
        ...rows,
      ].join('\n'),
    );
  }, 300_000);
});
