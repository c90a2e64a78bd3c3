/**
 * pqnotify under Deno with permissions withheld, as users run it: the built package (dist/,
 * `npm run build`) imported by test/support/deno-connect.mjs under `deno run` with
 * --allow-net and only some of --allow-env, --allow-read and --allow-sys, against the test
 * server. The logic behind it is tested without Deno in environment.test.ts. Skipped when
 * Deno is not installed (node_modules/.bin/deno, from devDependencies).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ConnectOptions, RuntimeOptions } from '../../src/index.js';
import { cleanEnv } from '../support/process.js';
import { DENO, runtimeEnv } from '../support/runtimes.js';
import { server, superuserNoPassword } from '../support/server.js';

const script = resolve('test/support/deno-connect.mjs');

interface Outcome {
  connected: boolean;
  tls: boolean;
  error?: { name: string; code?: string; message: string };
  warnings: string[];
}

/** Runs the script under Deno with `permissions` only; never prompts. */
async function underDeno(
  permissions: string[],
  settings: ConnectOptions,
  options: Pick<RuntimeOptions, 'env'> = {},
): Promise<Outcome> {
  const { stdout } = await promisify(execFile)(
    DENO,
    [
      'run',
      '--no-prompt',
      ...permissions,
      script,
      JSON.stringify(settings),
      JSON.stringify(options),
    ],
    { env: runtimeEnv(cleanEnv()) },
  );
  return JSON.parse(stdout) as Outcome;
}

const tcp = superuserNoPassword;
const home = process.env.HOME ?? '';

describe.skipIf(!existsSync(DENO))('Deno with permissions withheld', () => {
  it('without --allow-env, explicit settings connect, and the unread PG* variables are said', async () => {
    const outcome = await underDeno(['--allow-net'], { ...tcp, password: server.password });
    expect(outcome.connected).toBe(true);
    expect(outcome.warnings).toEqual([
      expect.stringMatching(
        /^environment variables could not be read and count as unset \(37: PGSERVICE, .*needs Deno's --allow-env \(or pass env: \{\} to connect\(\) to read none\)$/,
      ),
    ]);
  });

  it('with env: {}, nothing is read from the environment and nothing is said', async () => {
    const outcome = await underDeno(
      ['--allow-net'],
      { ...tcp, password: server.password },
      { env: {} },
    );
    expect(outcome).toEqual({ connected: true, tls: false, warnings: [] });
  });

  it('without --allow-read or --allow-sys, sslmode=prefer still negotiates TLS', async () => {
    const outcome = await underDeno(['--allow-net', '--allow-env'], {
      ...tcp,
      password: server.password,
      sslmode: 'prefer',
    });
    expect(outcome).toMatchObject({ connected: true, tls: true });
    expect(outcome.warnings).toEqual([
      `could not check whether "${home}/.postgresql/root.crt" exists, so it and any other file pqnotify looks for count as absent: checking needs Deno's --allow-read`,
    ]);
  });

  it('without --allow-env, --allow-sys=homedir finds the home directory', async () => {
    const outcome = await underDeno(['--allow-net', '--allow-read', '--allow-sys=homedir'], {
      ...tcp,
      password: server.password,
      sslmode: 'prefer',
    });
    expect(outcome).toMatchObject({ connected: true, tls: true });
    expect(outcome.warnings).toEqual([
      expect.stringMatching(/^environment variables could not be read and count as unset/),
    ]);
  });

  it('without --allow-read, a skipped ~/.pgpass is said before the missing password', async () => {
    const outcome = await underDeno(['--allow-net', '--allow-env'], tcp);
    expect(outcome.error).toMatchObject({
      name: 'ConnectionError',
      code: 'CONNECTION_AUTH',
      message: 'the server requested a password, but none was supplied',
    });
    expect(outcome.warnings).toContain(
      `password file "${home}/.pgpass" was not read: reading it needs Deno's --allow-read`,
    );
  });

  it('without --allow-sys and no user, a CONNECTION_CONFIG error names the permission', async () => {
    const { user: _user, ...noUser } = tcp;
    const outcome = await underDeno(['--allow-net'], noUser, { env: {} });
    expect(outcome.error).toEqual({
      name: 'ConnectionError',
      code: 'CONNECTION_CONFIG',
      message:
        "could not determine the operating system user name: reading it needs Deno's --allow-sys; set user or PGUSER",
    });
  });
});
