import { createHash } from 'node:crypto';
import { ConnectionError } from '../errors.js';

function md5Hex(...parts: Uint8Array[]): string {
  const hash = createHash('md5');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/**
 * The answer to AuthenticationMD5Password: 'md5' followed by the hex MD5 of (the hex MD5 of
 * password then user name, in UTF-8) then the 4-byte salt, as PostgreSQL's pg_md5_encrypt
 * composes it. The caller sends it in a PasswordMessage (with the terminating NUL). Throws a
 * ConnectionError (CONNECTION_AUTH) when the salt is not 4 bytes. Does not block; `salt` is
 * only read. Keep the result out of logs: it answers this salt's challenge.
 */
export function md5PasswordMessage(user: string, password: string, salt: Uint8Array): string {
  if (salt.length !== 4) {
    throw new ConnectionError(
      'CONNECTION_AUTH',
      `MD5 authentication request has a ${salt.length}-byte salt; it must be 4 bytes`,
    );
  }
  const inner = md5Hex(Buffer.from(password, 'utf8'), Buffer.from(user, 'utf8'));
  return `md5${md5Hex(Buffer.from(inner, 'latin1'), salt)}`;
}
