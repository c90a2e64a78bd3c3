import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, startProcess } from '../support/process.js';
import { BUN, DENO, DENO_PERMISSIONS, runtimeEnv } from '../support/runtimes.js';
import { server } from '../support/server.js';

/**
 * The runtime suite (suite.mjs: the built package, dist/, and its CLI) on Node, Bun and Deno at
 * once, against the test run's server; prints the checks side by side and fails when any check
 * fails on any runtime. Bun and Deno are the devDependencies `bun` and `deno` (npm ships them
 * as platform packages). Needs dist/: `npm test` builds it, a lone run needs `npm run build`.
 */

const SUITE = 'test/runtime/suite.mjs';

/**
 * The runtimes compared: the command that runs the suite on each, and the one that runs the
 * CLI. On Deno the CLI gets exactly what pqnotify needs (DENO_PERMISSIONS); the suite also
 * writing (for the Unix socket) and running (the CLI).
 */
const runtimes = [
  { name: 'node', command: [process.execPath], cli: [process.execPath] },
  { name: 'bun', command: [BUN], cli: [BUN] },
  {
    name: 'deno',
    command: [DENO, 'run', ...DENO_PERMISSIONS, '--allow-write', '--allow-run'],
    cli: [DENO, 'run', ...DENO_PERMISSIONS],
  },
] as const;

type RuntimeName = (typeof runtimes)[number]['name'];

/** One line of the suite's output. */
interface CheckResult {
  check: string;
  status: 'pass' | 'fail' | 'skip';
  ms: number;
  detail: string;
}

/** What one runtime's run of the suite gave. */
interface SuiteRun {
  code: number | null;
  results: CheckResult[];
  stderr: string;
}

/** The suite's argument: the server, and what it needs to start the CLI on this runtime. */
function suiteConfig(runtime: (typeof runtimes)[number]): string {
  const managed = server.managed
    ? {
        caCert: server.certs?.caCert,
        socketDir: server.cluster?.socketDir,
        scram: { user: 'pqn_scram', password: server.roles?.pqn_scram },
        directTls: (server.cluster?.major ?? 0) >= 17 ? true : undefined,
      }
    : {};
  return JSON.stringify({
    runtime: runtime.name,
    url: server.url,
    cli: runtime.cli,
    ...managed,
  });
}

async function runSuite(runtime: (typeof runtimes)[number]): Promise<SuiteRun> {
  const [command, ...args] = runtime.command;
  if (!existsSync(command))
    throw new Error(`${command} is missing: npm install (the devDependencies bun and deno)`);
  const run = startProcess(command, [...args, SUITE, suiteConfig(runtime)], {
    env: runtimeEnv(cleanEnv()),
  });
  const code = await run.exit;
  const results = run
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as CheckResult);
  return { code, results, stderr: run.stderr() };
}

/** The checks as rows, the runtimes as columns: `pass 12 ms`, `FAIL`, `skip`. */
function table(runs: Map<RuntimeName, SuiteRun>): string {
  const names = [...new Set([...runs.values()].flatMap((run) => run.results.map((r) => r.check)))];
  const cell = (name: RuntimeName, check: string) => {
    const result = runs.get(name)?.results.find((r) => r.check === check);
    if (!result) return 'missing';
    return result.status === 'pass' ? `pass ${result.ms} ms` : result.status.toUpperCase();
  };
  const rows = [
    ['check', ...runtimes.map((r) => r.name)],
    ...names.map((check) => [check, ...runtimes.map((r) => cell(r.name, check))]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((text, i) => text.padEnd(widths[i]!)).join(' | ')).join('\n');
}

describe('the runtime suite on Node, Bun and Deno', () => {
  const runs = new Map<RuntimeName, SuiteRun>();

  beforeAll(async () => {
    const done = await Promise.all(runtimes.map(runSuite));
    for (const [i, runtime] of runtimes.entries()) runs.set(runtime.name, done[i]!);
    const against = server.cluster ? `PostgreSQL ${server.cluster.major}` : server.host;
    console.log(`runtime suite (${SUITE}) against ${against}:\n${table(runs)}`);
  }, 240_000);

  it('runs the same list of checks on each runtime', () => {
    const lists = runtimes.map((runtime) => runs.get(runtime.name)!.results.map((r) => r.check));
    expect(lists[0]!.length).toBeGreaterThanOrEqual(12);
    for (const [i, runtime] of runtimes.entries()) {
      expect(lists[i], `${runtime.name}: ${runs.get(runtime.name)?.stderr}`).toEqual(lists[0]);
    }
  });

  it.each(runtimes.map((runtime) => runtime.name))('passes every check on %s', (name) => {
    const run = runs.get(name)!;
    const failures = run.results
      .filter((result) => result.status === 'fail')
      .map((result) => `${result.check}: ${result.detail}`);
    expect(failures, run.stderr).toEqual([]);
    expect(run.code, run.stderr).toBe(0);
  });
});
