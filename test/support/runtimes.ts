import { join, resolve } from 'node:path';

/** The Bun and Deno of the devDependencies `bun` and `deno` (npm installs them per platform). */
export const BUN = resolve(join('node_modules', '.bin', 'bun'));
export const DENO = resolve(join('node_modules', '.bin', 'deno'));

/**
 * What Deno must allow pqnotify, each for a reason of its own: the network (TCP); the
 * environment (PG* variables and HOME, read at every connect); reading files (~/.pgpass,
 * sslrootcert and ~/.postgresql/ at every TLS connection, Unix sockets); the home directory
 * (`sys` homedir, for ~/.postgresql/ at every TLS connection). Deno also asks for writing to
 * connect to a Unix socket: add `--allow-write` (or `--allow-write=/the/socket/dir`) for those.
 */
export const DENO_PERMISSIONS = [
  '--allow-net',
  '--allow-env',
  '--allow-read',
  '--allow-sys=homedir',
] as const;

/** The environment for Bun and Deno in tests: `env` without Deno's check for a newer version. */
export function runtimeEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
}
