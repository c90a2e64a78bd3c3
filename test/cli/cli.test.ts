import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { freePort, startCluster } from '../support/cluster.js';
import { BIN, cleanEnv, type Finished, runNode, startNode } from '../support/process.js';
import { TcpProxy } from '../support/proxy.js';
import { connectTest, managed, server } from '../support/server.js';

function runToEnd(args: string[], env = cleanEnv(), input?: string): Promise<Finished> {
  return runNode([BIN, ...args], { env, ...(input === undefined ? {} : { input }) });
}

/** Starts `pqnotify listen` and resolves with it and its backend pid once it listens. */
async function startListening(args: string[], env?: NodeJS.ProcessEnv) {
  const run = startNode([BIN, 'listen', ...args], env ? { env } : {});
  const [, pid] = await run.match('stderr', /as pid (\d+); Ctrl-C stops/);
  return { run, pid: Number(pid) };
}

describe('pqnotify notify', () => {
  it('sends a notification that a listener receives from its pid', async () => {
    await using conn = await connectTest();
    const channel = `cli notify ${process.pid}`;
    await conn.listen(channel);
    const result = await runToEnd(['notify', channel, 'héllo wörld', '--url', server.url]);
    expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
    await conn.waitReadable({ timeout: 10_000 });
    conn.consumeInput();
    const received = conn.notifies();
    expect(received).toMatchObject({ channel, payload: 'héllo wörld' });
    expect(received?.processId).not.toBe(conn.backendPid);
  });

  it('reads the payload from stdin with -, dropping one trailing newline', async () => {
    await using conn = await connectTest();
    const channel = `cli_stdin_${process.pid}`;
    await conn.listen(channel);
    const input = 'line one\nline two\n';
    const result = await runToEnd(['notify', channel, '-', '--url', server.url], cleanEnv(), input);
    expect(result.code, result.stderr).toBe(0);
    await conn.waitReadable({ timeout: 10_000 });
    conn.consumeInput();
    expect(conn.notifies()?.payload).toBe('line one\nline two');
  });

  it('takes the server from DATABASE_URL, and from PG* variables like psql', async () => {
    await using conn = await connectTest();
    const channel = `cli_env_${process.pid}`;
    await conn.listen(channel);
    const byUrl = await runToEnd(
      ['notify', channel, 'by url'],
      cleanEnv({ DATABASE_URL: server.url }),
    );
    expect(byUrl.code, byUrl.stderr).toBe(0);
    const pgVars = cleanEnv({
      PGHOST: server.host,
      PGPORT: String(server.port),
      PGUSER: server.user,
      PGPASSWORD: server.password,
      PGDATABASE: server.database,
    });
    const byVars = await runToEnd(['notify', channel, 'by PG vars'], pgVars);
    expect(byVars.code, byVars.stderr).toBe(0);
    const payloads: string[] = [];
    while (payloads.length < 2) {
      await conn.waitReadable({ timeout: 10_000 });
      conn.consumeInput();
      for (let n = conn.notifies(); n; n = conn.notifies()) payloads.push(n.payload);
    }
    expect(payloads).toEqual(['by url', 'by PG vars']);
  });
});

describe('pqnotify listen', () => {
  it('prints each notification on a line, with the sender pid, until SIGINT', async () => {
    const channel = `Cli "Listen" ${process.pid}`;
    const { run } = await startListening([channel, '--url', server.url]);
    await using notifier = await connectTest();
    await notifier.notify(channel, 'first');
    await notifier.notify(channel, 'two\nlines');
    const lines = await run.stdoutLines(2);
    expect(lines).toEqual([
      `${JSON.stringify(channel)} from pid ${notifier.backendPid}: first`,
      `${JSON.stringify(channel)} from pid ${notifier.backendPid}: two\\nlines`,
    ]);
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(0);
  });

  it('prints JSON lines with --json, for several channels', async () => {
    const channels = [`cli_json_a_${process.pid}`, `cli_json_b_${process.pid}`];
    const { run } = await startListening([...channels, '--json', '--url', server.url]);
    await using notifier = await connectTest();
    const before = Date.now();
    await notifier.notify(channels[1] as string, '✓ unicode');
    await notifier.notify(channels[0] as string, '');
    const lines = (await run.stdoutLines(2)).map((line) => JSON.parse(line));
    expect(lines.map(({ receivedAt, ...rest }) => rest)).toEqual([
      { channel: channels[1], payload: '✓ unicode', processId: notifier.backendPid },
      { channel: channels[0], payload: '', processId: notifier.backendPid },
    ]);
    for (const { receivedAt } of lines) {
      expect(Date.parse(receivedAt)).toBeGreaterThanOrEqual(before - 1000);
    }
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });

  it('keeps listening after its backend is terminated and reports the gap on stderr', async () => {
    const channel = `cli_gap_${process.pid}`;
    const { run, pid } = await startListening([channel, '--url', server.url]);
    await using admin = await connectTest();
    await admin.query('SELECT pg_terminate_backend($1::int)', [String(pid)]);
    await run.match('stderr', /gap: reconnected as pid \d+ after \d+ ms/);
    expect(run.stderr()).toContain('connection lost');
    await admin.notify(channel, 'after the gap');
    const [line] = await run.stdoutLines(1);
    expect(line).toBe(`"${channel}" from pid ${admin.backendPid}: after the gap`);
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(0);
  });
});

