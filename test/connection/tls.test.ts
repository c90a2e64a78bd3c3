import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectionError,
  type ConnectOptions,
  connect,
  type Dialer,
  dialSocket,
  type Encryption,
  type ServerError,
  type TlsSettings,
} from '../../src/index.js';
import { type Cluster, startCluster } from '../support/cluster.js';
import { connectFailure, managed, waitUntilSleeping } from '../support/server.js';

type SslMode = NonNullable<ConnectOptions['sslmode']>;
const modes: SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

async function outcome(options: ConnectOptions): Promise<boolean | string> {
  try {
    const conn = await connect({ dbname: 'postgres', passfile: '/nonexistent', ...options });
    const tls = conn.tls;
    const reported = (
      await conn.exec('SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
    ).rows;
    expect(reported).toEqual([[String(tls === true)]]);
    await conn.close();
    return tls;
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectionError);
    return (error as ConnectionError).code;
  }
}

describe.skipIf(!managed)('sslmode against a server with TLS (certificate for localhost)', () => {
  const server = managed!;
  const base = (sslmode: SslMode): ConnectOptions => ({
    host: 'localhost',
    port: server.port,
    user: server.user,
    password: server.password,
    sslmode,
    sslrootcert: server.certs?.caCert,
  });

  it.each([
    ['disable', false],
    ['allow', false],
    ['prefer', true],
    ['require', true],
    ['verify-ca', true],
    ['verify-full', true],
  ] as const)('sslmode=%s gives tls=%s', async (mode, tls) => {
    expect(await outcome(base(mode))).toBe(tls);
  });

  it('verify-full checks the name against an IP address too (the certificate lists 127.0.0.1)', async () => {
    expect(await outcome({ ...base('verify-full'), host: '127.0.0.1' })).toBe(true);
  });

  it('verify-full fails a host given only by hostaddr at TLS start and moves on, as libpq', async () => {
    const hosts = { host: ',localhost', hostaddr: '127.0.0.1,127.0.0.1' };
    expect(await outcome({ ...base('verify-full'), ...hosts })).toBe(true);
    const error = await connectFailure({ ...base('verify-full'), host: '', hostaddr: '127.0.0.1' });
    expect(error).toMatchObject({ code: 'CONNECTION_TLS', address: `127.0.0.1:${server.port}` });
    expect(error.message).toMatch(/host name must be specified for a verified SSL connection/);
  });

  it('ssl_max_protocol_version and ssl_min_protocol_version bound the TLS version', async () => {
    const version = async (conninfo: string) => {
      await using conn = await connect(conninfo, base('require'));
      const sql = 'SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()';
      return (await conn.exec(sql)).rows[0]?.[0];
    };
    expect(await version('dbname=postgres')).toBe('TLSv1.3');
    expect(await version('dbname=postgres ssl_max_protocol_version=TLSv1.2')).toBe('TLSv1.2');
    expect(await version('dbname=postgres ssl_min_protocol_version=TLSv1.3')).toBe('TLSv1.3');
    // The server takes TLS 1.2 at the least: offering at most 1.1 fails the handshake (a
    // maximum under the default minimum, TLSv1.2, is a settings error, as in libpq).
    const failure = await connectFailure(
      'dbname=postgres ssl_min_protocol_version=TLSv1 ssl_max_protocol_version=TLSv1.1',
      base('require'),
    );
    expect(failure.code).toBe('CONNECTION_TLS');
  });

  it('cancel() goes over TLS with the settings the connection was made with', async () => {
    const dials: { encryption: Encryption | undefined; settings: TlsSettings[] }[] = [];
    const dialer: Dialer = async (target, options) => {
      const transport = await dialSocket(target, options);
      const dial = { encryption: options.encryption, settings: [] as TlsSettings[] };
      dials.push(dial);
      const upgrade = transport.upgrade.bind(transport);
      transport.upgrade = (settings) => {
        dial.settings.push(settings);
        return upgrade(settings);
      };
      return transport;
    };
    await using observer = await connect({ ...base('verify-full'), dbname: 'postgres' });
    await using conn = await connect({ ...base('verify-full'), dbname: 'postgres' }, { dialer });
    const sleeping = conn.exec('SELECT pg_sleep(30)').catch((caught: unknown) => caught);
    await waitUntilSleeping(observer, conn.backendPid);
    await conn.cancel();
    expect(((await sleeping) as ServerError).sqlState).toBe('57014');
    expect(dials.map((dial) => dial.encryption)).toEqual(['starttls', 'starttls']);
    const [first, second] = dials.map((dial) => dial.settings);
    expect(first).toHaveLength(1);
    expect(second).toEqual(first);
    expect(second?.[0]).toBe(first?.[0]);
  });

  it('verify-ca without a root certificate fails clearly', async () => {
    const error = await connectFailure({
      ...base('verify-ca'),
      sslrootcert: '/nonexistent/root.crt',
    });
    expect(error).toMatchObject({ code: 'CONNECTION_TLS' });
    expect((error as Error).message).toContain('/nonexistent/root.crt');
  });

  it('verify-ca against a different CA fails', async () => {
    const error = await connectFailure({
      ...base('verify-ca'),
      sslrootcert: server.certs?.clientCert,
    });
    expect(error).toMatchObject({ code: 'CONNECTION_TLS' });
  });

  it('a Unix socket is never encrypted, whatever the sslmode', async () => {
    const socketDir = server.cluster!.socketDir;
    for (const mode of ['prefer', 'require'] as const) {
      await using conn = await connect({
        host: socketDir,
        port: server.port,
        user: server.user,
        sslmode: mode,
      });
      expect(conn.tls).toBe(false);
      expect((await conn.exec('SELECT 1')).rows).toEqual([['1']]);
    }
  });

  it.skipIf(server.cluster!.major < 17)(
    'sslnegotiation=direct speaks TLS at once (ALPN postgresql)',
    async () => {
      expect(await outcome({ ...base('verify-full'), sslnegotiation: 'direct' })).toBe(true);
      expect(await outcome({ ...base('require'), sslnegotiation: 'direct' })).toBe(true);
    },
  );

  it.skipIf(server.cluster!.major < 17)(
    'sslnegotiation=direct: cancel() reaches the server over its own direct TLS connection',
    async () => {
      await using conn = await connect({
        ...base('require'),
        dbname: 'postgres',
        sslnegotiation: 'direct',
      });
      await using observer = await connect({ ...base('require'), dbname: 'postgres' });
      const outcome = conn.exec('SELECT pg_sleep(30)').then(
        () => 'finished',
        (error: { sqlState?: string }) => error.sqlState,
      );
      await waitUntilSleeping(observer, conn.backendPid);
      await conn.cancel();
      expect(await outcome).toBe('57014');
    },
  );

  it('sslnegotiation=direct with a weaker sslmode is a configuration error', async () => {
    await expect(connect({ ...base('prefer'), sslnegotiation: 'direct' })).rejects.toMatchObject({
      code: 'CONNECTION_CONFIG',
    });
  });
});

