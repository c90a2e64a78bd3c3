// The runtime suite: the same checks of the BUILT package (dist/, as npm publishes it) on
// whichever runtime runs this file: Node, Bun or Deno. test/runtime/runtimes.test.ts runs it
// on all three against the test run's server and compares them; by hand:
//
//   node test/runtime/suite.mjs '{"runtime":"node","url":"postgres://...","cli":["node"]}'
//   bun test/runtime/suite.mjs '...'
//   deno run --allow-net --allow-env --allow-read --allow-sys=homedir --allow-write --allow-run \
//     test/runtime/suite.mjs '...'
//
// The one argument is a JSON object: `runtime` (a name for channels and messages), `url` (a
// superuser URL over TCP), `cli` (the command that runs a script on this runtime, to which
// dist/cli.js and its arguments are appended), and, when the server is the test run's own,
// `caCert` (the CA that signed the server's certificate for localhost), `socketDir` (its Unix
// socket directory), `scram` ({ user, password } of a role that logs in with SCRAM) and
// `directTls` (true when the server takes sslnegotiation=direct: PostgreSQL 17 and later). Checks
// that need one of those report `skip` without it. Each check prints one JSON line on stdout:
// { check, status: 'pass' | 'fail' | 'skip', ms, detail }. The exit code is 1 when any failed.

import { spawn } from 'node:child_process';
import { connect, createListener } from '../../dist/index.js';

const config = JSON.parse(process.argv[2] ?? '{}');
const CHECK_DEADLINE_MS = 20_000;
const CLI = 'dist/cli.js';
let channelCount = 0;

/** A channel name of its own for each use, so runtimes running at once never cross. */
function channel(name) {
  channelCount += 1;
  return `rt_${config.runtime}_${process.pid}_${name}_${channelCount}`;
}

/** Rejects with `what` unless `condition` holds. */
function expect(condition, what) {
  if (!condition) throw new Error(what);
}

/** Runs `body` with a connection from `connect(config.url, options)`, closing it afterwards. */
async function withConnection(options, body) {
  const conn = await connect(config.url, options);
  try {
    return await body(conn);
  } finally {
    await conn.close();
  }
}

async function isEncrypted(conn) {
  const { rows } = await conn.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  return rows[0]?.[0] === 't';
}

