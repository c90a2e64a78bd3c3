/**
 * The password file (~/.pgpass or PGPASSFILE), read with libpq's rules
 * (PostgreSQL docs, libpq-pgpass.html).
 */
import { open } from 'node:fs/promises';
import { defaultSocketDir } from './conninfo.js';

/** The connection a password is wanted for. `host` is the host as HostTarget.host gives it. */
export interface PasswordTarget {
  host: string;
  port: number;
  dbname: string;
  user: string;
}

/**
 * Looks up the password for `target` in the password file `file`, as libpq does:
 *
 * - each line is `hostname:port:database:username:password`; `*` alone matches anything in
 *   the first four fields; `\:` and `\\` stand for `:` and `\`; a line starting with `#`
 *   is a comment; the first matching line wins;
 * - an empty host, or the default Unix socket directory (see defaultSocketDir), is looked
 *   up as `localhost`; any other socket directory is looked up by its path;
 * - a missing or unreadable file gives undefined, silently;
 * - on Unix, a file that is not a regular file, or that the group or others may access, is
 *   ignored with a warning, as libpq ignores it.
 *
 * Returns undefined when nothing matches, or when the matching line has an empty password
 * (libpq then has no password either). Reads the whole file once; never throws.
 */
export async function lookupPassword(
  file: string,
  target: PasswordTarget,
  warn: (message: string) => void = (message) => process.emitWarning(message),
): Promise<string | undefined> {
  if (target.dbname === '' || target.user === '') return undefined;
  const content = await readPasswordFile(file, warn);
  if (content === undefined) return undefined;

  const host = target.host === '' || target.host === defaultSocketDir() ? 'localhost' : target.host;
  const wanted = [host, String(target.port), target.dbname, target.user];
  for (const rawLine of content.split('\n')) {
    if (rawLine.startsWith('#')) continue;
    const line = rawLine.replace(/[\r\n]+$/, '');
    if (line === '') continue;
    let at: number | undefined = 0;
    for (const field of wanted) {
      at = matchField(line, at, field);
      if (at === undefined) break;
    }
    if (at !== undefined) {
      const password = unescapePassword(line, at);
      return password === '' ? undefined : password;
    }
  }
  return undefined;
}

/** The file's text, or undefined (with a warning when libpq would warn). */
async function readPasswordFile(
  file: string,
  warn: (message: string) => void,
): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      warn(`password file "${file}" is not a plain file`);
      return undefined;
    }
    if (process.platform !== 'win32' && (stats.mode & 0o077) !== 0) {
      warn(
        `password file "${file}" has group or world access; permissions should be u=rw (0600) or less`,
      );
      return undefined;
    }
    return await handle.readFile('utf8');
  } catch {
    return undefined;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Matches the field of `line` that starts at `start` against `wanted`, the way libpq's
 * pwdfMatchesString does. Returns where the next field starts, or undefined when the field
 * does not match (or the line ends before the field's ":").
 */
function matchField(line: string, start: number, wanted: string): number | undefined {
  if (line[start] === '*' && line[start + 1] === ':') return start + 2;
  let i = start;
  let j = 0;
  while (i < line.length) {
    let escaped = false;
    if (line[i] === '\\') {
      i++;
      escaped = true;
    }
    if (!escaped && line[i] === ':' && j === wanted.length) return i + 1;
    if (j === wanted.length || i >= line.length || line[i] !== wanted[j]) return undefined;
    i++;
    j++;
  }
  return undefined;
}

/** The password field from `start`: up to the next unescaped ":", backslashes removed. */
function unescapePassword(line: string, start: number): string {
  let out = '';
  for (let i = start; i < line.length && line[i] !== ':'; i++) {
    if (line[i] === '\\' && i + 1 < line.length) i++;
    out += line[i];
  }
  return out;
}
