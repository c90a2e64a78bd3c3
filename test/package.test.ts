import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as npm publishes it (dist/ as `npm test` builds it), installed from its tarball
 * into a project of its own, the way a user gets it.
 */

const run = promisify(execFile);
const root = resolve('.');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
  version: string;
};

/** What `npm pack --json` says of one package. */
interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

async function pack(args: string[]): Promise<PackResult> {
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', ...args], {
    cwd: root,
  });
  const [result] = JSON.parse(stdout) as PackResult[];
  if (!result) throw new Error(`npm pack printed no package: ${stdout}`);
  return result;
}

describe('the packed package', () => {
  it('stays within its size budget: 250 kB packed, 1 MB unpacked, no source maps', async () => {
    const packed = await pack(['--dry-run']);
    expect(packed.size).toBeLessThanOrEqual(250_000);
    expect(packed.unpackedSize).toBeLessThanOrEqual(1_000_000);
    const paths = packed.files.map((file) => file.path);
    expect(paths).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json']));
    for (const path of paths.filter((path) => path.startsWith('dist/'))) {
      expect(path).toMatch(/\.(js|cjs|d\.ts|d\.cts)$/);
    }
    // The CommonJS entry points only require the ES modules: no second copy of the code.
    const cjs = packed.files.filter((file) => file.path.endsWith('.cjs'));
    expect(cjs.map((file) => file.path).sort()).toEqual([
      'dist/bench/index.cjs',
      'dist/index.cjs',
      'dist/protocol/index.cjs',
    ]);
    for (const file of cjs) expect(file.size, file.path).toBeLessThan(200);
    expect(paths.filter((path) => !path.startsWith('dist/')).sort()).toEqual([
      'LICENSE',
      'README.md',
      'package.json',
    ]);
  });

  it('imports node built-ins with their node: prefix', async () => {
    const packed = await pack(['--dry-run']);
    for (const { path } of packed.files.filter((file) => /\.(c?js)$/.test(file.path))) {
      const code = await readFile(join(root, path), 'utf8');
      expect(code, path).not.toMatch(/(from |require\()["'](net|tls|crypto|dns\/promises|fs)["']/);
    }
  });
});

describe('the package installed from its tarball', () => {
  let work: string;
  let project: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'pqnotify-package-'));
    const { filename } = await pack(['--pack-destination', work]);
    project = join(work, 'consumer');
    await mkdir(project);
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    await run(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(work, filename)],
      { cwd: project },
    );
  }, 120_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('imports as ESM and as CJS, with one class per error across the subpaths', async () => {
    const checks = (load: string) => `${load}
const checks = {
  protocolError: root.ProtocolError === protocol.ProtocolError,
  pgClientError: root.PgClientError === protocol.PgClientError,
  benchError: Object.getPrototypeOf(bench.NotifyBenchError) === root.PgClientError,
  instance: new protocol.ProtocolError('x', 0) instanceof root.PgClientError,
  rootWithoutBench: !('runNotifyBench' in root),
  connect: typeof root.connect,
  decoder: typeof protocol.Decoder,
  runNotifyBench: typeof bench.runNotifyBench,
};
console.log(JSON.stringify(checks));`;
    await writeFile(
      join(project, 'esm.mjs'),
      checks(`import * as root from 'pqnotify';
import * as protocol from 'pqnotify/protocol';
import * as bench from 'pqnotify/bench';`),
    );
    await writeFile(
      join(project, 'cjs.cjs'),
      checks(`const root = require('pqnotify');
const protocol = require('pqnotify/protocol');
const bench = require('pqnotify/bench');`),
    );
    for (const file of ['esm.mjs', 'cjs.cjs']) {
      const { stdout } = await run(process.execPath, [file], { cwd: project });
      expect(JSON.parse(stdout), file).toEqual({
        protocolError: true,
        pgClientError: true,
        benchError: true,
        instance: true,
        rootWithoutBench: true,
        connect: 'function',
        decoder: 'function',
        runNotifyBench: 'function',
      });
    }
  });

  it('gives require() and import the same module, with named exports and no warning', async () => {
    await writeFile(
      join(project, 'dual.cjs'),
      `const required = require('pqnotify');
const { connect, ProtocolError } = require('pqnotify');
const protocol = require('pqnotify/protocol');
const bench = require('pqnotify/bench');
(async () => {
  const imported = await import('pqnotify');
  const checks = {
    protocolError: ProtocolError === imported.ProtocolError,
    pgClientError: required.PgClientError === imported.PgClientError,
    connect: connect === imported.connect,
    protocol: protocol.Decoder === (await import('pqnotify/protocol')).Decoder,
    bench: bench.runNotifyBench === (await import('pqnotify/bench')).runNotifyBench,
    instance: new protocol.ProtocolError('x', 0) instanceof imported.PgClientError,
  };
  console.log(JSON.stringify(checks));
})();`,
    );
    const { stdout, stderr } = await run(process.execPath, ['dual.cjs'], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({
      protocolError: true,
      pgClientError: true,
      connect: true,
      protocol: true,
      bench: true,
      instance: true,
    });
    expect(stderr).not.toMatch(/Warning/);
  });

  // The declarations themselves (skipLibCheck off) are checked once, under nodenext: that
  // also checks @types/node, which takes most of the time.
  it.each([
    ['nodenext', 'nodenext', 'nodenext', false],
    ['node16', 'node16', 'node16', true],
    ['bundler', 'esnext', 'bundler', true],
    ['node10', 'commonjs', 'node10', true],
  ])(
    'type-checks a consumer under %s resolution with strict settings',
    { timeout: 90_000 },
    async (name, module, moduleResolution, skipLibCheck) => {
      const commonJs = module === 'nodenext' || module === 'node16';
      const dir = join(project, name);
      await mkdir(dir, { recursive: true });
      await writeFile(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'es2022',
            module,
            moduleResolution,
            strict: true,
            exactOptionalPropertyTypes: true,
            noUncheckedIndexedAccess: true,
            skipLibCheck,
            noEmit: true,
            types: ['node'],
            typeRoots: [join(root, 'node_modules', '@types')],
          },
          files: ['consumer.ts', ...(commonJs ? ['consumer.cts'] : [])],
        }),
      );
      await writeFile(
        join(dir, 'consumer.ts'),
        `import {
  type ConnectOptions,
  type Connection,
  connect,
  createListener,
  ProtocolError as RootProtocolError,
  type SslMode,
} from 'pqnotify';
import { type NotifyBenchResult, runNotifyBench } from 'pqnotify/bench';
import { Decoder, ProtocolError } from 'pqnotify/protocol';

const mode: SslMode = 'verify-full';
const options: ConnectOptions = { host: 'localhost', sslmode: mode, targetSessionAttrs: 'standby' };
// @ts-expect-error: not an sslmode
const typo: ConnectOptions = { sslmode: 'requre' };
const sameClass: typeof RootProtocolError = ProtocolError;

export async function main(): Promise<NotifyBenchResult> {
  const conn: Connection = await connect(options);
  await conn.close();
  const listener = await createListener(options);
  await listener.close();
  new Decoder().push(new Uint8Array(0));
  return runNotifyBench({ conninfo: options, count: 1 });
}
export { sameClass, typo };
`,
      );
      // The require() side, where the resolution has one (the "require" condition's .d.cts).
      await writeFile(
        join(dir, 'consumer.cts'),
        `import pqnotify = require('pqnotify');
import protocol = require('pqnotify/protocol');
import bench = require('pqnotify/bench');

const sameClass: typeof pqnotify.ProtocolError = protocol.ProtocolError;
const options: pqnotify.ConnectOptions = { channelBinding: 'require' };
export = { sameClass, options, run: bench.runNotifyBench };
`,
      );
      const result = await run(process.execPath, [tsc, '-p', dir]).then(
        () => '',
        (error: { stdout?: string; stderr?: string }) => `${error.stdout}${error.stderr}`,
      );
      expect(result).toBe('');
    },
  );

  it('runs npx pqnotify --version', async () => {
    const { stdout } = await run('npx', ['--offline', '--no-install', 'pqnotify', '--version'], {
      cwd: project,
    });
    expect(stdout).toBe(`${version}\n`);
  });
});