describe.skipIf(!managed)('sslmode against other servers', () => {
  let cluster: Cluster;
  const server = managed!;

  beforeAll(async () => {
    cluster = await startCluster({ settings: { ssl: 'off' } });
  });

  afterAll(async () => {
    await cluster?.destroy();
  });

  const base = (sslmode: SslMode): ConnectOptions => ({
    host: 'localhost',
    port: cluster.port,
    user: 'postgres',
    sslmode,
    sslrootcert: server.certs?.caCert,
  });

  it('without TLS: disable, allow and prefer connect in clear, the others fail', async () => {
    const results: Record<string, boolean | string> = {};
    for (const mode of modes) results[mode] = await outcome(base(mode));
    expect(results).toEqual({
      disable: false,
      allow: false,
      prefer: false,
      require: 'CONNECTION_TLS',
      'verify-ca': 'CONNECTION_TLS',
      'verify-full': 'CONNECTION_TLS',
    });
  });

  it('with a certificate for another name: verify-ca passes, verify-full fails', async () => {
    const certs = server.certs!;
    await cluster.installFile('other.crt', await readFile(certs.otherCert), 0o644);
    await cluster.installFile('other.key', await readFile(certs.otherKey), 0o600);
    await cluster.appendConf({ ssl: 'on', ssl_cert_file: 'other.crt', ssl_key_file: 'other.key' });
    await cluster.reload();
    await expect.poll(() => outcome(base('require')), { timeout: 10_000 }).toBe(true);
    expect(await outcome(base('verify-ca'))).toBe(true);
    const error = await connectFailure(base('verify-full'));
    expect(error).toMatchObject({ code: 'CONNECTION_TLS' });
    expect((error as Error).message).toMatch(/localhost/);
  });
});
