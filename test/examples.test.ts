import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { cleanEnv, runNode, startProcess } from './support/process.js';
import { BUN, DENO, DENO_PERMISSIONS, runtimeEnv } from './support/runtimes.js';
import { connectTest, server } from './support/server.js';
import { bundleWorker, haveWorkerd, startWorkerd } from './support/workerd.js';

function run(script: string, channel?: string): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', script, server.url], {
    env: { ...process.env, ...(channel ? { CHANNEL: channel } : {}) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return { child, output: () => output };
}

describe('examples', () => {
  it('three-connections: 2 and 3 receive once each, the late joiner nothing', async () => {
    const { child, output } = run('examples/three-connections.ts');
    const [code] = await once(child, 'exit');
    const text = output();
    expect(code, text).toBe(0);
    expect(text).toMatch(/connection 2 received "hello from connection 1"/);
    expect(text).toMatch(/connection 3 received "hello from connection 1"/);
    const senderPid = /the sender was connection 1, pid (\d+)/.exec(text)?.[1];
    expect(text).toContain(`from pid ${senderPid}`);
    expect(text).toMatch(/connection 4 \(joined after the first NOTIFY\) first received "marker"/);
    expect(text).toContain('nothing else arrived anywhere: true');
  });

  it('libpq-loop: prints four notifications with the sender pid, then stops', async () => {
    const channel = `loop_${process.pid}`;
    const { child, output } = run('examples/libpq-loop.ts', channel);
    await once(child, 'message');
    await using notifier = await connectTest();
    for (let i = 1; i <= 4; i++) await notifier.notify(channel, `n${i}`);
    const [code] = await once(child, 'exit');
    const text = output();
    expect(code, text).toBe(0);
    for (let i = 1; i <= 4; i++) {
      expect(text).toContain(
        `ASYNC NOTIFY of "${channel}" received from backend PID ${notifier.backendPid}: "n${i}"`,
      );
    }
    expect(text.trimEnd().endsWith('Done.')).toBe(true);
  });

  it.each<[string, Record<string, string>]>([
    ['the configured server (DATABASE_URL)', { DATABASE_URL: server.url }],
    ['a throwaway server when none is configured', {}],
  ])('demo: plays the whole scenario on %s and exits 0', async (_name, extra) => {
    const run = await runNode(['--import', 'tsx', 'examples/demo.ts'], { env: cleanEnv(extra) });
    const text = run.stdout + run.stderr;
    expect(run.code, text).toBe(0);
    const carol = /carol pid (\d+)/.exec(text)?.[1];
    const steps = text.split(/\n(?=\d\. )/);
    expect(steps).toHaveLength(7);
    expect(steps[1]).toContain(`alice received "order 1 created" on "orders" from pid ${carol}`);
    expect(steps[1]).toContain(`bob received "order 1 created" on "orders" from pid ${carol}`);
    expect(steps[2]).toMatch(/dave received nothing\n/);
    expect(steps[3]).toContain('received "crème brûlée for 東京 ✓" on "Orders \\"EU\\" 🇪🇺"');
    expect(steps[4]?.match(/bob received/g)).toHaveLength(2);
    expect(steps[4]).toContain('bob received "stock changed"');
    expect(steps[4]).toContain('bob received "price changed"');
    expect(steps[5]).toMatch(/bob received nothing\n/);
    expect(steps[6]?.match(/alice: "orders"/g)).toHaveLength(4);
    expect(steps[6]).toContain('(her own pid: a self-notification)');
    if (!extra.DATABASE_URL)
      expect(text.trimEnd().endsWith('stopping the throwaway server')).toBe(true);
  });
});

