import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { server } from '../support/server.js';
import { bundleWorker, haveWorkerd, startWorkerd, type Workerd } from '../support/workerd.js';

/**
 * The package in local workerd (Cloudflare Workers' runtime, from npm), as a Worker bundles it
 * (the `workerd` export condition, built dist/: `npm run build` before a lone run), against the
 * test run's PostgreSQL. Each check runs inside the Worker (test/runtime/workerd-worker.ts);
 * this file compares what it answers. Two workerd instances: one whose platform trusts the
 * test CA besides the public roots (as an operator of workerd can configure), one that trusts
 * the public roots only, as Cloudflare does.
 */

/** What a Worker endpoint answered. */
interface Answer {
  result?: Record<string, unknown>;
  error?: { name: string; code?: string; message: string };
}

let trusting: Workerd;
let publicRootsOnly: Workerd;
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
const verified = urlWith({ sslmode: 'verify-full', sslrootcert: 'system' });

describe.skipIf(!haveWorkerd || !server.certs)('pqnotify in local workerd', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pqnotify-worker-'));
    const script = await bundleWorker('test/runtime/workerd-worker.ts', dir);
    const ca = await readFile(server.certs?.caCert ?? '', 'utf8');
    [trusting, publicRootsOnly] = await Promise.all([
      startWorkerd({ script, trusted: [ca] }),
      startWorkerd({ script }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([trusting?.stop(), publicRootsOnly?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('connects over plaintext (sslmode=disable)', async () => {
    const answer = await run(trusting, 'connect', plain);
    expect(answer.error).toBeUndefined();
    expect(answer.result).toMatchObject({ tls: false });
  });

  it.each(['pqn_password', 'pqn_md5', 'pqn_scram'] as const)(
    'authenticates %s (password, MD5, SCRAM-SHA-256) over TLS',
    async (role) => {
      const url = new URL(verified);
      url.username = role;
      url.password = server.roles?.[role] ?? '';
      const answer = await run(trusting, 'connect', url.toString());
      expect(answer.error).toBeUndefined();
      expect(answer.result).toMatchObject({ tls: true });
    },
  );

  it('connects over TLS with sslmode=verify-full sslrootcert=system when the platform trusts the CA', async () => {
    const answer = await run(trusting, 'connect', verified);
    expect(answer.error).toBeUndefined();
    expect(answer.result).toMatchObject({ tls: true });
  });

  it('resolves host names through the platform (localhost)', async () => {
    const url = new URL(verified);
    url.hostname = 'localhost';
    const answer = await run(trusting, 'connect', url.toString());
    expect(answer.error).toBeUndefined();
    expect(answer.result).toMatchObject({ tls: true });
  });

  it.each([
    ['plaintext', plain],
    ['TLS', verified],
  ])('LISTEN/NOTIFY through the libpq loop over %s', async (_name, url) => {
    const answer = await run(trusting, 'loop', url, `wd_loop_${process.pid}`);
    expect(answer.error).toBeUndefined();
    const { received, senderPid } = answer.result as {
      received: { payload: string; processId: number }[];
      senderPid: number;
    };
    expect(received).toEqual(
      ['one', 'two', 'three'].map((payload) => ({ payload, processId: senderPid })),
    );
  });

  it.each([
    ['plaintext', plain],
    ['TLS', verified],
  ])(
    'a 20 MB burst over %s: reading stops until taken, then all arrive in order',
    async (_name, url) => {
      const answer = await run(trusting, 'burst', url, `wd_burst_${process.pid}`);
      expect(answer.error).toBeUndefined();
      expect(answer.result).toEqual({ blocked: true, received: 20_000, inOrder: true });
    },
  );

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

  it('sslmode=prefer (the default) encrypts, verified as verify-full', async () => {
    const answer = await run(trusting, 'connect', urlWith({}));
    expect(answer.error).toBeUndefined();
    expect(answer.result).toMatchObject({ tls: true });
  });

  it('sslmode=allow starts unencrypted, as libpq', async () => {
    const answer = await run(trusting, 'connect', urlWith({ sslmode: 'allow' }));
    expect(answer.error).toBeUndefined();
    expect(answer.result).toMatchObject({ tls: false });
  });

  it('reaches the TLS handshake and fails with CONNECTION_TLS when the platform does not trust the CA', async () => {
    const answer = await run(publicRootsOnly, 'connect', verified);
    expect(answer.error).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION_TLS' });
    expect(answer.error?.message).toMatch(
      /TLS handshake with 127\.0\.0\.1:\d+ failed \(Cloudflare Workers verifies the server's certificate and host name against the platform's trusted roots\)/,
    );
  });

  it('sslmode=prefer does not fall back to plaintext when the handshake fails', async () => {
    const answer = await run(publicRootsOnly, 'connect', urlWith({}));
    expect(answer.error).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION_CONFIG' });
    expect(answer.error?.message).toMatch(
      /sslmode=prefer does not go on unencrypted on Cloudflare Workers: use sslmode=disable/,
    );
  });

  it.each<[string, Record<string, string>, RegExp]>([
    [
      'sslmode=require',
      { sslmode: 'require' },
      /sslmode=require \(encryption without certificate checks\) cannot be honoured/,
    ],
    [
      'sslnegotiation=direct',
      { sslmode: 'require', sslnegotiation: 'direct' },
      /sslnegotiation=direct is not available/,
    ],
    ['a Unix-domain socket', { host: '/tmp' }, /cannot open Unix-domain sockets/],
    [
      'sslsni=0',
      { sslmode: 'verify-full', sslrootcert: 'system', sslsni: '0', host: 'localhost' },
      /sslsni=0 cannot be honoured/,
    ],
    [
      'verify-full at a hostaddr',
      { sslmode: 'verify-full', sslrootcert: 'system', host: 'localhost', hostaddr: '127.0.0.1' },
      /cannot check host name "localhost" .* hostaddr 127\.0\.0\.1/,
    ],
  ])('refuses %s with CONNECTION_CONFIG before any TLS', async (_name, parameters, message) => {
    const answer = await run(trusting, 'connect', urlWith(parameters));
    expect(answer.error).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION_CONFIG' });
    expect(answer.error?.message).toMatch(message);
  });

  it('has no files for sslrootcert or sslcert: CONNECTION_TLS naming the file', async () => {
    for (const [parameters, message] of [
      [
        { sslmode: 'verify-full', sslrootcert: '/etc/ssl/root.crt' },
        /root certificate file "\/etc\/ssl\/root\.crt" does not exist/,
      ],
      [
        { sslmode: 'verify-full', sslrootcert: 'system', sslcert: '/etc/ssl/client.crt' },
        /could not read client certificate "\/etc\/ssl\/client\.crt"/,
      ],
    ] as const) {
      const answer = await run(trusting, 'connect', urlWith(parameters));
      expect(answer.error).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION_TLS' });
      expect(answer.error?.message).toMatch(message);
    }
  });

  it('channel_binding=require fails: the platform shows no server certificate', async () => {
    const url = new URL(verified);
    url.searchParams.set('channel_binding', 'require');
    const answer = await run(trusting, 'connect', url.toString());
    expect(answer.error).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION_AUTH' });
  });

  it('connect_timeout bounds a TLS handshake that never ends: CONNECTION_TIMEOUT', async () => {
    // A peer that answers SSLRequest with 'S' and then says nothing (no real server does).
    const peer = createServer((socket) => socket.once('data', () => socket.write('S')));
    peer.listen(0, '127.0.0.1');
    await once(peer, 'listening');
    try {
      const { port } = peer.address() as { port: number };
      const url = `postgres://u:p@127.0.0.1:${port}/db?sslmode=verify-full&sslrootcert=system&connect_timeout=2`;
      const answer = await run(trusting, 'connect', url);
      expect(answer.error).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION_TIMEOUT' });
    } finally {
      peer.close();
    }
  });

  it('a port nobody listens on: CONNECTION_REFUSED', async () => {
    const peer = createServer();
    peer.listen(0, '127.0.0.1');
    await once(peer, 'listening');
    const { port } = peer.address() as { port: number };
    peer.close();
    await once(peer, 'close');
    const answer = await run(
      trusting,
      'connect',
      `postgres://u:p@127.0.0.1:${port}/db?sslmode=disable`,
    );
    expect(answer.error).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION_REFUSED' });
    expect(answer.error?.message).toMatch(`could not connect to 127.0.0.1:${port}`);
  });
});
