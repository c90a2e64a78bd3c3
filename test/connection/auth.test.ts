import { describe, expect, it } from 'vitest';
import { type ConnectOptions, connect } from '../../src/index.js';
import { connectFailure, managed } from '../support/server.js';

/** TCP options for one of the managed server's roles. */
function asRole(
  role: keyof NonNullable<NonNullable<typeof managed>['roles']>,
  extra: ConnectOptions = {},
) {
  const server = managed!;
  return {
    host: 'localhost',
    port: server.port,
    dbname: 'postgres',
    user: role,
    password: server.roles?.[role] || undefined,
    passfile: '/nonexistent',
    ...extra,
  } satisfies ConnectOptions;
}

describe.skipIf(!managed)('authentication methods against the real server', () => {
  it.each([
    ['pqn_trust', 'disable'],
    ['pqn_password', 'disable'],
    ['pqn_md5', 'disable'],
    ['pqn_scram', 'disable'],
    ['pqn_scram', 'require'],
  ] as const)('%s connects (sslmode=%s)', async (role, sslmode) => {
    await using conn = await connect(asRole(role, { sslmode }));
    expect(conn.tls).toBe(sslmode === 'require');
    expect((await conn.exec('SELECT current_user')).rows).toEqual([[role]]);
  });

  it.each(['pqn_password', 'pqn_md5', 'pqn_scram'] as const)(
    'a wrong password for %s fails with SQLSTATE 28P01 and never shows the password',
    async (role) => {
      const error = await connectFailure(asRole(role, { password: 'wrong-secret-value' }));
      expect(error.code).toBe('CONNECTION_AUTH');
      expect(error.sqlState).toBe('28P01');
      expect(error.message).not.toContain('wrong-secret-value');
      expect(String(error.cause)).not.toContain('wrong-secret-value');
    },
  );

  it('a password can come from an async function', async () => {
    const server = managed!;
    await using conn = await connect(
      asRole('pqn_scram', { password: async () => server.roles?.pqn_scram ?? '' }),
    );
    expect(conn.status).toBe('ok');
  });

  it('no password at all is a clear error', async () => {
    const error = await connectFailure(asRole('pqn_scram', { password: undefined }));
    expect(error.code).toBe('CONNECTION_AUTH');
    expect(error.message).toMatch(/password/);
  });

  it('require_auth refuses a downgrade to cleartext or md5', async () => {
    const cleartext = await connectFailure(
      asRole('pqn_password', { requireAuth: 'scram-sha-256' }),
    );
    expect(cleartext.code).toBe('CONNECTION_AUTH');
    expect(cleartext.message).toMatch(/cleartext/);
    const md5 = await connectFailure(
      asRole('pqn_md5', { requireAuth: 'scram-sha-256', sslmode: 'disable' }),
    );
    expect(md5.message).toMatch(/md5/);
    const none = await connectFailure(asRole('pqn_trust', { requireAuth: 'scram-sha-256' }));
    expect(none.message).toMatch(/did not complete authentication/);
    const negated = await connectFailure(asRole('pqn_password', { requireAuth: '!password' }));
    expect(negated.code).toBe('CONNECTION_AUTH');
  });

  it('require_auth accepts the methods it lists', async () => {
    await using trust = await connect(asRole('pqn_trust', { requireAuth: 'none' }));
    await using md5 = await connect(asRole('pqn_md5', { requireAuth: 'md5,scram-sha-256' }));
    await using scram = await connect(asRole('pqn_scram', { requireAuth: '!password,!md5' }));
    expect([trust.status, md5.status, scram.status]).toEqual(['ok', 'ok', 'ok']);
  });

  it('channel_binding=require succeeds over TLS with SCRAM-SHA-256-PLUS', async () => {
    await using conn = await connect(
      asRole('pqn_scram', { sslmode: 'require', channelBinding: 'require' }),
    );
    expect(conn.tls).toBe(true);
  });

  it('channel_binding=require fails without TLS, and with a method that cannot bind', async () => {
    const plain = await connectFailure(
      asRole('pqn_scram', { sslmode: 'disable', channelBinding: 'require' }),
    );
    expect(plain.code).toBe('CONNECTION_AUTH');
    const md5 = await connectFailure(
      asRole('pqn_md5', { sslmode: 'require', channelBinding: 'require' }),
    );
    expect(md5.code).toBe('CONNECTION_AUTH');
  });

  it('a client certificate authenticates the cert role', async () => {
    const certs = managed!.certs!;
    await using conn = await connect(
      asRole('pqn_cert', {
        sslmode: 'verify-full',
        sslrootcert: certs.caCert,
        sslcert: certs.clientCert,
        sslkey: certs.clientKey,
      }),
    );
    expect((await conn.exec('SELECT current_user')).rows).toEqual([['pqn_cert']]);
  });
});