/** Resolves once the backend `pid` sleeps in pg_sleep (polled through `observer`). */
async function untilSleeping(observer, pid) {
  for (;;) {
    const { rows } = await observer.query(
      "SELECT 1 FROM pg_stat_activity WHERE pid = $1::int AND wait_event = 'PgSleep'",
      [String(pid)],
    );
    if (rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Starts dist/cli.js on this runtime; `output()` has what it printed so far. */
function startCli(args) {
  const [command, ...prefix] = config.cli;
  const child = spawn(command, [...prefix, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  const waiters = new Set();
  const changed = () => {
    for (const waiter of waiters) waiter();
  };
  child.stdout.on('data', (chunk) => {
    output.stdout += chunk.toString();
    changed();
  });
  child.stderr.on('data', (chunk) => {
    output.stderr += chunk.toString();
    changed();
  });
  const exit = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  /** Resolves with the first match of `pattern` in `stream`; rejects if the CLI exits first. */
  const match = (stream, pattern) =>
    new Promise((resolve, reject) => {
      const attempt = () => {
        const found = pattern.exec(output[stream]);
        if (!found) return;
        waiters.delete(attempt);
        resolve(found);
      };
      waiters.add(attempt);
      exit.then(
        (code) => {
          if (waiters.delete(attempt))
            reject(new Error(`the CLI exited (${code}) first: ${output.stderr.trim()}`));
        },
        (error) => {
          if (waiters.delete(attempt)) reject(error);
        },
      );
      attempt();
    });
  return { child, output, exit, match };
}

const checks = [
  {
    name: 'connect over plaintext (sslmode=disable)',
    run: () =>
      withConnection({ sslmode: 'disable' }, async (conn) => {
        expect(!conn.tls, 'the connection says it is encrypted');
        expect(!(await isEncrypted(conn)), 'the server sees TLS');
      }),
  },
  {
    name: 'TLS sslmode=prefer (the default) negotiates TLS',
    run: () =>
      withConnection({}, async (conn) => {
        expect(conn.tls, 'the connection fell back to plaintext');
        expect(await isEncrypted(conn), 'the server sees no TLS');
      }),
  },
  {
    name: 'TLS sslmode=require',
    run: () =>
      withConnection({ sslmode: 'require' }, async (conn) => {
        expect(conn.tls, 'the connection says it is not encrypted');
        expect(await isEncrypted(conn), 'the server sees no TLS');
      }),
  },
  {
    name: 'TLS sslmode=verify-full with the test CA (and refused with the system roots)',
    needs: ['caCert'],
    run: async () => {
      await withConnection(
        { host: 'localhost', sslmode: 'verify-full', sslrootcert: config.caCert },
        async (conn) => expect(await isEncrypted(conn), 'the server sees no TLS'),
      );
      const refused = await connect(config.url, {
        host: 'localhost',
        sslmode: 'verify-full',
        sslrootcert: 'system',
      }).then(
        async (conn) => {
          await conn.close();
          return undefined;
        },
        (error) => error,
      );
      expect(refused?.code === 'CONNECTION_TLS', `not refused as CONNECTION_TLS: ${refused}`);
    },
  },
  {
    name: 'TLS sslnegotiation=direct: a burst past the read-ahead limit arrives whole',
    needs: ['directTls'],
    run: () =>
      withConnection({ sslmode: 'require', sslnegotiation: 'direct' }, (listener) =>
        withConnection({}, async (notifier) => {
          expect(listener.tls, 'the connection says it is not encrypted');
          const name = channel('direct');
          await listener.listen(name);
          // 300 KB in one transaction, several times the read-ahead limit.
          await notifier.query(
            "SELECT pg_notify($1, repeat('x', 1000) || i) FROM generate_series(1, 300) i",
            [name],
          );
          const received = [];
          while (received.length < 300) {
            await listener.waitReadable();
            listener.consumeInput();
            for (let n = listener.notifies(); n; n = listener.notifies()) received.push(n.payload);
          }
          const expected = Array.from({ length: 300 }, (_, i) => `${'x'.repeat(1000)}${i + 1}`);
          expect(received.join() === expected.join(), 'the burst arrived changed or out of order');
        }),
      ),
  },
  {
    name: 'SCRAM-SHA-256-PLUS (channel_binding=require)',
    needs: ['scram'],
    run: () =>
      withConnection(
        {
          user: config.scram?.user,
          password: config.scram?.password,
          sslmode: 'require',
          channelBinding: 'require',
        },
        async (conn) => {
          const { rows } = await conn.query('SELECT current_user');
          expect(rows[0]?.[0] === config.scram?.user, `logged in as ${rows[0]?.[0]}`);
        },
      ),
  },
  {
    name: 'Unix socket',
    needs: ['socketDir'],
    run: () =>
      withConnection({ host: config.socketDir }, async (conn) => {
        expect(conn.address.includes(config.socketDir), `connected to ${conn.address}`);
        const { rows } = await conn.query('SELECT inet_server_addr() IS NULL');
        expect(rows[0]?.[0] === 't', 'the server sees a TCP connection');
      }),
  },
  {
    name: 'LISTEN/NOTIFY: waitReadable(), consumeInput(), notifies()',
    run: () =>
      withConnection({}, (listener) =>
        withConnection({}, async (notifier) => {
          const name = channel('loop');
          await listener.listen(name);
          for (const payload of ['one', 'two', 'three']) await notifier.notify(name, payload);
          const received = [];
          while (received.length < 3) {
            await listener.waitReadable();
            listener.consumeInput();
            for (let n = listener.notifies(); n; n = listener.notifies()) received.push(n);
          }
          expect(
            received.map((n) => n.payload).join() === 'one,two,three',
            `received ${JSON.stringify(received)}`,
          );
          expect(
            received.every((n) => n.channel === name && n.processId === notifier.backendPid),
            `wrong channel or sender: ${JSON.stringify(received)}`,
          );
        }),
      ),
  },
  {
    name: 'LISTEN/NOTIFY: the async iterator',
    run: () =>
      withConnection({}, (listener) =>
        withConnection({}, async (notifier) => {
          const name = channel('iterator');
          await listener.listen(name);
          await notifier.notify(name, 'first');
          await notifier.notify(name, 'second');
          const received = [];
          for await (const n of listener.notifications()) {
            received.push(n.payload);
            if (received.length === 2) break;
          }
          expect(received.join() === 'first,second', `received ${received}`);
        }),
      ),
  },
  {
    name: 'Listener: a gap after pg_terminate_backend, then notifications again',
    run: async () => {
      const listener = await createListener(config.url, { reconnectInitialDelayMs: 10 });
      try {
        await withConnection({}, async (other) => {
          const name = channel('listener');
          await listener.listen(name);
          const items = listener.stream();
          await other.notify(name, 'before');
          const before = await items.next();
          expect(before.value?.payload === 'before', `first item ${JSON.stringify(before.value)}`);
          const killed = listener.processId;
          await other.query('SELECT pg_terminate_backend($1::int)', [String(killed)]);
          const gap = (await items.next()).value;
          expect(gap?.type === 'gap', `after the kill: ${JSON.stringify(gap)}`);
          expect(gap.previousProcessId === killed, `gap from pid ${gap.previousProcessId}`);
          expect(gap.processId !== killed, 'the gap names the old backend as the new one');
          await other.notify(name, 'after');
          const after = (await items.next()).value;
          expect(after?.payload === 'after', `after the gap: ${JSON.stringify(after)}`);
          await items.return();
        });
      } finally {
        await listener.close();
      }
    },
  },
  {
    name: 'cancel()',
    run: () =>
      withConnection({}, (conn) =>
        withConnection({}, async (observer) => {
          const sleeping = conn.exec('SELECT pg_sleep(60)').then(
            () => undefined,
            (error) => error,
          );
          await untilSleeping(observer, conn.backendPid);
          await conn.cancel();
          const error = await sleeping;
          expect(error?.sqlState === '57014', `the sleep ended with ${error}`);
        }),
      ),
  },
  {
    name: 'CLI: pqnotify listen --json, stopped by SIGINT',
    run: () =>
      withConnection({}, async (notifier) => {
        const name = channel('cli_listen');
        const cli = startCli(['listen', name, '--json', '--url', config.url]);
        try {
          await cli.match('stderr', /listening on/);
          await notifier.notify(name, 'to the CLI');
          const [line] = await cli.match('stdout', /^.*\n/);
          const printed = JSON.parse(line);
          expect(
            printed.channel === name &&
              printed.payload === 'to the CLI' &&
              printed.processId === notifier.backendPid,
            `printed ${line}`,
          );
          // Signalled by pid: Deno's child_process reports (null, 'SIGINT') as the outcome of
          // a child it kill()ed itself, even when the child handled the signal and exited 0.
          process.kill(cli.child.pid, 'SIGINT');
          const code = await cli.exit;
          expect(code === 0, `exit code ${code}: ${cli.output.stderr.trim()}`);
        } finally {
          cli.child.kill('SIGKILL');
        }
      }),
  },
  {
    name: 'CLI: pqnotify notify',
    run: () =>
      withConnection({}, async (listener) => {
        const name = channel('cli_notify');
        await listener.listen(name);
        const cli = startCli(['notify', name, 'from the CLI', '--url', config.url]);
        const code = await cli.exit;
        expect(code === 0, `exit code ${code}: ${cli.output.stderr.trim()}`);
        const received = await listener.notifications().next();
        expect(received.value?.payload === 'from the CLI', JSON.stringify(received.value));
      }),
  },
];

/** Runs `run`, failing it when it takes longer than CHECK_DEADLINE_MS (a hang is a failure). */
function withDeadline(run) {
  let timer;
  const deadline = new Promise((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no result after ${CHECK_DEADLINE_MS} ms`)),
      CHECK_DEADLINE_MS,
    );
  });
  return Promise.race([run(), deadline]).finally(() => clearTimeout(timer));
}

let failed = false;
for (const check of checks) {
  const missing = (check.needs ?? []).filter((key) => config[key] === undefined);
  const started = performance.now();
  let status = 'pass';
  let detail = '';
  if (missing.length > 0) {
    status = 'skip';
    detail = `needs ${missing.join(', ')} (the test run's own server)`;
  } else {
    try {
      await withDeadline(check.run);
    } catch (error) {
      status = 'fail';
      detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      failed = true;
    }
  }
  const ms = Math.round(performance.now() - started);
  console.log(JSON.stringify({ check: check.name, status, ms, detail }));
}
process.exit(failed ? 1 : 0);
