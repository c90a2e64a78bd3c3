import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ConnectOptions } from '../../src/connection/config.js';
import {
  CONNINFO_KEYWORDS,
  defaultSocketDir,
  parseConninfo,
  redactConninfo,
  resolveConfig,
} from '../../src/connection/conninfo.js';
import { ConnectionError } from '../../src/connection/errors.js';

/** The CONNECTION_CONFIG error `fn` throws; fails the test if it throws anything else. */
function configError(fn: () => unknown): ConnectionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).code).toBe('CONNECTION_CONFIG');
    return error as ConnectionError;
  }
  throw new Error('expected a CONNECTION_CONFIG error, got none');
}

describe('parseConninfo: keyword=value', () => {
  it.each<[string, Record<string, string>]>([
    ['', {}],
    ['   \t\n ', {}],
    ['host=localhost', { host: 'localhost' }],
    [
      'host=/tmp port=5433 dbname=mydb user=me',
      { host: '/tmp', port: '5433', dbname: 'mydb', user: 'me' },
    ],
    ['host = localhost   port\t=\t5432', { host: 'localhost', port: '5432' }],
    ['host\n=\nx', { host: 'x' }],
    ["dbname='my db'", { dbname: 'my db' }],
    ["password='it\\'s'", { password: "it's" }],
    ["password='back\\\\slash'", { password: 'back\\slash' }],
    ['host=a\\ b', { host: 'a b' }],
    ["user=\\'x", { user: "'x" }],
    ['user=a\\', { user: 'a' }],
    ["dbname=''", { dbname: '' }],
    ['host=', { host: '' }],
    // libpq skips the blanks after "=" before reading the value: this is host="port=5".
    ['host= port=5', { host: 'port=5' }],
    ["dbname='x'user=y", { dbname: 'x', user: 'y' }],
    ["host=\t'a b'\n", { host: 'a b' }],
    [
      "options='-c search_path=public -c work_mem=4MB'",
      {
        options: '-c search_path=public -c work_mem=4MB',
      },
    ],
    ["application_name=it's", { application_name: "it's" }],
    ['dbname=a dbname=b', { dbname: 'b' }],
    ['requiressl=1', { sslmode: 'require' }],
    ['requiressl=0', { sslmode: 'prefer' }],
    ['requiressl=yes', { sslmode: 'prefer' }],
    ['sslmode=verify-full sslrootcert=system', { sslmode: 'verify-full', sslrootcert: 'system' }],
    ['dbname=caf\u00e9', { dbname: 'caf\u00e9' }],
    ['user="a', { user: '"a' }],
  ])('%j', (input, expected) => {
    expect(parseConninfo(input)).toEqual(expected);
  });

  it('accepts every libpq 18 keyword', () => {
    const input = CONNINFO_KEYWORDS.map((keyword) => `${keyword}=x`).join(' ');
    expect(Object.keys(parseConninfo(input)).sort()).toEqual([...CONNINFO_KEYWORDS].sort());
  });
});

