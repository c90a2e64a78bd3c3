/**
 * The environment and file seam (src/connection/environment.ts) under a runtime that
 * withholds permissions, without Deno: injected variables and a System that throw the way
 * Deno's node: APIs do (an Error named NotCapable, or PermissionDenied before Deno 2). The
 * same cases under a real Deno are in deno-permissions.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/connection/conninfo.js';
import { Environment, type System } from '../../src/connection/environment.js';
import { lookupPassword } from '../../src/connection/pgpass.js';
import { tlsSettings } from '../../src/connection/tls.js';
import { ConnectionError, connect } from '../../src/index.js';
import { connectFailure, managed, server, superuserNoPassword } from '../support/server.js';

/** The error Deno's node: APIs throw for a permission not granted. */
function refused(what: string, name = 'NotCapable'): Error {
  const error = new Error(`Requires ${what} access, run again with the --allow-${what} flag`);
  error.name = name;
  return error;
}

/** An error as node:fs gives it. */
function fsError(code: 'ENOENT' | 'EACCES', path: string): Error {
  return Object.assign(new Error(`${code}: stat '${path}'`), { code });
}

/** A System as Deno gives it without --allow-read and --allow-sys, with `granted` working. */
function denoSystem(granted: Partial<System> = {}): System {
  return {
    platform: 'linux',
    homeDirectory: () => {
      throw refused('sys');
    },
    userName: () => {
      throw refused('sys');
    },
    stat: () => {
      throw refused('read');
    },
    readFile: () => {
      throw refused('read');
    },
    openFile: () => Promise.reject(refused('read')),
    networkInterfaceNames: () => {
      throw refused('sys');
    },
    ...granted,
  };
}

/** Variables as Deno's process.env gives them with --allow-env for `granted` only. */
function denoVariables(granted: Record<string, string> = {}, name = 'NotCapable') {
  return new Proxy(granted, {
    get(target, key) {
      if (typeof key === 'string' && !(key in target)) throw refused('env', name);
      return target[key as string];
    },
  });
}

/** An Environment over `variables` and `system` that collects its warnings. */
function collecting(
  variables: Record<string, string | undefined>,
  system: System,
): { environment: Environment; warnings: string[] } {
  const warnings: string[] = [];
  const environment = new Environment({ variables, system, warn: (m) => warnings.push(m) });
  return { environment, warnings };
}

describe('Environment: variables the runtime will not give', () => {
  it.each(['NotCapable', 'PermissionDenied'])(
    'count as unset, named in one warning (%s)',
    (name) => {
      const { environment, warnings } = collecting(
        denoVariables({ PGHOST: 'db', PGPORT: '' }, name),
        denoSystem(),
      );
      expect(environment.variables(['PGHOST', 'PGPORT', 'PGUSER', 'PGSSLMODE'])).toEqual({
        PGHOST: 'db',
      });
      expect(environment.variables(['PGUSER', 'PGHOST'])).toEqual({ PGHOST: 'db' });
      expect(warnings).toEqual([
        "environment variables could not be read and count as unset (2: PGUSER, PGSSLMODE): reading them needs Deno's --allow-env (or pass env: {} to connect() to read none)",
      ]);
    },
  );

  it('suggest what `otherwise` says, or only the permission when it is empty', () => {
    const warnings: string[] = [];
    for (const otherwise of ['set nothing', '']) {
      const environment = new Environment({
        variables: denoVariables({}, 'NotCapable'),
        system: denoSystem(),
        warn: (m) => warnings.push(m),
        otherwise,
      });
      environment.variables(['PGUSER']);
    }
    expect(warnings).toEqual([
      "environment variables could not be read and count as unset (1: PGUSER): reading them needs Deno's --allow-env (or set nothing)",
      "environment variables could not be read and count as unset (1: PGUSER): reading them needs Deno's --allow-env",
    ]);
  });

  it('an error that is not a permission passes through', () => {
    const variables = new Proxy({} as Record<string, string>, {
      get() {
        throw new TypeError('broken environment');
      },
    });
    const { environment } = collecting(variables, denoSystem());
    expect(() => environment.variables(['PGHOST'])).toThrow('broken environment');
  });
});

