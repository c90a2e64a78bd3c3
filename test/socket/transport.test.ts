import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type DialOptions,
  readAheadBytes,
  type TlsSettings,
  type Transport,
  transportFromDuplex,
} from '../../src/index.js';
import { dialSocket } from '../../src/socket/socket.js';
import { connectTest, managed, receive, transports, waitUntilSleeping } from '../support/server.js';

/** Bytes `from`..250 over and over, so any loss, repeat, reordering or cross-talk shows. */
function pattern(size: number, from = 0): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (from + i) % 251;
  return bytes;
}

const servers: Server[] = [];

/** Listens on a free local port (closed after the test) and resolves with it. */
async function listening(server: Server): Promise<number> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** A local TCP server that writes `bytes` to each client, then ends. */
function serve(bytes: Uint8Array): Promise<number> {
  return listening(
    createServer((client: Socket) => {
      client.on('error', () => undefined);
      client.end(bytes);
    }),
  );
}

/**
 * A local TLS server (the test run's certificate for localhost, ALPN postgresql, as for direct
 * TLS) that writes `bytes` to each client, then ends.
 */
async function serveTls(bytes: Uint8Array): Promise<number> {
  const certs = managed!.certs!;
  return listening(
    createTlsServer(
      {
        key: await readFile(certs.serverKey),
        cert: await readFile(certs.serverCert),
        ALPNProtocols: ['postgresql'],
      },
      (client) => {
        client.on('error', () => undefined);
        client.end(bytes);
      },
    ),
  );
}

function dial(
  port: number,
  encryption: DialOptions['encryption'],
  tls?: TlsSettings,
): Promise<Transport> {
  return dialSocket(
    { kind: 'tcp', host: '127.0.0.1', port, label: `127.0.0.1:${port}` },
    { timeoutMs: 5000, keepAlive: false, keepAliveInitialDelayMs: 0, encryption, tls },
  );
}

/** TLS settings as sslmode=require gives them, or checking the name `host` against the test CA. */
async function tlsSettings(host?: string): Promise<TlsSettings> {
  return {
    mode: host === undefined ? 'require' : 'verify-full',
    verify: host === undefined ? 'none' : 'full',
    host: host ?? 'localhost',
    servername: host,
    roots: host === undefined ? undefined : await readFile(managed!.certs!.caCert),
    client: undefined,
    crl: undefined,
    alpn: ['postgresql'],
    minVersion: 'TLSv1.2',
    maxVersion: undefined,
  };
}

/**
 * Starts `transport` with a sink that copies every byte into one array, checks that no more
 * than readAheadBytes were ever handed over untaken before a read, takes only on a later turn
 * of the event loop (reads in between must not happen), and resolves at the close listener.
 */
function drain(transport: Transport, size: number) {
  const received = new Uint8Array(size);
  let at = 0;
  let mostUnreadBefore = 0;
  const buffers = new Set<ArrayBufferLike>();
  const closed = new Promise<Error | undefined>((resolve) =>
    transport.start((bytes) => {
      mostUnreadBefore = Math.max(mostUnreadBefore, transport.unread - bytes.length);
      buffers.add(bytes.buffer);
      received.set(bytes, at);
      at += bytes.length;
      if (transport.unread > readAheadBytes) setImmediate(() => transport.take());
    }, resolve),
  );
  return closed.then((error) => ({
    error,
    received: received.subarray(0, at),
    mostUnreadBefore,
    buffers,
  }));
}

/** An in-memory Duplex whose other end the test drives: `push` delivers, `written` collects. */
function memoryStream(write: (chunk: Buffer, callback: () => void) => void = (_, cb) => cb()) {
  return new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      write(chunk, callback);
    },
  });
}

afterEach(() => {
  for (const server of servers.splice(0)) server.close();
  vi.useRealTimers();
});

describe('the Node transport without TLS', () => {
  it('hands every byte over in order, and stops past readAheadBytes until take()', async () => {
    const sent = pattern(3 * 1024 * 1024 + 17);
    const { error, received, mostUnreadBefore } = await drain(
      await dial(await serve(sent), 'none'),
      sent.length,
    );
    expect(error).toBeUndefined();
    expect(Buffer.compare(received, sent)).toBe(0);
    expect(mostUnreadBefore).toBeLessThanOrEqual(readAheadBytes);
  });

  it('reads every plaintext connection of the process into one buffer, each getting its own bytes', async () => {
    const size = 2 * 1024 * 1024 + 5;
    const first = pattern(size);
    const second = pattern(size, 100);
    const [a, b] = await Promise.all([
      dial(await serve(first), 'none'),
      dial(await serve(second), 'none'),
    ]);
    const [fromA, fromB] = await Promise.all([drain(a, size), drain(b, size)]);
    expect(Buffer.compare(fromA.received, first)).toBe(0);
    expect(Buffer.compare(fromB.received, second)).toBe(0);
    expect(fromA.buffers.size).toBe(1);
    expect([...fromB.buffers]).toEqual([...fromA.buffers]);
  });
});

