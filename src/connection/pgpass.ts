/**
 * The password file (~/.pgpass or PGPASSFILE), read with libpq's rules
 * (PostgreSQL docs, libpq-pgpass.html).
 */
import { defaultSocketDir } from './conninfo.js';
import { Environment } from './environment.js';

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
 * - a missing or unreadable file gives undefined, silently, except that a file the runtime
 *   may not read (Deno without --allow-read) is named in a warning;
 * - on Unix, a file that is not a regular file, or that the group or others may access, is
 *   ignored with a warning, as libpq ignores it.
 *
 * The file is read through `environment` (see environment.ts), which also takes the warnings.
 * Returns undefined when nothing matches, or when the matching line has an empty password
 * (libpq then has no password either). Reads the whole file once; never throws.
 */
export async function lookupPassword(
  file: string,
  target: PasswordTarget,
  environment: Environment = new Environment(),
): Promise<string | undefined> {
  if (target.dbname === '' || target.user === '') return undefined;
  const content = await readPasswordFile(file, environment);
  if (content === undefined) return undefined;

  const host =
    target.host === '' ||
    (target.host.startsWith('/') && target.host === defaultSocketDir(environment))
      ? 'localhost'
      : target.host;
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
  environment: Environment,
): Promise<string | undefined> {
  const handle = await environment.openOptionalFile(file, 'password file');
  if (handle === undefined) return undefined;
  try {
    if (handle.status.kind !== 'file') {
      environment.warn(`password file "${file}" is not a plain file`);
      return undefined;
    }
    if (environment.system.platform !== 'win32' && (handle.status.mode & 0o077) !== 0) {
      environment.warn(
        `password file "${file}" has group or world access; permissions should be u=rw (0600) or less`,
      );
      return undefined;
    }
    return await handle.readText();
  } catch {
    return undefined;
  } finally {
    await handle.close();
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
