import { spawn } from 'node:child_process';
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

/** Runs Node with `args` to its end, with `input` on stdin (none by default). */
export async function runNode(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<Finished> {
  const child = spawn(process.execPath, args, {
    env: options.env ?? cleanEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(options.input);
  const [code] = await once(child, 'close');
  return { code: code as number | null, stdout, stderr };
}