describe.skipIf(!managed?.certs)('the Node transport with TLS', () => {
  it('direct: starts TLS as it dials; upgrade() waits for that handshake and resolves with the same transport', async () => {
    const settings = await tlsSettings();
    const transport = await dial(await serveTls(pattern(10)), 'direct', settings);
    expect(await transport.upgrade(settings)).toBe(transport);
    expect(transport.peerCertificate()?.length).toBeGreaterThan(0);
    const { error, received } = await drain(transport, 10);
    expect(error).toBeUndefined();
    expect([...received]).toEqual([...pattern(10)]);
  });

  it('direct: reads the decrypted bytes into the buffer plaintext reads use, in order, stopping soon after readAheadBytes until take()', async () => {
    const size = 3 * 1024 * 1024 + 17;
    const sent = pattern(size, 7);
    const plain = pattern(size);
    const settings = await tlsSettings();
    const [tls, clear] = await Promise.all([
      dial(await serveTls(sent), 'direct', settings),
      dial(await serve(plain), 'none'),
    ]);
    await tls.upgrade(settings);
    const [fromTls, fromClear] = await Promise.all([drain(tls, size), drain(clear, size)]);
    expect(fromTls.error).toBeUndefined();
    expect(Buffer.compare(fromTls.received, sent)).toBe(0);
    expect(Buffer.compare(fromClear.received, plain)).toBe(0);
    // Stopping the TLS socket stops its socket reads, but every record of the last one is
    // still decrypted and handed over: up to a socket read (64 KiB) and a record (16 KiB) more.
    expect(fromTls.mostUnreadBefore).toBeLessThanOrEqual(2 * readAheadBytes + 16 * 1024);
    expect([...fromTls.buffers]).toEqual([...fromClear.buffers]);
    expect(fromTls.buffers.size).toBe(1);
  });

  it('direct: upgrade() rejects when the transport is destroyed during the handshake (a server that never answers)', async () => {
    const port = await listening(createServer((client) => client.on('error', () => undefined)));
    const settings = await tlsSettings();
    const transport = await dial(port, 'direct', settings);
    const upgrading = transport.upgrade(settings);
    transport.destroy();
    await expect(upgrading).rejects.toThrow(/closed before TLS was set up/);
  });

  it("after SSLRequest too: upgrade() rejects when the transport is destroyed during the handshake (a server that answers 'S', then nothing)", async () => {
    const port = await listening(
      createServer((client) => {
        client.on('error', () => undefined);
        client.once('data', () => client.write('S'));
      }),
    );
    const transport = await dial(port, 'starttls');
    transport.write(Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f));
    expect([...(await transport.read(1))]).toEqual([0x53]);
    const upgrading = transport.upgrade(await tlsSettings());
    transport.destroy();
    await expect(upgrading).rejects.toThrow(/closed before TLS was set up/);
  });

  it('upgrade() rejects with the handshake error: a name the certificate does not list', async () => {
    const settings = await tlsSettings('wrong.example');
    const transport = await dial(await serveTls(pattern(10)), 'direct', settings);
    await expect(transport.upgrade(settings)).rejects.toThrow(/wrong\.example/);
  });
});

