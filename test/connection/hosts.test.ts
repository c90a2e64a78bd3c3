import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectionError, connect, type ServerError } from '../../src/index.js';
import { type Cluster, freePort, startCluster } from '../support/cluster.js';
import { connectFailure, managed, server, waitUntilSleeping } from '../support/server.js';

describe('several hosts', () => {
  it('a multi-host list whose first host is down connects to the second', async () => {
    const down = await freePort();
    const url = `postgres://${server.user}:${encodeURIComponent(server.password)}@127.0.0.1:${down},${server.host}:${server.port}/${server.database}`;
    await using conn = await connect(url);
    expect(conn.address).toContain(String(server.port));
    expect((await conn.exec('SELECT 1')).rows).toEqual([['1']]);
  });

  it('when every host fails, the error lists each one', async () => {
    const [a, b] = [await freePort(), await freePort()];
    const error = await connectFailure(`postgres://u@127.0.0.1:${a},127.0.0.1:${b}/db`);
    expect(error.code).toBe('CONNECTION_REFUSED');
    expect(error.message).toContain(String(a));
    expect(error.message).toContain(String(b));
    expect(error.address).toBe(`127.0.0.1:${b}`);
    expect((error.cause as ConnectionError).address).toBe(`127.0.0.1:${b}`);
  });

  it('a host name that does not resolve is CONNECTION_DNS, with the address it names', async () => {
    const error = await connectFailure('postgres://u@no-such-host.invalid:5433/db');
    expect(error).toMatchObject({
      code: 'CONNECTION_DNS',
      address: 'no-such-host.invalid:5433',
    });
    expect(error.message).toMatch(
      /^could not translate host name "no-such-host\.invalid" to address/,
    );
  });

  it('a timeout names its address', async () => {
    const error = await connectFailure(
      'postgres://u@192.0.2.1:5432/db?connect_timeout=2&sslmode=disable',
      {},
    );
    expect(error.code).toMatch(/CONNECTION_TIMEOUT|CONNECTION_REFUSED/);
    expect(error.address).toBe('192.0.2.1:5432');
  });
});

describe('addresses', () => {
  it.each([
    ['127.0.0.1', ['4']],
    ['[::1]', ['6']],
    ['localhost', ['4', '6']],
  ])('%s reaches the server', async (host, families) => {
    const url = `postgres://${server.user}:${encodeURIComponent(server.password)}@${host}:${server.port}/${server.database}`;
    await using conn = await connect(url);
    const result = await conn.exec('SELECT family(inet_server_addr())::text');
    expect(families).toContain(result.rows[0]?.[0]);
  });
});

describe('connect_timeout', () => {
  let silent: Server;
  const held: Socket[] = [];

  beforeAll(async () => {
    silent = createServer((socket) => {
      held.push(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('gives up on a server that accepts but never answers', async () => {
    const address = silent.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const error = await connectFailure({
      host: '127.0.0.1',
      port,
      user: 'u',
      sslmode: 'disable',
      connectTimeout: 2,
    });
    expect(error.code).toBe('CONNECTION_TIMEOUT');
    expect(held.length).toBeGreaterThan(0);
  });
});

describe('protocol version', () => {
  it('max_protocol_version=latest gets 3.2 from PostgreSQL 18 and 3.0 from older servers', async () => {
    await using conn = await connect(server.url, { maxProtocolVersion: 'latest' });
    const major = Math.floor(conn.serverVersion / 10000);
    expect(conn.protocolVersion).toEqual({ major: 3, minor: major >= 18 ? 2 : 0 });
    expect(conn.backendKey?.secretKey.length).toBe(major >= 18 ? 32 : 4);
    expect((await conn.exec('SELECT 1')).rows).toEqual([['1']]);
  });

  it('protocol 3.0 is the default', async () => {
    await using conn = await connect(server.url);
    expect(conn.protocolVersion).toEqual({ major: 3, minor: 0 });
    expect(conn.backendKey?.secretKey.length).toBe(4);
  });

  it.each(['3.0', 'latest'] as const)(
    'cancel() sends the key the server gave (max_protocol_version=%s)',
    async (maxProtocolVersion) => {
      await using observer = await connect(server.url);
      await using conn = await connect(server.url, { maxProtocolVersion });
      const key = conn.backendKey;
      expect(conn.backendKey).toEqual(key);
      key?.secretKey.fill(0);
      expect(conn.backendKey).not.toEqual(key);
      const sleeping = conn.exec('SELECT pg_sleep(30)').catch((caught: unknown) => caught);
      await waitUntilSleeping(observer, conn.backendPid);
      await conn.cancel();
      expect(((await sleeping) as ServerError).sqlState).toBe('57014');
    },
  );

  it('min_protocol_version=3.2 fails clearly against an older server', async () => {
    const probe = await connect(server.url);
    const major = Math.floor(probe.serverVersion / 10000);
    await probe.close();
    const attempt = connect(server.url, { minProtocolVersion: '3.2', maxProtocolVersion: '3.2' });
    if (major >= 18) {
      await using conn = await attempt;
      expect(conn.protocolVersion.minor).toBe(2);
    } else {
      await expect(attempt).rejects.toMatchObject({ code: 'CONNECTION_UNSUPPORTED' });
    }
  });
});

describe.skipIf(!managed)('target_session_attrs', () => {
  let readOnly: Cluster;
  let standby: Cluster;

  beforeAll(async () => {
    [readOnly, standby] = await Promise.all([
      startCluster({ settings: { default_transaction_read_only: 'on' } }),
      startCluster({ standby: true, settings: { hot_standby: 'on' } }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([readOnly?.destroy(), standby?.destroy()]);
  });

  const hosts = (...clusters: { port: number }[]) =>
    clusters.map((cluster) => `localhost:${cluster.port}`).join(',');
  const primary = () => ({ port: managed!.port });
  const url = (list: string, attrs: string) =>
    `postgres://${managed!.user}:${encodeURIComponent(managed!.password)}@${list}/postgres?target_session_attrs=${attrs}`;

  it('read-write skips a read-only server', async () => {
    await using conn = await connect(url(hosts(readOnly, primary()), 'read-write'));
    expect(conn.address).toContain(String(managed!.port));
  });

  it('read-only picks the read-only server', async () => {
    await using conn = await connect(url(hosts(primary(), readOnly), 'read-only'));
    expect(conn.address).toContain(String(readOnly.port));
  });

  it('primary and read-write skip a hot standby; standby picks it', async () => {
    await using first = await connect(url(hosts(standby, primary()), 'primary'));
    expect(first.address).toContain(String(managed!.port));
    await using second = await connect(url(hosts(standby, primary()), 'read-write'));
    expect(second.address).toContain(String(managed!.port));
    await using third = await connect(url(hosts(primary(), standby), 'standby'));
    expect(third.address).toContain(String(standby.port));
    expect((await third.exec('SELECT pg_is_in_recovery()')).rows).toEqual([['t']]);
  });

  it('prefer-standby takes a standby when there is one, else any server', async () => {
    await using conn = await connect(url(hosts(primary(), standby), 'prefer-standby'));
    expect(conn.address).toContain(String(standby.port));
    await using fallback = await connect(url(hosts(primary()), 'prefer-standby'));
    expect(fallback.address).toContain(String(managed!.port));
  });

  it('no suitable server is a clear error', async () => {
    const error = await connectFailure(url(hosts(readOnly, standby), 'read-write'));
    expect(error).toMatchObject({ code: 'CONNECTION_REJECTED' });
    expect(error.message).toMatch(/target_session_attrs=read-write/);
  });
});