describe('parseConninfo: URIs', () => {
  it.each<[string, Record<string, string>]>([
    ['postgresql://', {}],
    ['postgres://', {}],
    ['postgresql://localhost', { host: 'localhost' }],
    ['postgresql://localhost:5433', { host: 'localhost', port: '5433' }],
    ['postgresql://localhost/mydb', { host: 'localhost', dbname: 'mydb' }],
    ['postgresql://user@localhost', { user: 'user', host: 'localhost' }],
    ['postgresql://user:secret@localhost', { user: 'user', password: 'secret', host: 'localhost' }],
    [
      'postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp',
      {
        user: 'other',
        host: 'localhost',
        dbname: 'otherdb',
        connect_timeout: '10',
        application_name: 'myapp',
      },
    ],
    [
      'postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp',
      {
        host: 'host1,host2',
        port: '123,456',
        dbname: 'somedb',
        target_session_attrs: 'any',
        application_name: 'myapp',
      },
    ],
    // Ports are collected per host, so hosts without one leave empty slots, as in libpq.
    ['postgresql://h1,h2/db', { host: 'h1,h2', port: ',', dbname: 'db' }],
    ['postgresql://h1:1,h2/db', { host: 'h1,h2', port: '1,', dbname: 'db' }],
    ['postgresql://,h2', { host: ',h2', port: ',' }],
    ['postgresql://[::1]:5432/db', { host: '::1', port: '5432', dbname: 'db' }],
    ['postgresql://[2001:db8::1234]/database', { host: '2001:db8::1234', dbname: 'database' }],
    ['postgresql://[::1],[::2]:5/db', { host: '::1,::2', port: ',5', dbname: 'db' }],
    ['postgresql://[fe80::1%25eth0]/db', { host: 'fe80::1%eth0', dbname: 'db' }],
    ['postgresql://%2Fvar%2Frun%2Fpostgresql/db', { host: '/var/run/postgresql', dbname: 'db' }],
    [
      'postgresql:///dbname?host=/var/lib/postgresql',
      { dbname: 'dbname', host: '/var/lib/postgresql' },
    ],
    [
      'postgresql:///mydb?host=localhost&port=5433',
      { dbname: 'mydb', host: 'localhost', port: '5433' },
    ],
    ['postgresql://a%2Cb/db', { host: 'a,b', dbname: 'db' }],
    [
      'postgresql://us%40er:p%40ss%3Aword@h/d%20b',
      { user: 'us@er', password: 'p@ss:word', host: 'h', dbname: 'd b' },
    ],
    ['postgresql://h/caf%C3%A9', { host: 'h', dbname: 'caf\u00e9' }],
    [
      'postgresql://h/db?options=-c%20synchronous_commit%3Doff',
      {
        host: 'h',
        dbname: 'db',
        options: '-c synchronous_commit=off',
      },
    ],
    [
      'postgresql://h/db?application_name=a+b',
      { host: 'h', dbname: 'db', application_name: 'a+b' },
    ],
    ['postgresql://h?ssl=true', { host: 'h', sslmode: 'require' }],
    ['postgresql://h?requiressl=1', { host: 'h', sslmode: 'require' }],
    [
      'postgresql://h?sslmode=require&application_name=x',
      {
        host: 'h',
        sslmode: 'require',
        application_name: 'x',
      },
    ],
    ['postgresql://h/db?', { host: 'h', dbname: 'db' }],
    ['postgresql://h/db?port=1&', { host: 'h', dbname: 'db', port: '1' }],
    ['postgresql://h/db?host=', { host: '', dbname: 'db' }],
    ['postgresql://h/db?dbname=x&dbname=y', { host: 'h', dbname: 'y' }],
    ['postgresql://h/db/extra', { host: 'h', dbname: 'db/extra' }],
    ['postgresql://h/db#frag', { host: 'h', dbname: 'db#frag' }],
    ['postgresql://h:5432:1/db', { host: 'h', port: '5432:1', dbname: 'db' }],
    // Empty parts are left out, so that PGUSER, PGPASSWORD, PGDATABASE still apply.
    ['postgresql://:pw@h', { password: 'pw', host: 'h' }],
    ['postgresql://u:@h', { user: 'u', host: 'h' }],
    ['postgresql://@h/', { host: 'h' }],
    ['postgresql://u@', { user: 'u' }],
    // libpq looks for "@" up to the first "/", even past a "?".
    ['postgresql://host?application_name=a@b', { user: 'host?application_name=a', host: 'b' }],
    // libpq 18 drops spaces around each part.
    ['postgresql:// h /db', { host: 'h', dbname: 'db' }],
    ['postgresql://h/db?application_name= x ', { host: 'h', dbname: 'db', application_name: 'x' }],
  ])('%j', (input, expected) => {
    expect(parseConninfo(input)).toEqual(expected);
  });
});

