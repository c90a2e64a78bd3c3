import { join, resolve } from 'node:path';

/**
 * The Bun and Deno of the devDependencies `bun` and `deno` (npm installs them per platform).
 * Deno's executable itself: node_modules/.bin/deno is a Node script that runs it as a child
 * and dies of a signal sent to it, leaving Deno running.
 */
export const BUN = resolve(join('node_modules', '.bin', 'bun'));
export const DENO = resolve(
  join('node_modules', 'deno', process.platform === 'win32' ? 'deno.exe' : 'deno'),
);

/**
 * The permissions under which pqnotify on Deno does all it does on Node: the network (TCP);
 * the environment (the PG* variables and HOME, which count as unset without it); reading
 * files (~/.pgpass, ~/.postgresql/ and the TLS files the settings name, Unix sockets); the
 * home directory (`sys` homedir, when HOME is not read). Each one withheld is said in a
 * warning or a typed error (the README's Deno notes, deno-permissions.test.ts). Deno also asks
 * for writing to connect to a Unix socket: add `--allow-write` (or
 * `--allow-write=/the/socket/dir`) for those.
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