describe('pqnotify listen --wait', () => {
  it('waits for the server, saying once why attempts fail, then listens', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: server.port });
    try {
      proxy.refuse(true);
      const url = new URL(server.url);
      url.host = `127.0.0.1:${proxy.port}`;
      const channel = `cli_wait_${process.pid}`;
      const run = startNode([BIN, 'listen', channel, '--wait', '--url', url.toString()]);
      await run.match('stderr', /attempt 1 failed: .*; retrying with backoff/);
      while (proxy.accepted < 8) await new Promise((resolve) => setTimeout(resolve, 20));
      proxy.refuse(false);
      await run.match('stderr', /as pid (\d+); Ctrl-C stops/);
      // Each reason once (a refused connect can read as a reset or as an early close).
      const reasons = [...run.stderr().matchAll(/attempt \d+ failed: (.*); retrying/g)].map(
        (match) => match[1],
      );
      expect(reasons.length).toBeGreaterThanOrEqual(1);
      expect(new Set(reasons).size).toBe(reasons.length);
      expect(reasons.length).toBeLessThan(proxy.accepted - 1);
      run.child.kill('SIGINT');
      expect(await run.exit).toBe(0);
    } finally {
      await proxy.close();
    }
  });
});

describe('pqnotify errors and exit codes', () => {
  it.each([
    ['no command', [], 2, /Usage:/],
    ['an unknown command', ['shout'], 2, /unknown command "shout"/],
    [
      'an unknown option',
      ['listen', 'c', '--bogus'],
      2,
      /^pqnotify listen: unknown option --bogus; an argument that starts with "-" goes after "--" \(see --help\)\n$/,
    ],
    ['an option without its value', ['notify', 'c', '--url'], 2, /option --url needs a value/],
    ['a flag given a value', ['listen', 'c', '--json=yes'], 2, /option --json takes no value/],
    ['listen without a channel', ['listen'], 2, /at least one channel/],
    ['notify without a channel', ['notify'], 2, /needs a channel/],
    ['a malformed URL', ['notify', 'c', '--url', 'postgres://[::1/db'], 3, /no closing "]"/],
    ['an unknown keyword', ['listen', 'c', '--url', 'hots=x'], 3, /hots/],
    ['a 64-byte channel', ['notify', 'x'.repeat(64)], 6, /64 bytes in UTF-8; the limit is 63/],
    ['a 64-byte channel to listen', ['listen', 'é'.repeat(32)], 6, /64 bytes/],
    ['an 8000-byte payload', ['notify', 'c', 'p'.repeat(8000)], 6, /8000 bytes/],
  ])('%s exits with its code and a message', async (_name, args, code, message) => {
    const result = await runToEnd(args as string[]);
    expect(result.code, result.stderr).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('an unreachable server exits 4, for notify and listen', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
    for (const command of [
      ['notify', 'c'],
      ['listen', 'c'],
    ]) {
      const result = await runToEnd([...command, '--url', url]);
      expect(result.code, result.stderr).toBe(4);
      expect(result.stderr).toMatch(/ECONNREFUSED/);
    }
  });

  it.skipIf(!managed)('a wrong password exits 5 and never shows the password', async () => {
    const url = `postgres://pqn_scram:not-the-password@${server.host}:${server.port}/postgres`;
    for (const command of [
      ['notify', 'c'],
      ['listen', 'c'],
    ]) {
      const result = await runToEnd([...command, '--url', url]);
      expect(result.code, result.stderr).toBe(5);
      expect(result.stderr).toMatch(/password authentication failed/);
      expect(result.stderr).not.toContain('not-the-password');
    }
  });

  it('a missing database exits 7 and a missing role 5, not 4 (no usable server)', async () => {
    // A server that trusts every role, so that a missing role is reported as such.
    const cluster = await startCluster();
    try {
      for (const command of [
        ['notify', 'c'],
        ['listen', 'c'],
      ]) {
        const base = `127.0.0.1:${cluster.port}`;
        const noDatabase = await runToEnd([
          ...command,
          '--url',
          `postgres://postgres@${base}/nodb`,
        ]);
        expect(noDatabase.code, noDatabase.stderr).toBe(7);
        expect(noDatabase.stderr).toMatch(/database "nodb" does not exist \(SQLSTATE 3D000\)/);
        const noRole = await runToEnd([...command, '--url', `postgres://nobody@${base}/postgres`]);
        expect(noRole.code, noRole.stderr).toBe(5);
        expect(noRole.stderr).toMatch(/role "nobody" does not exist \(SQLSTATE 28000\)/);
      }
    } finally {
      await cluster.destroy();
    }
  });

  it('--version prints the version of the package and exits 0', async () => {
    const { version } = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      expect(await runToEnd([flag])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
  });

  it('--help of each command exits 0 and prints its usage', async () => {
    for (const command of ['listen', 'notify']) {
      const result = await runToEnd([command, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: pqnotify ${command}`);
    }
  });
});

describe('against the demo server (npm run demo -- --serve)', () => {
  it('listen and notify work with its DATABASE_URL, and Ctrl-C stops the server', async () => {
    const demo = startNode(['--import', 'tsx', 'examples/demo.ts', '--serve']);
    try {
      const [, url] = await demo.match('stdout', /export DATABASE_URL=(\S+)/);
      const env = cleanEnv({ DATABASE_URL: url as string });
      const { run } = await startListening(['orders', '--json'], env);
      const sent = await runToEnd(['notify', 'orders', 'from the CLI'], env);
      expect(sent.code, sent.stderr).toBe(0);
      const [line] = await run.stdoutLines(1);
      expect(JSON.parse(line as string)).toMatchObject({
        channel: 'orders',
        payload: 'from the CLI',
      });
      run.child.kill('SIGINT');
      expect(await run.exit).toBe(0);
    } finally {
      demo.child.kill('SIGINT');
    }
    const code = await demo.exit;
    const output = demo.stdout();
    expect(code, output).toBe(0);
    expect(output.trimEnd().endsWith('stopping the throwaway server')).toBe(true);
  });
});