describe('resolveConfig under Deno without --allow-env, --allow-read or --allow-sys', () => {
  it('resolves explicit settings, with the environment unset and the home directory unknown', () => {
    const { environment, warnings } = collecting(denoVariables(), denoSystem());
    const config = resolveConfig(
      'host=db.example.com user=alice sslmode=require',
      undefined,
      environment,
    );
    expect(config).toMatchObject({
      user: 'alice',
      dbname: 'alice',
      passfile: undefined,
      sslrootcert: undefined,
      sslcert: undefined,
    });
    expect(config.hosts.map((host) => host.host)).toEqual(['db.example.com']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^environment variables could not be read and count as unset \(37: PGSERVICE, PGUSER, PGPASSWORD, PGPASSFILE, \.\.\.\): reading them needs Deno's --allow-env/,
    );
  });

  it('an unknown home directory is said where a default file under it would be used', () => {
    const { environment, warnings } = collecting({}, denoSystem());
    const config = resolveConfig('host=db user=alice sslmode=require', undefined, environment);
    expect(warnings).toEqual([]);
    expect(tlsSettings(config, 'db', environment).verify).toBe('none');
    expect(warnings).toEqual([
      "~/.postgresql/ (root.crt, postgresql.crt, postgresql.key) not used: the home directory is unknown, and finding it needs Deno's --allow-env for HOME or Deno's --allow-sys",
    ]);
  });

  it('without a user, a CONNECTION_CONFIG error naming --allow-sys', () => {
    const { environment } = collecting(denoVariables(), denoSystem());
    let error: unknown;
    try {
      resolveConfig('host=db.example.com', undefined, environment);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({
      code: 'CONNECTION_CONFIG',
      message:
        "could not determine the operating system user name: reading it needs Deno's --allow-sys; set user or PGUSER",
    });
    expect((error as ConnectionError).cause).toMatchObject({ name: 'NotCapable' });
  });

  it('with HOME but no --allow-read, the default files count as absent, said once', () => {
    const { environment, warnings } = collecting(
      denoVariables({ HOME: '/home/alice' }),
      denoSystem(),
    );
    const config = resolveConfig('host=db user=alice', undefined, environment);
    expect(config).toMatchObject({
      passfile: '/home/alice/.pgpass',
      sslrootcert: undefined,
      sslcert: undefined,
      sslkey: undefined,
    });
    expect(warnings.slice(1)).toEqual([
      `could not check whether "/home/alice/.postgresql/root.crt" exists, so it and any other file pqnotify looks for count as absent: checking needs Deno's --allow-read`,
    ]);
  });

  it('a file that is not there, or that fs may not stat (EACCES), is absent in silence, as in libpq', () => {
    for (const code of ['ENOENT', 'EACCES'] as const) {
      const { environment, warnings } = collecting(
        { HOME: '/home/alice' },
        denoSystem({
          stat: (path) => {
            throw fsError(code, path);
          },
        }),
      );
      expect(resolveConfig('host=db user=alice', undefined, environment).sslrootcert).toBe(
        undefined,
      );
      expect(warnings).toEqual([]);
    }
  });

  it('a link-local hostaddr with an interface name needs the interface names: refused with a warning', () => {
    const { environment, warnings } = collecting({}, denoSystem());
    expect(() => resolveConfig('hostaddr=fe80::1%eth0 user=alice', undefined, environment)).toThrow(
      /invalid hostaddr "fe80::1%eth0"/,
    );
    expect(warnings).toContain(
      "network interface names could not be read: reading them needs Deno's --allow-sys",
    );
  });
});

describe('lookupPassword and tlsSettings under Deno without --allow-read', () => {
  const target = { host: 'db', port: 5432, dbname: 'app', user: 'alice' };

  it('a password file the runtime will not open is skipped with a warning', async () => {
    const { environment, warnings } = collecting({}, denoSystem());
    expect(await lookupPassword('/home/alice/.pgpass', target, environment)).toBeUndefined();
    expect(warnings).toEqual([
      `password file "/home/alice/.pgpass" was not read: reading it needs Deno's --allow-read`,
    ]);
  });

  it('a password file that cannot be opened for another reason is skipped in silence', async () => {
    const { environment, warnings } = collecting(
      {},
      denoSystem({ openFile: (path) => Promise.reject(fsError('EACCES', path)) }),
    );
    expect(await lookupPassword('/home/alice/.pgpass', target, environment)).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('sslmode=require with a named root certificate it may not check is an error, not a downgrade', () => {
    const { environment } = collecting({}, denoSystem());
    const config = resolveConfig(
      'host=db user=alice sslmode=require sslrootcert=/etc/ca.pem',
      undefined,
      environment,
    );
    expect(() => tlsSettings(config, 'db', environment)).toThrow(
      expect.objectContaining({
        code: 'CONNECTION_TLS',
        message: `could not check root certificate file "/etc/ca.pem": checking needs Deno's --allow-read`,
      }),
    );
  });

  it('a named root certificate it will not read is a CONNECTION_TLS error naming --allow-read', () => {
    const { environment } = collecting(
      {},
      denoSystem({ stat: () => ({ kind: 'file', mode: 0o644 }) }),
    );
    const config = resolveConfig(
      'host=db user=alice sslmode=verify-full sslrootcert=/etc/ca.pem',
      undefined,
      environment,
    );
    expect(() => tlsSettings(config, 'db', environment)).toThrow(
      expect.objectContaining({
        code: 'CONNECTION_TLS',
        message: `could not read root certificate file "/etc/ca.pem": reading it needs Deno's --allow-read`,
      }),
    );
  });
});

describe.skipIf(!managed)('connect() through an injected environment, against the server', () => {
  const settings = superuserNoPassword;

  it('no password and no home directory: ~/.pgpass is said to be unused', async () => {
    const warnings: string[] = [];
    const error = await connectFailure(settings, {
      env: {},
      system: denoSystem(),
      onWarning: (message) => warnings.push(message),
    });
    expect(error.code).toBe('CONNECTION_AUTH');
    expect(warnings).toEqual([
      "~/.pgpass not used: the home directory is unknown, and finding it needs Deno's --allow-env for HOME or Deno's --allow-sys",
    ]);
  });

  it('a .pgpass skipped for a missing permission is said, then the password is missing', async () => {
    const warnings: string[] = [];
    const error = await connectFailure(settings, {
      env: {},
      system: denoSystem({ homeDirectory: () => '/home/deno' }),
      onWarning: (message) => warnings.push(message),
    });
    expect(error.code).toBe('CONNECTION_AUTH');
    expect(error.message).toMatch(/none was supplied/);
    expect(warnings).toContain(
      `password file "/home/deno/.pgpass" was not read: reading it needs Deno's --allow-read`,
    );
  });

  it('reads the password file through the injected System', async () => {
    const line = `*:*:*:${server.user}:${server.password}`;
    const opened: string[] = [];
    await using conn = await connect(settings, {
      env: { PGPASSFILE: '/virtual/pgpass' },
      system: denoSystem({
        openFile: async (path) => {
          opened.push(path);
          return {
            status: { kind: 'file', mode: 0o600 },
            readText: async () => line,
            close: async () => undefined,
          };
        },
      }),
      onWarning: () => undefined,
    });
    expect(conn.status).toBe('ok');
    expect(opened).toEqual(['/virtual/pgpass']);
  });
});
