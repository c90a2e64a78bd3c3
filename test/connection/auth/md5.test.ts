import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { md5PasswordMessage } from '../../../src/connection/auth/md5.js';
import { ConnectionError } from '../../../src/connection/errors.js';

describe('md5PasswordMessage', () => {
  const salt = Uint8Array.of(0x01, 0x02, 0xfe, 0xff);

  it('salts the stored md5 secret of the role', () => {
    // pg_authid.rolpassword of role "postgres" with password "postgres" under md5.
    const stored = '3175bce1d3201d16594cebf9d7eb3f9d';
    const expected = `md5${createHash('md5').update(stored).update(salt).digest('hex')}`;
    expect(md5PasswordMessage('postgres', 'postgres', salt)).toBe(expected);
  });

  it('has the shape PostgreSQL expects and depends on user, password and salt', () => {
    const message = md5PasswordMessage('user', 'secret', salt);
    expect(message).toMatch(/^md5[0-9a-f]{32}$/);
    expect(md5PasswordMessage('user2', 'secret', salt)).not.toBe(message);
    expect(md5PasswordMessage('user', 'secret2', salt)).not.toBe(message);
    expect(md5PasswordMessage('user', 'secret', Uint8Array.of(1, 2, 3, 4))).not.toBe(message);
  });

  it('refuses a salt that is not 4 bytes', () => {
    expect(() => md5PasswordMessage('user', 'secret', Uint8Array.of(1, 2, 3))).toThrow(
      ConnectionError,
    );
    expect(() => md5PasswordMessage('user', 'secret', Uint8Array.of(1, 2, 3))).toThrow(/4 bytes/);
  });
});
