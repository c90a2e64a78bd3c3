import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { defaultSocketDir } from '../../src/connection/conninfo.js';
import { Environment } from '../../src/connection/environment.js';
import { lookupPassword, type PasswordTarget } from '../../src/connection/pgpass.js';

const dir = mkdtempSync(join(tmpdir(), 'pqnotify-pgpass-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes a password file with mode 0600 (or `mode`) and returns its path. */
function passfile(lines: string | string[], mode = 0o600): string {
  const path = join(dir, `pgpass-${files++}`);
  writeFileSync(path, Array.isArray(lines) ? `${lines.join('\n')}\n` : lines);
  chmodSync(path, mode);
  return path;
}

const target: PasswordTarget = { host: 'db.example.com', port: 5432, dbname: 'app', user: 'alice' };

/** Looks up `target` (with `changes`) and collects the warnings. */
async function lookup(
  file: string,
  changes: Partial<PasswordTarget> = {},
): Promise<{ password: string | undefined; warnings: string[] }> {
  const warnings: string[] = [];
  const environment = new Environment({ warn: (message) => warnings.push(message) });
  const password = await lookupPassword(file, { ...target, ...changes }, environment);
  return { password, warnings };
}

describe('lookupPassword', () => {
  it('finds the line for the host, port, database and user', async () => {
    const file = passfile([
      'other.example.com:5432:app:alice:wrong-host',
      'db.example.com:5433:app:alice:wrong-port',
      'db.example.com:5432:other:alice:wrong-db',
      'db.example.com:5432:app:bob:wrong-user',
      'db.example.com:5432:app:alice:right',
    ]);
    expect(await lookup(file)).toEqual({ password: 'right', warnings: [] });
  });

  it('takes the first matching line', async () => {
    const file = passfile(['*:*:*:alice:first', 'db.example.com:5432:app:alice:second']);
    expect((await lookup(file)).password).toBe('first');
  });

  it('matches * in any of the first four fields', async () => {
    expect((await lookup(passfile(['*:*:*:*:any']))).password).toBe('any');
    expect((await lookup(passfile(['db.example.com:*:app:*:some']))).password).toBe('some');
    expect((await lookup(passfile(['*:5433:*:*:no']))).password).toBeUndefined();
  });

  it('treats * as a wildcard only when it is the whole field', async () => {
    expect((await lookup(passfile(['db*:5432:app:alice:no']))).password).toBeUndefined();
    expect((await lookup(passfile(['\\*:5432:app:alice:star']), { host: '*' })).password).toBe(
      'star',
    );
    expect((await lookup(passfile(['\\*:5432:app:alice:no']))).password).toBeUndefined();
  });

  it('reads \\: and \\\\ in fields and in the password', async () => {
    const file = passfile([
      'db.example.com:5432:we\\:ird\\\\db:alice:p\\:a\\\\ss',
      'db.example.com:5432:app:al\\ice:escaped-letter',
    ]);
    expect((await lookup(file, { dbname: 'we:ird\\db' })).password).toBe('p:a\\ss');
    expect((await lookup(file)).password).toBe('escaped-letter');
  });

  it('ends the password at an unescaped colon and keeps a trailing backslash', async () => {
    expect((await lookup(passfile(['*:*:*:*:pass:extra:fields']))).password).toBe('pass');
    expect((await lookup(passfile(['*:*:*:*:pass\\']))).password).toBe('pass\\');
  });

  it('skips comments, blank lines and Windows line ends', async () => {
    const file = passfile(
      '# hostname:port:database:username:password\r\n\r\n#*:*:*:*:commented\r\n*:*:*:*:crlf\r\n',
    );
    expect((await lookup(file)).password).toBe('crlf');
  });

  it('needs all five fields', async () => {
    expect((await lookup(passfile(['db.example.com:5432:app:alice']))).password).toBeUndefined();
    expect((await lookup(passfile(['db.example.com:5432:app']))).password).toBeUndefined();
  });

  it('looks up an empty host and the default socket directory as localhost', async () => {
    const file = passfile(['localhost:5432:app:alice:local', '/srv/pg:5432:app:alice:by-path']);
    expect((await lookup(file, { host: '' })).password).toBe('local');
    expect((await lookup(file, { host: defaultSocketDir() })).password).toBe('local');
    expect((await lookup(file, { host: 'localhost' })).password).toBe('local');
    expect((await lookup(file, { host: '/srv/pg' })).password).toBe('by-path');
    expect((await lookup(file, { host: '127.0.0.1' })).password).toBeUndefined();
  });

  it('matches the port as a decimal number', async () => {
    const file = passfile(['db.example.com:6543:app:alice:port']);
    expect((await lookup(file, { port: 6543 })).password).toBe('port');
  });

  it('gives undefined for an empty password, as libpq has no password then', async () => {
    expect((await lookup(passfile(['*:*:*:*:', '*:*:*:*:later']))).password).toBeUndefined();
  });

  it('gives undefined without a database or user name', async () => {
    const file = passfile(['*:*:*:*:x']);
    expect((await lookup(file, { dbname: '' })).password).toBeUndefined();
    expect((await lookup(file, { user: '' })).password).toBeUndefined();
  });

  it('gives undefined for a missing file, silently', async () => {
    expect(await lookup(join(dir, 'does-not-exist'))).toEqual({
      password: undefined,
      warnings: [],
    });
  });

  it('ignores a directory, with a warning', async () => {
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    expect(await lookup(sub)).toEqual({
      password: undefined,
      warnings: [`password file "${sub}" is not a plain file`],
    });
  });

  it.skipIf(process.platform === 'win32')(
    'ignores a file the group or others may access, with libpq’s warning',
    async () => {
      for (const mode of [0o640, 0o604, 0o660, 0o610, 0o601, 0o644]) {
        const file = passfile(['*:*:*:*:secret'], mode);
        expect(await lookup(file)).toEqual({
          password: undefined,
          warnings: [
            `password file "${file}" has group or world access; permissions should be u=rw (0600) or less`,
          ],
        });
      }
    },
  );

  it.skipIf(process.platform === 'win32')('accepts 0600 and stricter', async () => {
    for (const mode of [0o600, 0o400]) {
      expect(await lookup(passfile(['*:*:*:*:secret'], mode))).toEqual({
        password: 'secret',
        warnings: [],
      });
    }
  });

  it('warns through process.emitWarning by default', async () => {
    const file = passfile(['*:*:*:*:x'], 0o644);
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      expect(await lookupPassword(file, target)).toBeUndefined();
      expect(emitWarning).toHaveBeenCalledWith(
        `password file "${file}" has group or world access; permissions should be u=rw (0600) or less`,
      );
    } finally {
      emitWarning.mockRestore();
    }
  });
});
