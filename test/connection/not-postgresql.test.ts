/**
 * Something that is not PostgreSQL answers on the port: an HTTP server (node:http, which
 * answers bytes it cannot parse with 400), an SMTP server (a banner first, before the client
 * says anything) and one that sends seeded random bytes. Under disable, allow, prefer and
 * require the connection fails at the first bytes with CONNECTION_NOT_POSTGRESQL naming them
 * and the address, within milliseconds and without a large allocation; the CLI exits 4.
 */
import { createServer as createHttpServer } from 'node:http';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { ConnectionError, connect } from '../../src/index.js';
import { FakeBackend } from '../support/fake-backend.js';

let server: FakeBackend | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

const SSL_MODES = ['disable', 'allow', 'prefer', 'require'] as const;

function httpServer(): Promise<FakeBackend> {
  return FakeBackend.raw(() => undefined, createHttpServer());
}

function smtpServer(): Promise<FakeBackend> {
  return FakeBackend.raw((socket) => {
    socket.write('220 mail.example ESMTP Postfix\r\n');
    socket.on('data', () => socket.write('500 5.5.2 Error: bad syntax\r\n'));
  });
}

/** Sends `bytes` as soon as the client has said something. */
function noiseServer(bytes: Uint8Array): Promise<FakeBackend> {
  return FakeBackend.raw((socket) => {
    socket.once('data', () => socket.write(bytes));
  });
}

/** Connects and returns the error with how long it took and how much memory grew. */
async function failure(url: string) {
  const arrayBuffers = process.memoryUsage().arrayBuffers;
  const started = performance.now();
  const error = await connect(url).then(
    async (conn) => {
      await conn.close();
      throw new Error('connected');
    },
    (caught: unknown) => caught,
  );
  const elapsedMs = performance.now() - started;
  expect(error).toBeInstanceOf(ConnectionError);
  return {
    error: error as ConnectionError,
    elapsedMs,
    grewBy: process.memoryUsage().arrayBuffers - arrayBuffers,
  };
}

function seeded(seed: number, length: number): Uint8Array {
  let a = seed >>> 0;
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    bytes[i] = a >>> 24;
  }
  return bytes;
}

describe.each(SSL_MODES)('sslmode=%s: not a PostgreSQL server', (sslmode) => {
  it('an HTTP server', async () => {
    server = await httpServer();
    const url = `postgres://u@127.0.0.1:${server.port}/db?sslmode=${sslmode}`;
    const { error, elapsedMs, grewBy } = await failure(url);
    expect(error.code).toBe('CONNECTION_NOT_POSTGRESQL');
    expect(error.address).toBe(`127.0.0.1:${server.port}`);
    expect(error.message).toMatch(
      new RegExp(
        `^127\\.0\\.0\\.1:${server.port}: not a PostgreSQL server: .*, received "HTTP/1\\.1 400 Bad Request\\\\r\\\\n`,
      ),
    );
    expect(elapsedMs).toBeLessThan(1000);
    expect(grewBy).toBeLessThan(8 * 1024 * 1024);
  });

  it('an SMTP server, which speaks first', async () => {
    server = await smtpServer();
    const url = `postgres://u@127.0.0.1:${server.port}/db?sslmode=${sslmode}`;
    const { error, elapsedMs } = await failure(url);
    expect(error.code).toBe('CONNECTION_NOT_POSTGRESQL');
    expect(error.message).toContain('received "220 mail.example ESMTP Postfix\\r\\n"');
    expect(elapsedMs).toBeLessThan(1000);
  });

  it('random bytes (20 seeds)', async () => {
    const tried: number[] = [];
    for (let seed = 1; tried.length < 20; seed++) {
      const bytes = seeded(seed, 48);
      // A first byte that could open a PostgreSQL answer is another test's business.
      if ('SNREv'.includes(String.fromCharCode(bytes[0] as number))) continue;
      tried.push(seed);
      server = await noiseServer(bytes);
      const { error, elapsedMs, grewBy } = await failure(
        `postgres://u@127.0.0.1:${server.port}/db?sslmode=${sslmode}&connect_timeout=5`,
      );
      expect(error.code, error.message).toBe('CONNECTION_NOT_POSTGRESQL');
      expect(error.message).toMatch(/not a PostgreSQL server: .*, received ".+\.\.\."$/);
      expect(elapsedMs).toBeLessThan(1000);
      expect(grewBy).toBeLessThan(8 * 1024 * 1024);
      await server.close();
      server = undefined;
    }
  });
});

describe('an implausible first message with a PostgreSQL type byte', () => {
  it('"R" with a length of 1 GiB fails at the header, before any allocation', async () => {
    const bytes = new Uint8Array([0x52, 0x40, 0, 0, 0, 0, 0, 0, 0]);
    server = await noiseServer(bytes);
    const { error, grewBy } = await failure(
      `postgres://u@127.0.0.1:${server.port}/db?sslmode=disable`,
    );
    expect(error.code).toBe('CONNECTION_NOT_POSTGRESQL');
    expect(error.message).toContain(
      'an Authentication request of 1073741824 bytes is not plausible',
    );
    expect(grewBy).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('pqnotify notify against an HTTP server', () => {
  it('exits 4 and says what answered', async () => {
    server = await httpServer();
    const stderr = new PassThrough();
    let text = '';
    stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    const code = await runCli(
      ['notify', 'ch', 'x', '--url', `postgres://u:pw@127.0.0.1:${server.port}/db`],
      {
        stdout: new PassThrough(),
        stderr,
        stdin: new PassThrough(),
        env: { HOME: '/nonexistent' },
        signal: new AbortController().signal,
      },
    );
    expect(code).toBe(4);
    expect(text).toMatch(
      /^pqnotify notify: 127\.0\.0\.1:\d+: not a PostgreSQL server: .*HTTP\/1\.1 400/,
    );
  });
});
