import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/** The built binary (npm test builds it first; run `npm run build` before a lone vitest run). */
export const BIN = 'dist/cli.js';

/**
 * This process's environment without the connection variables (PG*, DATABASE_URL) of the
 * machine running the tests, plus `extra`.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith('PG') || name === 'DATABASE_URL') delete env[name];
  }
  return { ...env, ...extra };
}

/** What a finished child process printed, and how it ended. */
export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running child process and what it has printed so far. */
export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first match of `pattern` in that output, waiting for it to appear; rejects if the process ends first. */
  match: (stream: 'stdout' | 'stderr', pattern: RegExp) => Promise<RegExpExecArray>;
  /** Resolves once stdout has `count` whole lines, with all of them. */
  stdoutLines: (count: number) => Promise<string[]>;
  /** The exit code once the process has ended and its output is read. */
  exit: Promise<number | null>;
}

/** Starts Node with `args`, with `input` on stdin (none by default), collecting its output. */
export function startNode(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Running {
  return startProcess(process.execPath, args, options);
}

/** Starts `command` with `args`, with `input` on stdin (none by default), collecting its output. */
export function startProcess(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Running {
  const child = spawn(command, args, {
    env: options.env ?? cleanEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  const waiters = new Set<() => void>();
  const changed = () => {
    for (const waiter of waiters) waiter();
  };
  child.stdout.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
    changed();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
    changed();
  });
  const exit = once(child, 'close').then(([code]) => code as number | null);
  child.stdin.end(options.input);
  const until = <T>(check: () => T | undefined): Promise<T> =>
    new Promise((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value === undefined) return;
        waiters.delete(attempt);
        resolve(value);
      };
      waiters.add(attempt);
      void exit.then(() => {
        if (!waiters.delete(attempt)) return;
        reject(
          new Error(
            `exited before the expected output\nstdout: ${output.stdout}\nstderr: ${output.stderr}`,
          ),
        );
      });
      attempt();
    });
  return {
    child,
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    match: (stream, pattern) => until(() => pattern.exec(output[stream]) ?? undefined),
    stdoutLines: (count) =>
      until(() => {
        const lines = output.stdout.split('\n').slice(0, -1);
        return lines.length >= count ? lines : undefined;
      }),
    exit,
  };
}

/** Runs Node with `args` to its end, with `input` on stdin (none by default). */
export async function runNode(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<Finished> {
  const running = startNode(args, options);
  const code = await running.exit;
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}
