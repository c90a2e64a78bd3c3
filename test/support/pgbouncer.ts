import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as dial } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { connect } from '../../src/index.js';
import { freePort } from './cluster.js';

const run = promisify(execFile);

/** Where Debian's pgbouncer package puts the binary. */
const BINARY = '/usr/sbin/pgbouncer';

/** PgBouncer's pool modes. */
export type PoolMode = 'session' | 'transaction' | 'statement';

/** Options of PgBouncer.start(). */
export interface PgBouncerOptions {
  /** Port of the PostgreSQL server on 127.0.0.1 that the pool `postgres` leads to. */
  serverPort: number;
  /** The pool mode at start; setPoolMode() changes it. */
  poolMode: PoolMode;
  /** Server connections per pool; default 4. */
  poolSize?: number;
  /** `server_reset_query`, run when a session-mode client leaves; default PgBouncer's (DISCARD ALL). */
  serverResetQuery?: string;
}

/**
 * The reason PgBouncer tests must skip (no binary at /usr/sbin/pgbouncer: `.ci/run` installs
 * Debian's `pgbouncer` package as root), or undefined when it can run.
 */
export async function pgbouncerMissing(): Promise<string | undefined> {
  try {
    await access(BINARY);
    return undefined;
  } catch {
    return `no ${BINARY}: install Debian's pgbouncer package (apt-get install pgbouncer) to run these tests`;
  }
}

/**
 * A PgBouncer in front of a test server, started from Debian's binary in the foreground on a
 * free loopback port, with trust authentication for `postgres`, one database `postgres` and an
 * admin console (database `pgbouncer`). As root it runs as the `postgres` OS user (PgBouncer
 * refuses root), like the clusters. setPoolMode() rewrites the configuration and RELOADs it
 * through the admin console; stop() ends the process.
 */
export class PgBouncer {
  readonly port: number;
  private readonly dir: string;
  private readonly child: ChildProcess;
  private readonly options: PgBouncerOptions;
  private readonly exited: Promise<unknown>;

  private constructor(dir: string, port: number, child: ChildProcess, options: PgBouncerOptions) {
    this.dir = dir;
    this.port = port;
    this.child = child;
    this.options = options;
    this.exited = once(child, 'exit');
  }

  /** Starts PgBouncer and resolves once its port accepts connections. */
  static async start(options: PgBouncerOptions): Promise<PgBouncer> {
    const dir = await mkdtemp(join(tmpdir(), 'pqnotify-pgbouncer-'));
    const owner = userInfo().uid === 0 ? await postgresUser() : undefined;
    const port = await freePort();
    await writeFile(join(dir, 'users.txt'), '"postgres" ""\n');
    await writeFile(join(dir, 'pgbouncer.ini'), config(dir, port, options));
    await writeFile(join(dir, 'pgbouncer.log'), '');
    if (owner) {
      for (const name of ['', 'users.txt', 'pgbouncer.ini', 'pgbouncer.log'])
        await chown(join(dir, name), owner.uid, owner.gid);
    }
    const child = spawn(BINARY, [join(dir, 'pgbouncer.ini')], {
      ...(owner ?? {}),
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const bouncer = new PgBouncer(dir, port, child, options);
    try {
      await Promise.race([
        waitForPort(port),
        bouncer.exited.then(() => {
          throw new Error(`pgbouncer exited: ${stderr}`);
        }),
      ]);
    } catch (error) {
      const log = await bouncer.log();
      await bouncer.stop();
      throw new Error(`could not start pgbouncer: ${String(error)}\n${log}`);
    }
    return bouncer;
  }

  /** A URL for `postgres` through the pooler (no TLS: this PgBouncer has none). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres?sslmode=disable`;
  }

  /** Switches every pool to `mode`: rewrites the configuration, then RELOAD on the admin console. */
  async setPoolMode(mode: PoolMode): Promise<void> {
    this.options.poolMode = mode;
    await writeFile(join(this.dir, 'pgbouncer.ini'), config(this.dir, this.port, this.options));
    await using admin = await connect(
      `postgres://postgres@127.0.0.1:${this.port}/pgbouncer?sslmode=disable`,
    );
    await admin.exec('RELOAD');
  }

  /** PgBouncer's log so far, for failure messages. */
  log(): Promise<string> {
    return readFile(join(this.dir, 'pgbouncer.log'), 'utf8').catch(() => '');
  }

  /** Ends the PgBouncer process (SIGINT: immediate shutdown) and deletes its directory. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGINT');
      await this.exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

function config(dir: string, port: number, options: PgBouncerOptions): string {
  const size = options.poolSize ?? 4;
  return [
    '[databases]',
    `postgres = host=127.0.0.1 port=${options.serverPort} dbname=postgres`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'users.txt')}`,
    'admin_users = postgres',
    `pool_mode = ${options.poolMode}`,
    `default_pool_size = ${size}`,
    'max_client_conn = 100',
    ...(options.serverResetQuery === undefined
      ? []
      : [`server_reset_query = ${options.serverResetQuery}`]),
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    '',
  ].join('\n');
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const uid = await run('id', ['-u', 'postgres']);
  const gid = await run('id', ['-g', 'postgres']);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Tries a TCP connection to `port` until one succeeds. */
async function waitForPort(port: number): Promise<void> {
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = dial(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await delay(10);
  }
}