describe('transportFromDuplex', () => {
  it('read() before start takes exactly what it asks for; the rest stays unread and goes to the sink first', async () => {
    const stream = memoryStream();
    const transport = transportFromDuplex(stream);
    stream.push(Uint8Array.of(0x53, 1, 2, 3));
    expect([...(await transport.read(1))]).toEqual([0x53]);
    expect(transport.unread).toBe(3);
    stream.push(Uint8Array.of(4));
    const seen: number[] = [];
    const closed = new Promise((resolve) =>
      transport.start((bytes) => seen.push(...bytes), resolve),
    );
    stream.push(null);
    expect(await closed).toBeUndefined();
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('read() resolves short at the end of the stream, and rejects with its error', async () => {
    const ended = memoryStream();
    const short = transportFromDuplex(ended);
    ended.push(Uint8Array.of(0x45, 0));
    ended.push(null);
    expect([...(await short.read(5))]).toEqual([0x45, 0]);
    const failing = memoryStream();
    const failed = transportFromDuplex(failing);
    const reading = failed.read(1);
    failing.destroy(new Error('reset by peer'));
    await expect(reading).rejects.toThrow('reset by peer');
  });

  it('stops handing over past readAheadBytes until take(), and loses nothing', async () => {
    const sent = pattern(40 * 16 * 1024 + 3);
    const stream = memoryStream();
    const transport = transportFromDuplex(stream);
    const draining = drain(transport, sent.length);
    for (let at = 0; at < sent.length; at += 16 * 1024) stream.push(sent.slice(at, at + 16 * 1024));
    stream.push(null);
    const { error, received, mostUnreadBefore } = await draining;
    expect(error).toBeUndefined();
    expect(Buffer.compare(received, sent)).toBe(0);
    expect(mostUnreadBefore).toBeLessThanOrEqual(readAheadBytes);
  });

  it('tells the close listener once, with the error, and never after destroy()', async () => {
    const stream = memoryStream();
    const transport = transportFromDuplex(stream);
    const calls: (Error | undefined)[] = [];
    const told = new Promise((resolve) =>
      transport.start(
        () => undefined,
        (error) => {
          calls.push(error);
          resolve(error);
        },
      ),
    );
    stream.destroy(new Error('broken'));
    await told;
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls.map((error) => error?.message)).toEqual(['broken']);
    const quiet = memoryStream();
    const released = transportFromDuplex(quiet);
    const quietCalls: unknown[] = [];
    released.start(
      () => undefined,
      (error) => quietCalls.push(error),
    );
    released.destroy();
    await once(quiet, 'close');
    expect(quietCalls).toEqual([]);
  });

  it('end() sends the last bytes and resolves once closed; a peer that takes nothing is cut at the deadline', async () => {
    const written: number[] = [];
    const taking = memoryStream((chunk, callback) => {
      written.push(...chunk);
      callback();
    });
    const transport = transportFromDuplex(taking);
    transport.start(
      () => undefined,
      () => undefined,
    );
    await transport.end(Uint8Array.of(0x58, 0, 0, 0, 4), 2000);
    expect(written).toEqual([0x58, 0, 0, 0, 4]);
    expect(taking.destroyed).toBe(true);

    vi.useFakeTimers();
    const stalled = memoryStream(() => undefined);
    const stuck = transportFromDuplex(stalled);
    stuck.start(
      () => undefined,
      () => undefined,
    );
    let done = false;
    const ending = stuck.end(Uint8Array.of(0x58, 0, 0, 0, 4), 2000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(1999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await ending;
    expect(stalled.destroyed).toBe(true);
  });
});

/**
 * A Duplex in JavaScript over a TCP socket, as a user's proxy or tunnel would be: node:tls
 * cannot take its handle over, so TLS runs over the stream itself.
 */
function relay(socket: Socket): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, () => callback());
    },
    final(callback) {
      socket.end(() => callback());
    },
    destroy(error, callback) {
      socket.destroy();
      callback(error);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (error) => duplex.destroy(error));
  return duplex;
}

describe.each(transports)('$name', ({ options }) => {
  it('a custom dialer of a Duplex stream works for LISTEN/NOTIFY and cancel', async () => {
    const conn = await connectTest({
      ...options,
      dialer: async (target) => {
        if (target.kind !== 'tcp') throw new Error('tcp only');
        const socket = netConnect(target.port, target.host);
        await once(socket, 'connect');
        return transportFromDuplex(relay(socket));
      },
    });
    const notifier = await connectTest(options);
    try {
      expect(conn.tls).toBe(notifier.tls);
      await conn.listen('relayed');
      await notifier.notify('relayed', 'through the relay');
      const [received] = await receive(conn, 1);
      expect(received).toMatchObject({ channel: 'relayed', payload: 'through the relay' });
      const sleeping = conn.exec('SELECT pg_sleep(30)');
      const outcome = sleeping.then(
        () => 'finished',
        (error: { sqlState?: string }) => error.sqlState,
      );
      await waitUntilSleeping(notifier, conn.backendPid);
      await conn.cancel();
      expect(await outcome).toBe('57014');
    } finally {
      await Promise.all([conn.close(), notifier.close()]);
    }
  });

  it('two connections with interleaved bursts each decode exactly their own notifications', async () => {
    const [a, b, notifier] = await Promise.all([
      connectTest(options),
      connectTest(options),
      connectTest(options),
    ]);
    try {
      await Promise.all([a.listen('burst_a'), b.listen('burst_b')]);
      const count = 2000;
      await notifier.exec(
        `SELECT pg_notify(CASE WHEN i % 2 = 0 THEN 'burst_a' ELSE 'burst_b' END,
                          (CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END) || i || repeat('.', i % 700))
           FROM generate_series(0, ${2 * count - 1}) AS i`,
      );
      const [fromA, fromB] = await Promise.all([receive(a, count), receive(b, count)]);
      const expected = (side: 'a' | 'b', first: number) =>
        Array.from({ length: count }, (_, k) => {
          const i = first + 2 * k;
          return `${side}${i}${'.'.repeat(i % 700)}`;
        });
      expect(fromA.map((n) => n.payload)).toEqual(expected('a', 0));
      expect(fromB.map((n) => n.payload)).toEqual(expected('b', 1));
    } finally {
      await Promise.all([a.close(), b.close(), notifier.close()]);
    }
  });
});