describe('parseConninfo: errors', () => {
  it.each<[string, RegExp]>([
    ['host', /missing "=" after "host" at position 1/],
    ['host=x foo', /missing "=" after "foo" at position 8/],
    ['user="a b"', /missing "=" after "b"" at position 9/],
    ['foo=bar', /unknown keyword "foo" at position 1/],
    ['host=x Host=y', /unknown keyword "Host" at position 8/],
    ['=x', /unknown keyword "" at position 1/],
    ["a='x'b=c", /unknown keyword "a"/],
    ["dbname='my db", /unterminated quoted value for "dbname" \(the quote opens at position 8\)/],
    ["user='a\\", /unterminated quoted value for "user"/],
    [
      'POSTGRES://h',
      /"POSTGRES:\/\/h" is not a connection URI: the scheme must be postgresql:\/\/ or postgres:\/\/, not POSTGRES:\/\//,
    ],
    ['postgresql://[::1]x', /unexpected character "x" at position 19/],
    ['postgresql://[]/db', /empty IPv6 address/],
    ['postgresql://[::1/db', /no closing "]"/],
    ['postgresql://h/db?&', /query parameter "" at position 19 has no "=value"/],
    ['postgresql://h/db?a', /query parameter "a" at position 19 has no "=value"/],
    ['postgresql://h/db?port=1=2', /second "=" at position 25 in query parameter "port"/],
    ['postgresql://h/db?=x', /unknown query parameter ""/],
    ['postgresql://h/db?foo=1', /unknown query parameter "foo" at position 19/],
    ['postgresql://h?ssl=false', /unknown query parameter "ssl"/],
    ['postgresql://u%zz@h', /invalid percent-encoding "%zz" in the user name at position 15/],
    ['postgresql://u%2@h', /invalid percent-encoding "%2" in the user name/],
    ['postgresql://u%00@h', /%00 is not allowed in the user name/],
    ['postgresql://h/%ff', /not valid UTF-8/],
    [
      'postgresql://h/d b',
      /unexpected space in the database name at position 17; write spaces as %20/,
    ],
    ['postgresql:// h1 , h2 /db', /unexpected space in the host list/],
    ['postgresql://h/db?application_name=a b', /unexpected space/],
  ])('%j', (input, message) => {
    expect(configError(() => parseConninfo(input)).message).toMatch(message);
  });

  it.each([
    ['password=abc def', 'def'],
    ['password=abc def=1', 'def'],
    ["password='abc", 'abc'],
    ['sslpassword=open sesame', 'sesame'],
    ['postgresql://u:se%zzcret@h', 'se%zz'],
    ['postgresql://u:secret@h/db?password=s%zzz', 's%zz'],
    ['postgresql://u:secret@[::1', 'secret'],
    ['postgresql://u:secret@h?x=1', 'secret'],
  ])('never shows a password: %j', (input, secret) => {
    const error = configError(() => parseConninfo(input));
    expect(error.message).not.toContain(secret);
    expect(error.message).toMatch(/position|password/);
  });

  it.each([
    [
      'postgress://postgres:secret@127.0.0.1:60701/postgres',
      'connection string: "postgress://postgres:***@127.0.0.1:60701/postgres" is not a connection URI: the scheme must be postgresql:// or postgres://, not postgress://',
    ],
    [
      'http://u:hunter2@h/db',
      'connection string: "http://u:***@h/db" is not a connection URI: the scheme must be postgresql:// or postgres://, not http://',
    ],
    ['u:hunter2@host/db', 'connection string: missing "=" after "u:***@host/db" at position 1'],
    [
      'postgres://postgres:p@ss@127.0.0.1/db',
      'connection URI: a second "@" at position 25, after the user info; percent-encode "@" as %40, "/" as %2F and "?" as %3F in the user name and password',
    ],
    [
      'postgresql://u:p/ss@h/db',
      'connection URI: an "@" at position 20 after the host part; if it belongs to a password, percent-encode "@" as %40, "/" as %2F and "?" as %3F in the user name and password',
    ],
    [
      'postgresql://h/db?password=a&bcdef',
      'connection URI: query parameter at position 30 has no "=value", which follows a secret parameter (percent-encode "&" in a secret as %26)',
    ],
    [
      "password='abc'def=1",
      "connection string: unknown keyword at position 15, which follows the password value; quote values that contain spaces (password='...')",
    ],
  ])('quotes what it shows of %j through the redaction', (input, message) => {
    expect(configError(() => parseConninfo(input)).message).toBe(message);
  });

  it('says where a password with an unquoted space went wrong', () => {
    expect(configError(() => parseConninfo('password=abc def')).message).toBe(
      `connection string: missing "=" after the word at position 14, which follows the password value; quote values that contain spaces (password='...')`,
    );
  });
});

describe('redactConninfo', () => {
  it.each([
    ['host=a password=secret user=u', 'host=a password=*** user=u'],
    ["host=a password='s e c' user=u", 'host=a password=*** user=u'],
    ['password=abc def host=x', 'password=***'],
    ['postgress://postgres:secret@h/db', 'postgress://postgres:***@h/db'],
    ['u:hunter2@host/db', 'u:***@host/db'],
    ['postgresql://u:p@ss@h/db', 'postgresql://u:***@h/db'],
    ['postgresql://h/db?password=a&bcdef&port=1', 'postgresql://h/db?password=***&***&port=1'],
    ['password=abc def=1 host=x', 'password=*** *** host=x'],
    ["password='abc", 'password=***'],
    ['sslpassword=x oauth_client_secret=y', 'sslpassword=*** oauth_client_secret=***'],
    ['host=x', 'host=x'],
    ['postgresql://u:secret@h/db', 'postgresql://u:***@h/db'],
    [
      'postgresql://u@h/db?password=p&sslpassword=q&application_name=a',
      'postgresql://u@h/db?password=***&sslpassword=***&application_name=a',
    ],
    ['postgresql://u:secret@[::1', 'postgresql://u:***@[::1'],
    ['postgresql://h/db?pass%77ord=x', 'postgresql://h/db?pass%77ord=***'],
    ['postgresql://h/db', 'postgresql://h/db'],
  ])('%j', (input, expected) => {
    expect(redactConninfo(input)).toBe(expected);
  });
});

describe('resolveConfig', () => {
  const home = mkdtempSync(join(tmpdir(), 'pqnotify-conninfo-'));
  const env = { HOME: home };
  const osUser = userInfo().username;
  const socketDir = defaultSocketDir();
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('fills in libpq defaults', () => {
    expect(resolveConfig(undefined, undefined, env)).toEqual({
      hosts: [
        {
          host: socketDir,
          hostaddr: undefined,
          port: 5432,
          socketPath: `${socketDir}/.s.PGSQL.5432`,
        },
      ],
      user: osUser,
      dbname: osUser,
      password: undefined,
      passfile: join(home, '.pgpass'),
      applicationName: undefined,
      fallbackApplicationName: undefined,
      options: undefined,
      clientEncoding: undefined,
      connectTimeout: 0,
      keepalives: true,
      sslmode: 'prefer',
      sslnegotiation: 'postgres',
      sslrootcert: undefined,
      sslcert: undefined,
      sslkey: undefined,
      sslpassword: undefined,
      sslcrl: undefined,
      sslsni: true,
      sslcertmode: 'allow',
      sslMinProtocolVersion: 'TLSv1.2',
      sslMaxProtocolVersion: undefined,
      channelBinding: 'prefer',
      requireAuth: undefined,
      targetSessionAttrs: 'any',
      loadBalanceHosts: 'disable',
      minProtocolVersion: { major: 3, minor: 0 },
      maxProtocolVersion: { major: 3, minor: 0 },
      gssencmode: 'disable',
    });
  });

  it('takes the default socket directory from the system', () => {
    expect(['/var/run/postgresql', '/tmp']).toContain(socketDir);
  });

  it('reads every PG* variable', () => {
    const config = resolveConfig(undefined, undefined, {
      ...env,
      PGHOST: 'db.example.com',
      PGHOSTADDR: '192.0.2.1',
      PGPORT: '6543',
      PGDATABASE: 'envdb',
      PGUSER: 'envuser',
      PGPASSWORD: 'envpass',
      PGPASSFILE: '/etc/pgpass',
      PGAPPNAME: 'envapp',
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: '/etc/root.crt',
      PGSSLCERT: '/etc/client.crt',
      PGSSLKEY: '/etc/client.key',
      PGSSLCRL: '/etc/crl.pem',
      PGSSLNEGOTIATION: 'direct',
      PGSSLSNI: '0',
      PGSSLCERTMODE: 'disable',
      PGSSLMINPROTOCOLVERSION: 'tlsv1.3',
      PGSSLMAXPROTOCOLVERSION: 'TLSv1.3',
      PGCHANNELBINDING: 'require',
      PGREQUIREAUTH: 'scram-sha-256',
      PGCONNECT_TIMEOUT: '7',
      PGTARGETSESSIONATTRS: 'read-write',
      PGOPTIONS: '-c work_mem=1MB',
      PGCLIENTENCODING: 'LATIN1',
      PGMINPROTOCOLVERSION: '3.2',
      PGMAXPROTOCOLVERSION: 'latest',
      PGLOADBALANCEHOSTS: 'random',
      PGGSSENCMODE: 'prefer',
    });
    expect(config).toMatchObject({
      hosts: [{ host: 'db.example.com', hostaddr: '192.0.2.1', port: 6543, socketPath: undefined }],
      user: 'envuser',
      dbname: 'envdb',
      password: 'envpass',
      passfile: '/etc/pgpass',
      applicationName: 'envapp',
      sslmode: 'verify-full',
      sslrootcert: '/etc/root.crt',
      sslcert: '/etc/client.crt',
      sslkey: '/etc/client.key',
      sslcrl: '/etc/crl.pem',
      sslnegotiation: 'direct',
      sslsni: false,
      sslcertmode: 'disable',
      sslMinProtocolVersion: 'TLSv1.3',
      sslMaxProtocolVersion: 'TLSv1.3',
      channelBinding: 'require',
      requireAuth: { methods: ['scram-sha-256'], negated: false, source: 'scram-sha-256' },
      connectTimeout: 7,
      targetSessionAttrs: 'read-write',
      options: '-c work_mem=1MB',
      clientEncoding: 'LATIN1',
      minProtocolVersion: { major: 3, minor: 2 },
      maxProtocolVersion: { major: 3, minor: 2 },
      loadBalanceHosts: 'random',
      gssencmode: 'prefer',
    });
  });

  it('ranks overrides over the connection string over the environment', () => {
    const environment = {
      ...env,
      PGHOST: 'envhost',
      PGUSER: 'envuser',
      PGDATABASE: 'envdb',
      PGAPPNAME: 'envapp',
    };
    const config = resolveConfig(
      'host=stringhost user=stringuser',
      { user: 'overrideuser' },
      environment,
    );
    expect(config.hosts[0]?.host).toBe('stringhost');
    expect(config.user).toBe('overrideuser');
    expect(config.dbname).toBe('envdb');
    expect(config.applicationName).toBe('envapp');
  });

  it("lets '' in a connection string hide the environment, as libpq", () => {
    const config = resolveConfig("host='' user='' dbname=''", undefined, {
      ...env,
      PGHOST: 'envhost',
      PGUSER: 'envuser',
      PGDATABASE: 'envdb',
    });
    expect(config.hosts[0]?.host).toBe(socketDir);
    expect(config.user).toBe(osUser);
    expect(config.dbname).toBe(osUser);
  });

  it("treats '' and undefined in an options object as not given", () => {
    const config = resolveConfig(
      'host=stringhost user=stringuser',
      { host: '', user: undefined },
      { ...env, PGHOST: 'envhost' },
    );
    expect(config.hosts[0]?.host).toBe('stringhost');
    expect(config.user).toBe('stringuser');
  });

  it("treats an environment variable set to '' as unset", () => {
    const config = resolveConfig(undefined, undefined, { ...env, PGSSLMODE: '', PGHOST: '' });
    expect(config.sslmode).toBe('prefer');
    expect(config.hosts[0]?.host).toBe(socketDir);
  });

  it('dbname defaults to the user', () => {
    expect(resolveConfig('user=alice', undefined, env).dbname).toBe('alice');
    expect(resolveConfig(undefined, undefined, { ...env, PGUSER: 'bob' }).dbname).toBe('bob');
  });

  it('takes an options object as the first argument', () => {
    const options: ConnectOptions = {
      host: 'h',
      port: 5433,
      user: 'u',
      connectTimeout: 5,
      keepalives: false,
      keepalivesIdle: 30,
      keepalivesInterval: '10',
      keepalivesCount: 3,
      tcpUserTimeout: 1000,
      sslsni: false,
      applicationName: 'app',
      fallbackApplicationName: 'fallback',
      targetSessionAttrs: 'standby',
    };
    expect(resolveConfig(options, undefined, env)).toMatchObject({
      hosts: [{ host: 'h', port: 5433, socketPath: undefined }],
      user: 'u',
      connectTimeout: 5,
      keepalives: false,
      keepalivesIdle: 30,
      keepalivesInterval: 10,
      keepalivesCount: 3,
      tcpUserTimeout: 1000,
      sslsni: false,
      applicationName: 'app',
      fallbackApplicationName: 'fallback',
      targetSessionAttrs: 'standby',
    });
  });

  it('keeps a password function as it is, and lets a later layer replace it', () => {
    const fn = () => 'from-fn';
    expect(resolveConfig('password=s', { password: fn }, env).password).toBe(fn);
    expect(resolveConfig({ password: fn }, { password: 'plain' }, env).password).toBe('plain');
    expect(resolveConfig({ password: fn }, undefined, { ...env, PGPASSWORD: 'e' }).password).toBe(
      fn,
    );
    expect(resolveConfig("password=''", undefined, { ...env, PGPASSWORD: 'e' }).password).toBe(
      undefined,
    );
  });

  describe('hosts and ports', () => {
    const hosts = (conninfo: string, environment: Record<string, string> = env) =>
      resolveConfig(conninfo, undefined, environment).hosts;

    it('applies one port to every host', () => {
      expect(hosts('host=a,b,c port=6000').map((h) => h.port)).toEqual([6000, 6000, 6000]);
    });

    it('pairs ports with hosts, empty entries meaning 5432', () => {
      expect(hosts('postgresql://a:1,b,c:3/db').map((h) => [h.host, h.port])).toEqual([
        ['a', 1],
        ['b', 5432],
        ['c', 3],
      ]);
    });

    it('refuses a port list of another length', () => {
      expect(configError(() => hosts('host=a,b,c port=1,2')).message).toMatch(
        /could not match 2 port numbers \(from the connection string\) to 3 hosts/,
      );
    });

    it('refuses bad ports, naming them and their source', () => {
      expect(configError(() => hosts('port=abc')).message).toMatch(
        /invalid port number "abc" \(from the connection string\)/,
      );
      expect(configError(() => hosts('', { ...env, PGPORT: '70000' })).message).toMatch(
        /invalid port number "70000" \(from PGPORT\)/,
      );
      configError(() => hosts('port=0'));
      configError(() => hosts('port=5432x'));
    });

    it('accepts a port with spaces around it, as libpq', () => {
      expect(hosts("port=' 5433 '")[0]?.port).toBe(5433);
    });

    it('turns socket directories into socket paths', () => {
      expect(hosts('host=/var/lib/pg,/tmp port=5433')).toEqual([
        {
          host: '/var/lib/pg',
          hostaddr: undefined,
          port: 5433,
          socketPath: '/var/lib/pg/.s.PGSQL.5433',
        },
        { host: '/tmp', hostaddr: undefined, port: 5433, socketPath: '/tmp/.s.PGSQL.5433' },
      ]);
      expect(hosts('postgresql://%2Fvar%2Frun%2Fpostgresql/db')[0]?.socketPath).toBe(
        '/var/run/postgresql/.s.PGSQL.5432',
      );
    });

    it('gives abstract sockets the NUL prefix Node expects', () => {
      expect(hosts('host=@pgsock')[0]).toEqual({
        host: '@pgsock',
        hostaddr: undefined,
        port: 5432,
        socketPath: '\0pgsock/.s.PGSQL.5432',
      });
    });

    it('fills empty host entries with the default socket directory', () => {
      expect(hosts('postgresql://,h2').map((h) => h.host)).toEqual([socketDir, 'h2']);
    });

    it('uses hostaddr instead of resolving, and its count of hosts', () => {
      expect(hosts('host=a,b hostaddr=192.0.2.1,2001:db8::1')).toEqual([
        { host: 'a', hostaddr: '192.0.2.1', port: 5432, socketPath: undefined },
        { host: 'b', hostaddr: '2001:db8::1', port: 5432, socketPath: undefined },
      ]);
      expect(hosts('hostaddr=192.0.2.1')).toEqual([
        {
          host: '192.0.2.1',
          hostaddr: '192.0.2.1',
          port: 5432,
          socketPath: undefined,
          addressOnly: true,
        },
      ]);
      expect(hosts('host=a,/tmp hostaddr=192.0.2.1,')).toEqual([
        { host: 'a', hostaddr: '192.0.2.1', port: 5432, socketPath: undefined },
        { host: '/tmp', hostaddr: undefined, port: 5432, socketPath: '/tmp/.s.PGSQL.5432' },
      ]);
    });

    it('combines a host from the string with a hostaddr from the environment, as libpq', () => {
      expect(
        configError(() => hosts('host=a,b', { ...env, PGHOSTADDR: '192.0.2.1' })).message,
      ).toMatch(
        /could not match 2 host names \(from the connection string\) to 1 hostaddr values \(from PGHOSTADDR\)/,
      );
    });

    it('refuses a hostaddr that is not a numeric address', () => {
      expect(configError(() => hosts('hostaddr=db.example.com')).message).toMatch(
        /invalid hostaddr "db.example.com"/,
      );
    });
  });

  describe('numbers', () => {
    const resolve = (conninfo: string) => resolveConfig(conninfo, undefined, env);

    it('raises a connect_timeout of 1 to 2 and treats 0 or less as no timeout, as libpq', () => {
      expect(resolve('connect_timeout=1').connectTimeout).toBe(2);
      expect(resolve('connect_timeout=10').connectTimeout).toBe(10);
      expect(resolve('connect_timeout=0').connectTimeout).toBe(0);
      expect(resolve('connect_timeout=-5').connectTimeout).toBe(0);
      expect(resolve("connect_timeout=' 3 '").connectTimeout).toBe(3);
    });

    it.each([
      [
        'connect_timeout=abc',
        /invalid integer value "abc" for connect_timeout \(from the connection string\)/,
      ],
      ['connect_timeout=1.5', /invalid integer value "1.5" for connect_timeout/],
      ["connect_timeout=''", /invalid integer value "" for connect_timeout/],
      ['connect_timeout=99999999999', /invalid integer value/],
      ['keepalives=on', /invalid integer value "on" for keepalives/],
      ['keepalives_idle=-1', /keepalives_idle must be at least 1, not -1/],
      ['keepalives_count=0', /keepalives_count must be at least 1, not 0/],
      ['tcp_user_timeout=x', /invalid integer value "x" for tcp_user_timeout/],
      ["min_protocol_version=''", /invalid min_protocol_version value ""/],
      ["max_protocol_version=''", /invalid max_protocol_version value ""/],
      ["service=''", /service .* is not supported/],
    ])('%s', (conninfo, message) => {
      expect(configError(() => resolve(conninfo)).message).toMatch(message);
    });

    it('reads sslsni, sslcompression and gssdelegation as libpq: only a leading 1 counts', () => {
      expect(resolve('sslsni=1').sslsni).toBe(true);
      expect(resolve('sslsni=yes').sslsni).toBe(false);
      expect(resolve("sslsni=''").sslsni).toBe(false);
      expect(resolve('sslcompression=2 gssdelegation=x').sslsni).toBe(true);
    });

    it('reads hostaddr as the platform does: inet_aton forms, IPv6 zones', () => {
      const addr = (value: string) => resolve(`hostaddr=${value}`).hosts[0]?.hostaddr;
      expect(addr('127.1')).toBe('127.0.0.1');
      expect(addr('0x7f.0.0.1')).toBe('127.0.0.1');
      expect(addr('0177.0.0.01')).toBe('127.0.0.1');
      expect(addr('2130706433')).toBe('127.0.0.1');
      expect(addr('1.16777215')).toBe('1.255.255.255');
      expect(addr('::1%1')).toBe('::1%1');
      for (const bad of ['1.16777216', '4294967296', '08.0.0.1', '1..2', '0x', '::1%lo']) {
        expect(configError(() => resolve(`hostaddr=${bad}`)).message).toMatch(/invalid hostaddr/);
      }
    });

    it('takes keepalive settings of 0, and negative tcp_user_timeout, as libpq', () => {
      expect(resolve('keepalives=0 keepalives_idle=0').keepalivesIdle).toBe(0);
      expect(resolve('tcp_user_timeout=-1').tcpUserTimeout).toBe(0);
    });

    it('reads keepalives as libpq: any non-zero integer is on', () => {
      expect(resolve('keepalives=0').keepalives).toBe(false);
      expect(resolve('keepalives=5').keepalives).toBe(true);
    });

    it('names option keys in messages about options', () => {
      // A value the types refuse, as plain JavaScript could pass it.
      const untyped = { connectTimeout: 'soon' } as unknown as ConnectOptions;
      expect(configError(() => resolveConfig(untyped, undefined, env)).message).toMatch(
        /invalid integer value "soon" for connect_timeout \(from options.connectTimeout\)/,
      );
      expect(
        configError(() => resolveConfig({ port: Number.NaN }, undefined, env)).message,
      ).toMatch(/options.port must be a finite number/);
    });
  });

  describe('enumerated values', () => {
    const resolve = (conninfo: string, environment: Record<string, string> = env) =>
      resolveConfig(conninfo, undefined, environment);

    it.each([
      [
        'sslmode=required',
        /invalid sslmode value "required" \(from the connection string\); expected one of: disable, allow, prefer, require, verify-ca, verify-full/,
      ],
      ["sslmode=''", /invalid sslmode value ""/],
      ['sslnegotiation=fast', /invalid sslnegotiation value "fast"/],
      ['channel_binding=yes', /invalid channel_binding value "yes"/],
      ['target_session_attrs=master', /invalid target_session_attrs value "master"/],
      ['load_balance_hosts=round-robin', /invalid load_balance_hosts value "round-robin"/],
      ['gssencmode=maybe', /invalid gssencmode value "maybe"/],
      ['sslcertmode=always', /invalid sslcertmode value "always"/],
      [
        'min_protocol_version=3.1',
        /invalid min_protocol_version value "3.1".*expected 3.0, 3.2 or latest/,
      ],
      ['max_protocol_version=4', /invalid max_protocol_version value "4"/],
      ['ssl_min_protocol_version=SSLv3', /invalid ssl_min_protocol_version value "SSLv3"/],
    ])('%s', (conninfo, message) => {
      expect(configError(() => resolve(conninfo)).message).toMatch(message);
    });

    it('names the environment variable a bad value came from', () => {
      expect(configError(() => resolve('', { ...env, PGSSLMODE: 'on' })).message).toMatch(
        /invalid sslmode value "on" \(from PGSSLMODE\)/,
      );
    });

    it('accepts every value libpq accepts', () => {
      for (const mode of ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']) {
        expect(resolve(`sslmode=${mode}`).sslmode).toBe(mode);
      }
      for (const attrs of [
        'any',
        'read-write',
        'read-only',
        'primary',
        'standby',
        'prefer-standby',
      ]) {
        expect(resolve(`target_session_attrs=${attrs}`).targetSessionAttrs).toBe(attrs);
      }
      expect(resolve('channel_binding=disable').channelBinding).toBe('disable');
      expect(resolve('load_balance_hosts=random').loadBalanceHosts).toBe('random');
    });

    it('reads PGREQUIRESSL=1 as sslmode=require unless PGSSLMODE is set', () => {
      expect(resolve('', { ...env, PGREQUIRESSL: '1' }).sslmode).toBe('require');
      expect(resolve('', { ...env, PGREQUIRESSL: '1', PGSSLMODE: 'disable' }).sslmode).toBe(
        'disable',
      );
      expect(resolve('', { ...env, PGREQUIRESSL: '0' }).sslmode).toBe('prefer');
    });
  });

  describe('TLS settings', () => {
    const resolve = (conninfo: string, environment: Record<string, string> = env) =>
      resolveConfig(conninfo, undefined, environment);

    it('makes sslrootcert=system imply verify-full, and refuses weaker explicit modes', () => {
      expect(resolve('sslrootcert=system').sslmode).toBe('verify-full');
      expect(resolve('sslrootcert=system sslmode=verify-full').sslmode).toBe('verify-full');
      expect(configError(() => resolve('sslrootcert=system sslmode=require')).message).toMatch(
        /sslmode "require" \(from the connection string\) may not be used with sslrootcert=system; use verify-full/,
      );
      configError(() => resolve('sslrootcert=system', { ...env, PGSSLMODE: 'verify-ca' }));
    });

    it('allows sslnegotiation=direct only with require or stronger', () => {
      expect(resolve('sslnegotiation=direct sslmode=require').sslnegotiation).toBe('direct');
      for (const mode of ['disable', 'allow', 'prefer']) {
        expect(configError(() => resolve(`sslnegotiation=direct sslmode=${mode}`)).message).toMatch(
          `sslnegotiation=direct needs sslmode require, verify-ca or verify-full, not "${mode}"`,
        );
      }
      configError(() => resolve('sslnegotiation=direct'));
    });

    it('leaves verify-full with an address-only server to fail when TLS starts, as libpq', () => {
      const { hosts } = resolve('host=,db hostaddr=192.0.2.1,192.0.2.2 sslmode=verify-full');
      expect(hosts.map((h) => [h.host, h.addressOnly])).toEqual([
        ['192.0.2.1', true],
        ['db', undefined],
      ]);
    });

    it('refuses an inverted TLS version range', () => {
      expect(
        configError(() =>
          resolve('ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2'),
        ).message,
      ).toMatch(/invalid TLS protocol version range/);
    });

    it('finds the default certificate files in ~/.postgresql when they exist', () => {
      const withFiles = mkdtempSync(join(tmpdir(), 'pqnotify-home-'));
      try {
        mkdirSync(join(withFiles, '.postgresql'));
        for (const name of ['root.crt', 'postgresql.crt', 'postgresql.key']) {
          writeFileSync(join(withFiles, '.postgresql', name), 'x');
        }
        const config = resolve('', { HOME: withFiles });
        expect(config.sslrootcert).toBe(join(withFiles, '.postgresql', 'root.crt'));
        expect(config.sslcert).toBe(join(withFiles, '.postgresql', 'postgresql.crt'));
        expect(config.sslkey).toBe(join(withFiles, '.postgresql', 'postgresql.key'));
        expect(config.sslmode).toBe('prefer');
        expect(resolve('sslrootcert=/given.crt', { HOME: withFiles }).sslrootcert).toBe(
          '/given.crt',
        );
      } finally {
        rmSync(withFiles, { recursive: true, force: true });
      }
    });

    it("resolves client_encoding 'auto' to UTF8", () => {
      expect(resolve('client_encoding=auto').clientEncoding).toBe('UTF8');
      expect(resolve('client_encoding=LATIN1').clientEncoding).toBe('LATIN1');
    });
  });

  describe('protocol versions', () => {
    const versions = (conninfo: string) => {
      const { minProtocolVersion, maxProtocolVersion } = resolveConfig(conninfo, undefined, env);
      return [minProtocolVersion.minor, maxProtocolVersion.minor];
    };

    it('defaults to 3.0..3.0, and raises the maximum when the minimum asks for more', () => {
      expect(versions('')).toEqual([0, 0]);
      expect(versions('max_protocol_version=latest')).toEqual([0, 2]);
      expect(versions('min_protocol_version=3.2')).toEqual([2, 2]);
      expect(versions('min_protocol_version=latest')).toEqual([2, 2]);
      expect(versions('max_protocol_version=3.2 min_protocol_version=3.0')).toEqual([0, 2]);
    });

    it('refuses a minimum above the maximum', () => {
      expect(
        configError(() => versions('min_protocol_version=3.2 max_protocol_version=3.0')).message,
      ).toMatch(/min_protocol_version 3.2 is greater than max_protocol_version 3.0/);
    });
  });

  describe('require_auth', () => {
    const parse = (value: string) =>
      resolveConfig({ requireAuth: value }, undefined, env).requireAuth;

    it('reads plain and negated lists', () => {
      expect(parse('scram-sha-256')).toEqual({
        methods: ['scram-sha-256'],
        negated: false,
        source: 'scram-sha-256',
      });
      expect(parse('password,md5,none')).toEqual({
        methods: ['password', 'md5', 'none'],
        negated: false,
        source: 'password,md5,none',
      });
      expect(parse('!password,!md5')).toEqual({
        methods: ['password', 'md5'],
        negated: true,
        source: '!password,!md5',
      });
      expect(parse('!none')).toEqual({ methods: ['none'], negated: true, source: '!none' });
      for (const method of ['gss', 'sspi', 'oauth'])
        expect(parse(method)?.methods).toEqual([method]);
    });

    it('is undefined when empty', () => {
      expect(resolveConfig("require_auth=''", undefined, env).requireAuth).toBeUndefined();
    });

    it.each([
      ['password,!md5', /negative method "md5" cannot be mixed with non-negative methods/],
      ['!password,md5', /method "md5" cannot be mixed with negative methods/],
      ['password,password', /require_auth method "password" is specified more than once/],
      ['!md5,!md5', /require_auth method "!md5" is specified more than once/],
      ['kerberos', /invalid require_auth method "kerberos"/],
      ['password,', /invalid require_auth method ""/],
      ['SCRAM-SHA-256', /invalid require_auth method "SCRAM-SHA-256"/],
    ])('%s', (value, message) => {
      expect(configError(() => parse(value)).message).toMatch(message);
    });
  });

  describe('libpq features pqnotify does not have', () => {
    it.each([
      ['service=mydb', /service .* is not supported by pqnotify/],
      [
        'replication=database',
        /replication=database \(from the connection string\) is not supported/,
      ],
      ['replication=true', /replication=true/],
      ['gssencmode=require', /gssencmode=require \(GSSAPI encryption\)/],
      ['sslcertmode=require', /sslcertmode=require/],
      ['requirepeer=postgres', /requirepeer/],
      ['sslcrldir=/etc/crl', /sslcrldir/],
      ['sslkeylogfile=/tmp/keys', /sslkeylogfile/],
      ['scram_client_key=abc', /scram_client_key/],
      ['oauth_issuer=https://example.com', /oauth_issuer \(OAuth authentication\)/],
    ])('%s', (conninfo, message) => {
      expect(configError(() => resolveConfig(conninfo, undefined, env)).message).toMatch(message);
    });

    it('rejects PGSERVICE too, naming it', () => {
      expect(
        configError(() => resolveConfig('', undefined, { ...env, PGSERVICE: 'x' })).message,
      ).toMatch(/from PGSERVICE/);
    });

    it('accepts settings that only turn those features off, and GSSAPI details it ignores', () => {
      const config = resolveConfig(
        'replication=false gssencmode=disable sslcertmode=disable krbsrvname=pg gsslib=gssapi gssdelegation=0 sslcompression=1',
        undefined,
        env,
      );
      expect(config.gssencmode).toBe('disable');
      expect(config.sslcertmode).toBe('disable');
    });
  });

  describe('options objects', () => {
    it('refuses unknown keys, suggesting the camelCase name of a libpq keyword', () => {
      expect(
        configError(() => resolveConfig({ ssl_mode: 'x' } as ConnectOptions, undefined, env))
          .message,
      ).toBe('unknown connection option options.ssl_mode');
      expect(
        configError(() =>
          resolveConfig(undefined, { application_name: 'x' } as ConnectOptions, env),
        ).message,
      ).toBe('unknown connection option overrides.application_name; did you mean applicationName?');
    });

    it('refuses values of the wrong type', () => {
      expect(
        configError(() =>
          resolveConfig({ host: { name: 'x' } } as unknown as ConnectOptions, undefined, env),
        ).message,
      ).toMatch(/options.host must be a string, number or boolean, not object/);
    });

    it('accepts every libpq keyword in camelCase', () => {
      const config = resolveConfig(
        {
          sslMinProtocolVersion: 'TLSv1.3',
          minProtocolVersion: '3.2',
          loadBalanceHosts: 'random',
          requireAuth: 'md5',
          channelBinding: 'disable',
          clientEncoding: 'UTF8',
          passfile: '/p',
        },
        undefined,
        env,
      );
      expect(config).toMatchObject({
        sslMinProtocolVersion: 'TLSv1.3',
        minProtocolVersion: { major: 3, minor: 2 },
        loadBalanceHosts: 'random',
        channelBinding: 'disable',
        clientEncoding: 'UTF8',
        passfile: '/p',
      });
    });
  });

  it('never puts a password in an error message', () => {
    const secret = 'hunter2-secret';
    const attempts: Array<() => unknown> = [
      () => resolveConfig(`password=${secret} sslmode=bogus`, undefined, env),
      () => resolveConfig(`postgresql://u:${secret}@h:99999/db`, undefined, env),
      () => resolveConfig({ password: secret, port: 'x' }, undefined, env),
      () => resolveConfig('', undefined, { ...env, PGPASSWORD: secret, PGPORT: 'x' }),
      () => resolveConfig(`sslpassword=${secret} sslmode=x`, undefined, env),
    ];
    for (const attempt of attempts) expect(configError(attempt).message).not.toContain(secret);
  });
});
