import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { server } from '../support/server.js';
import { bundleWorker, haveWorkerd, startWorkerd, type Workerd } from '../support/workerd.js';

/**
 * The package in local workerd (Cloudflare Workers' runtime, from npm), as a Worker bundles it
 * (the `workerd` export condition, built dist/: `npm run build` before a lone run), against the
 * test run's PostgreSQL. Each check runs inside the Worker (test/runtime/workerd-worker.ts);
 * this file compares what it answers. The platform trusts the test CA besides the public roots
 * (as an operator of workerd can configure; Cloudflare itself trusts public roots only).
 */

/** What a Worker endpoint answered. */
interface Answer {
  result?: Record<string, unknown>;
  error?: { name: string; code?: string; message: string };
}

let trusting: Workerd;
let dir: string;

async function run(workerd: Workerd, check: string, url: string, channel = ''): Promise<Answer> {
  const response = await fetch(`${workerd.url}/${check}`, {
    method: 'POST',
    body: JSON.stringify({ url, channel }),
  });
  return (await response.json()) as Answer;
}

/** The test server's URL at 127.0.0.1 with `parameters` added. */
function urlWith(parameters: Record<string, string>): string {
  const url = new URL(server.url);
  url.hostname = '127.0.0.1';
  for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
  return url.toString();
}

const plain = urlWith({ sslmode: 'disable' });

describe.skipIf(!haveWorkerd || !server.certs)('pqnotify in local workerd', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pqnotify-worker-'));
    const script = await bundleWorker('test/runtime/workerd-worker.ts', dir);
    const ca = await readFile(server.certs?.caCert ?? '', 'utf8');
    trusting = await startWorkerd({ script, trusted: [ca] });
  });

  afterAll(async () => {
    await trusting?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('connects over plaintext (sslmode=disable)', async () => {
    const answer = await run(trusting, 'connect', plain);
    expect(answer.error).toBeUndefined();
    expect(answer.result).toMatchObject({ tls: false });
  });

  it('LISTEN/NOTIFY through the libpq loop', async () => {
    const answer = await run(trusting, 'loop', plain, `wd_loop_${process.pid}`);
    expect(answer.error).toBeUndefined();
    const { received, senderPid } = answer.result as {
      received: { payload: string; processId: number }[];
      senderPid: number;
    };
    expect(received).toEqual(
      ['one', 'two', 'three'].map((payload) => ({ payload, processId: senderPid })),
    );
  });

  it('LISTEN/NOTIFY through the async iterator', async () => {
    const answer = await run(trusting, 'iterator', plain, `wd_iter_${process.pid}`);
    expect(answer.error).toBeUndefined();
    expect(answer.result).toEqual({ received: ['a', 'b'] });
  });

  it("the Listener reconnects after pg_terminate_backend, gap marker first, then what's sent after", async () => {
    const answer = await run(trusting, 'listener', plain, `wd_listener_${process.pid}`);
    expect(answer.error).toBeUndefined();
    const result = answer.result as {
      first: string;
      gap: { previousProcessId: number; processId: number };
      after: string;
      before: number;
    };
    expect(result.first).toBe('before');
    expect(result.gap.previousProcessId).toBe(result.before);
    expect(result.gap.processId).not.toBe(result.before);
    expect(result.after).toBe('after');
  });
});
