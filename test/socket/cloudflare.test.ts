import { describe, expect, it } from 'vitest';
import { workersDialer, workersRefusal } from '../../src/socket/cloudflare.js';
import type { DialOptions, TlsSettings } from '../../src/socket/transport.js';

/**
 * What the Workers transport refuses, checked in Node: the mapping from libpq's settings (as
 * src/connection/tls.ts turns them into TlsSettings) to what `cloudflare:sockets` can do. The
 * same refusals reach users through connect() in test/runtime/workerd.test.ts.
 */

const target = {
  kind: 'tcp',
  host: 'db.example.com',
  port: 5432,
  label: 'db.example.com:5432',
} as const;

/** verify-full against the platform's roots: what Workers does, so nothing is refused. */
const verifyFull: TlsSettings = {
  mode: 'verify-full',
  verify: 'full',
  host: 'db.example.com',
  servername: 'db.example.com',
  roots: 'system',
  client: undefined,
  crl: undefined,
  alpn: ['postgresql'],
  minVersion: 'TLSv1.2',
  maxVersion: undefined,
};

const pem = new TextEncoder().encode('-----BEGIN CERTIFICATE-----\n');

describe('workersRefusal', () => {
  it('accepts verify-full with the platform roots, and prefer and allow (verified all the same)', () => {
    expect(workersRefusal(target, 'starttls', verifyFull)).toBeUndefined();
    for (const mode of ['prefer', 'allow'] as const) {
      const settings: TlsSettings = { ...verifyFull, mode, verify: 'none', roots: undefined };
      expect(workersRefusal(target, 'starttls', settings)).toBeUndefined();
    }
    expect(workersRefusal(target, 'none')).toBeUndefined();
    expect(workersRefusal(target, 'starttls')).toBeUndefined();
  });

  it.each<[string, DialOptions['encryption'], Partial<TlsSettings>, RegExp]>([
    ['sslnegotiation=direct', 'direct', {}, /sslnegotiation=direct .* no ALPN/],
    [
      'sslmode=require without a root file',
      'starttls',
      { mode: 'require', verify: 'none', roots: undefined },
      /sslmode=require .* always verifies .* use sslmode=verify-full sslrootcert=system/,
    ],
    [
      'sslmode=verify-ca',
      'starttls',
      { mode: 'verify-ca', verify: 'chain' },
      /sslmode=verify-ca with a CA check only .* checks the host name too/,
    ],
    [
      'a root certificate file',
      'starttls',
      { roots: pem },
      /a root certificate file cannot be used .* use sslmode=verify-full sslrootcert=system/,
    ],
    [
      'a client certificate',
      'starttls',
      { client: { certificate: pem, key: pem, passphrase: undefined } },
      /client certificate \(sslcert\/sslkey\)/,
    ],
    ['sslcrl', 'starttls', { crl: pem }, /sslcrl cannot be honoured/],
    ['TLS 1.3 as the minimum', 'starttls', { minVersion: 'TLSv1.3' }, /TLSv1\.3/],
    [
      'TLS 1.2 as the maximum',
      'starttls',
      { maxVersion: 'TLSv1.2' },
      /ssl_max_protocol_version=TLSv1\.2/,
    ],
    ['sslsni=0', 'starttls', { servername: undefined }, /sslsni=0 .* always sends the host name/],
    [
      'verify-full of a host name at a hostaddr',
      'starttls',
      { host: 'other.example.com' },
      /cannot check host name "other\.example\.com" .* hostaddr db\.example\.com/,
    ],
  ])('refuses %s, saying why', (_name, encryption, change, message) => {
    const settings = encryption === 'direct' ? undefined : { ...verifyFull, ...change };
    expect(workersRefusal(target, encryption, settings)).toMatch(message);
  });

  it('sends no SNI to an IP address without calling it sslsni=0', () => {
    const ip = { ...target, host: '192.0.2.7' };
    const settings = { ...verifyFull, host: '192.0.2.7', servername: undefined };
    expect(workersRefusal(ip, 'starttls', settings)).toBeUndefined();
  });
});

describe('workersDialer', () => {
  const options: DialOptions = { timeoutMs: 0, keepAlive: true, keepAliveInitialDelayMs: 0 };
  const dial = workersDialer(() => {
    throw new Error('connect() must not be called for a refused target');
  });

  it('refuses a Unix-domain socket before connecting', async () => {
    const unix = { kind: 'unix', path: '/tmp/.s.PGSQL.5432', label: 'socket "/tmp"' } as const;
    await expect(dial(unix, options)).rejects.toMatchObject({
      name: 'DialError',
      reason: 'unsupported',
      message: expect.stringMatching(/cannot open Unix-domain sockets/),
    });
  });

  it('refuses direct TLS before connecting', async () => {
    await expect(dial(target, { ...options, encryption: 'direct' })).rejects.toMatchObject({
      reason: 'unsupported',
    });
  });

  it("turns connect()'s own failure into DialError 'refused'", async () => {
    await expect(dial(target, options)).rejects.toMatchObject({
      name: 'DialError',
      reason: 'refused',
      message: expect.stringMatching(
        /could not connect to db\.example\.com:5432: connect\(\) must/,
      ),
    });
  });
});
