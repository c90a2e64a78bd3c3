import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HEADER = '/usr/include/postgresql/libpq-fe.h';

/** A C program built against the machine's libpq, or why it could not be built. */
export type LibpqProgram = { binary: string; dir: string } | { skip: string };

/**
 * Compiles `test/support/<name>.c` against libpq into a temporary directory (remove `dir`
 * when done). Returns a reason to skip when there is no C compiler, no libpq headers, or the
 * build fails, so that comparisons with libpq run only where libpq is.
 */
export function buildLibpqProgram(name: string): LibpqProgram {
  if (!existsSync(HEADER)) return { skip: `no libpq headers (${HEADER})` };
  if (spawnSync('cc', ['--version']).status !== 0) return { skip: 'no C compiler (cc)' };
  const source = fileURLToPath(new URL(`./${name}.c`, import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), `pqnotify-${name}-`));
  const binary = join(dir, name);
  const build = spawnSync('cc', ['-I/usr/include/postgresql', source, '-lpq', '-o', binary], {
    encoding: 'utf8',
  });
  if (build.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `could not build against libpq: ${build.stderr.trim().split('\n')[0]}` };
  }
  return { binary, dir };
}
