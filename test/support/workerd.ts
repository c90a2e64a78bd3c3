import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { build } from 'esbuild';

/** workerd as npm installs it (a devDependency); tests skip when it is missing. */
export const workerdBinary = resolve('node_modules', '.bin', 'workerd');

/**
 * Bundles `entry` as `wrangler` would for a Worker: every import of `pqnotify` resolves through
 * the package's exports with the `workerd` condition to the built dist/ (so `npm run build`
 * first), `cloudflare:*` and `node:*` stay imports of the runtime. Returns the ES module's text.
 */
export async function bundleWorker(entry: string, dir: string): Promise<string> {
  // The package as a dependency of the Worker's project, the way a user installs it.
  const modules = join(dir, 'node_modules');
  await mkdir(modules, { recursive: true });
  await symlink(resolve('.'), join(modules, 'pqnotify'), 'dir');
  const result = await build({
    entryPoints: [resolve(entry)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker'],
    nodePaths: [modules],
    external: ['cloudflare:*', 'node:*'],
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild wrote nothing for ${entry}`);
  return output.text;
}

/** A running workerd serving one Worker over HTTP on 127.0.0.1. */
export interface Workerd {
  /** The Worker's base URL. */
  url: string;
  /** What workerd printed so far (its log). */
  output: () => string;
  /** Ends workerd and removes its files. */
  stop: () => Promise<void>;
}

/** What the Worker's platform offers it. */
export interface WorkerdOptions {
  /** The Worker, one bundled ES module. */
  script: string;
  /**
   * PEM certificates the platform trusts besides the public roots (workerd's network
   * `trustedCertificates`): what an operator configures, never the Worker.
   */
  trusted?: string[];
  /** Text bindings of the Worker's `env` (what wrangler's `vars` and secrets become). */
  bindings?: Record<string, string>;
}

/**
 * Starts workerd with a generated config: the Worker with nodejs_compat, whose outbound TCP
 * (the `internet` network service, which connect() of `cloudflare:sockets` goes through) may
 * reach private and local addresses, with TLS trusting the public roots plus `trusted`. Its
 * HTTP socket listens on a port of the system's choosing, read from workerd's control fd.
 */
export async function startWorkerd(options: WorkerdOptions): Promise<Workerd> {
  const dir = await mkdtemp(join(tmpdir(), 'pqnotify-workerd-'));
  await writeFile(join(dir, 'worker.js'), options.script);
  const trusted = options.trusted ?? [];
  for (const [index, pem] of trusted.entries()) await writeFile(join(dir, `ca${index}.pem`), pem);
  const certificates = trusted.map((_, index) => `embed "ca${index}.pem"`).join(', ');
  const bindings = Object.entries(options.bindings ?? {})
    .map(([name, text]) => `(name = ${JSON.stringify(name)}, text = ${JSON.stringify(text)})`)
    .join(', ');
  await writeFile(
    join(dir, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "internet", network = (
      allow = ["private", "local"],
      tlsOptions = (trustBrowserCas = true, trustedCertificates = [${certificates}]),
    )),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2026-11-01",
  compatibilityFlags = ["nodejs_compat"],
  bindings = [${bindings}],
);
`,
  );
  const child = spawn(workerdBinary, ['serve', 'config.capnp', '--control-fd=3'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  // A test run that ends (or times out) without stop() leaves no workerd behind.
  const orphaned = () => child.kill('SIGKILL');
  process.once('exit', orphaned);
  const stop = async () => {
    process.off('exit', orphaned);
    await ended(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await listeningPort(child, () => output);
    return { url: `http://127.0.0.1:${port}`, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Resolves with the port of the socket "http" once workerd reports it on its control fd. */
function listeningPort(child: ChildProcess, output: () => string): Promise<number> {
  const control = child.stdio[3] as Readable;
  return new Promise((resolvePort, reject) => {
    let text = '';
    control.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        const message = JSON.parse(line) as { event?: string; socket?: string; port?: number };
        if (message.event === 'listen' && message.socket === 'http' && message.port)
          resolvePort(message.port);
      }
    });
    child.once('exit', (code) => reject(new Error(`workerd exited (${code}): ${output()}`)));
  });
}

/** Ends `child` (SIGTERM) and waits for it. */
async function ended(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exit = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exit;
}

/** True when workerd is installed (node_modules/.bin/workerd). */
export const haveWorkerd = existsSync(workerdBinary);