describe('an example per runtime (the built package, imported by its name)', () => {
  const env = (channel: string, extra: Record<string, string> = {}) =>
    runtimeEnv(cleanEnv({ CHANNEL: channel, ...extra }));

  it('node-listener: prints notifications, a gap after pg_terminate_backend, closes on SIGINT', async () => {
    const channel = `node_example_${process.pid}`;
    const run = startProcess(process.execPath, ['examples/node-listener.mjs', server.url], {
      env: env(channel),
    });
    const [, pid] = await run.match('stdout', /as pid (\d+); Ctrl-C stops/);
    await using notifier = await connectTest();
    await notifier.notify(channel, 'before');
    await run.match('stdout', /: before\n/);
    await notifier.query('SELECT pg_terminate_backend($1::int)', [pid!]);
    const [, newPid] = await run.match('stdout', /gap: reconnected as pid (\d+)/);
    expect(newPid).not.toBe(pid);
    await notifier.notify(channel, 'after');
    await run.match('stdout', new RegExp(`"${channel}" from pid ${notifier.backendPid}: after\n`));
    run.child.kill('SIGINT');
    expect(await run.exit, run.stderr()).toBe(0);
    expect(run.stdout().trimEnd().endsWith('closed')).toBe(true);
  });

  it('bun-sse: relays notifications as Server-Sent Events, stops on SIGINT', async () => {
    const channel = `bun_example_${process.pid}`;
    const run = startProcess(BUN, ['examples/bun-sse.mjs', server.url], {
      env: env(channel, { PORT: '0' }),
    });
    const [, url] = await run.match('stdout', /Server-Sent Events on (\S+);/);
    const stop = new AbortController();
    const response = await fetch(url!, { signal: stop.signal });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let events = '';
    const readUntil = async (text: string) => {
      while (!events.includes(text)) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`the event stream ended before ${text}: ${events}`);
        events += value;
      }
    };
    await readUntil(': listening\n\n');
    await using notifier = await connectTest();
    await notifier.notify(channel, 'to the browser');
    await readUntil(
      `data: ${JSON.stringify({ channel, payload: 'to the browser', processId: notifier.backendPid })}\n\n`,
    );
    stop.abort();
    run.child.kill('SIGINT');
    expect(await run.exit, run.stderr()).toBe(0);
    expect(run.stdout().trimEnd().endsWith('stopped')).toBe(true);
  });

  it('deno-notifications: runs with the documented permissions, stops on SIGINT', async () => {
    const channel = `deno_example_${process.pid}`;
    const run = startProcess(
      DENO,
      ['run', ...DENO_PERMISSIONS, 'examples/deno-notifications.mjs', server.url],
      { env: env(channel) },
    );
    await run.match('stdout', /as pid \d+; Ctrl-C stops/);
    await using notifier = await connectTest();
    await notifier.notify(channel, 'to Deno');
    await run.match(
      'stdout',
      new RegExp(`"${channel}" from pid ${notifier.backendPid}: to Deno\n`),
    );
    run.child.kill('SIGINT');
    expect(await run.exit, run.stderr()).toBe(0);
    expect(run.stdout().trimEnd().endsWith('stopped')).toBe(true);
  });
});

describe.skipIf(!haveWorkerd || !server.certs)('examples in local workerd', () => {
  it('cloudflare-worker: a long poll answers the first notification as JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pqnotify-example-'));
    const url = new URL(server.url);
    url.searchParams.set('sslmode', 'verify-full');
    url.searchParams.set('sslrootcert', 'system');
    const workerd = await startWorkerd({
      script: await bundleWorker('examples/cloudflare-worker.ts', dir),
      trusted: [await readFile(server.certs?.caCert ?? '', 'utf8')],
      bindings: { DATABASE_URL: url.toString() },
    });
    try {
      const channel = `worker_${process.pid}`;
      const answer = fetch(`${workerd.url}/?channel=${channel}`);
      await using notifier = await connectTest();
      // The Worker's session is listening once its last statement is the LISTEN, done.
      for (;;) {
        const listening = await notifier.query(
          "SELECT 1 FROM pg_stat_activity WHERE query = $1 AND state = 'idle'",
          [`LISTEN "${channel}"`],
        );
        if (listening.rows.length > 0) break;
        await delay(5);
      }
      await notifier.notify(channel, 'job 7 is done');
      const response = await answer;
      expect(response.status, workerd.output()).toBe(200);
      expect(await response.json()).toEqual({
        channel,
        payload: 'job 7 is done',
        processId: notifier.backendPid,
      });
    } finally {
      await workerd.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
