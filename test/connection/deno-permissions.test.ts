/**
 * pqnotify under Deno with permissions withheld, as users run it: the built package (dist/,
 * `npm run build`) imported by test/support/deno-connect.mjs under `deno run` with
 * --allow-net and only some of --allow-env, --allow-read and --allow-sys, against the test
 * server; and its CLI (dist/cli.js) without --allow-env. The logic behind it is tested
 * without Deno in environment.test.ts. Skipped when Deno is not installed (the devDependency
 * `deno`).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ConnectOptions, RuntimeOptions } from '../../src/index.js';
import { BIN, cleanEnv, startProcess } from '../support/process.js';
import { DENO, DENO_PERMISSIONS, runtimeEnv } from '../support/runtimes.js';
import { connectTest, server, superuserNoPassword } from '../support/server.js';

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

/** `pqnotify ARGS` under Deno with every permission pqnotify needs but --allow-env. */
function cliWithoutEnv(args: string[]) {
  const permissions = DENO_PERMISSIONS.filter((permission) => permission !== '--allow-env');
  return startProcess(DENO, ['run', '--no-prompt', ...permissions, BIN, ...args], {
    env: runtimeEnv(cleanEnv()),
  });
}

/** The one warning the CLI gives when it may read no environment variable. */
const unreadVariables =
  "pqnotify: environment variables could not be read and count as unset (38: DATABASE_URL, PGSERVICE, PGUSER, PGPASSWORD, ...): reading them needs Deno's --allow-env";

describe.skipIf(!existsSync(DENO))('the CLI under Deno without --allow-env', () => {
  it('listen and notify with --url work, and warn once each, across a reconnect', async () => {
    const channel = `deno_cli_${process.pid}`;
    const listen = cliWithoutEnv(['listen', channel, '--url', server.url]);
    try {
      const [, pid] = await listen.match('stderr', /listening on .* as pid (\d+)/);
      const notify = cliWithoutEnv(['notify', channel, 'from Deno', '--url', server.url]);
      expect(await notify.exit, notify.stderr()).toBe(0);
      expect(notify.stderr()).toBe(`${unreadVariables}\n`);
      expect((await listen.stdoutLines(1))[0]).toMatch(/: from Deno$/);

      await using admin = await connectTest();
      await admin.query('SELECT pg_terminate_backend($1::int)', [String(pid)]);
      await listen.match('stderr', /gap: reconnected as pid \d+/);
      await admin.notify(channel, 'after the gap');
      expect((await listen.stdoutLines(2))[1]).toMatch(/: after the gap$/);
      listen.child.kill('SIGINT');
      expect(await listen.exit, listen.stderr()).toBe(0);
      const warnings = listen
        .stderr()
        .split('\n')
        .filter((line) => line.includes('--allow-env'));
      expect(warnings).toEqual([unreadVariables]);
    } finally {
      listen.child.kill('SIGKILL');
    }
  });

  it('without --url, DATABASE_URL and PG* count as unset and libpq defaults apply', async () => {
    const notify = cliWithoutEnv(['notify', 'deno_cli_default', 'x']);
    expect(await notify.exit, notify.stderr()).toBe(3);
    expect(notify.stderr()).toBe(
      `${unreadVariables}\npqnotify notify: could not determine the operating system user name: reading it needs Deno's --allow-sys; set user or PGUSER\n`,
    );
  });
});
