import { type ParseArgsConfig, parseArgs } from 'node:util';
import { libpqVariables } from '../connection/conninfo.js';
import { Environment } from '../connection/environment.js';
import { ConnectionError, ServerError } from '../connection/errors.js';

/**
 * Exit codes of the `pqnotify` command, stable for scripts:
 * 0 success (also after Ctrl-C ends `listen`), 1 any other failure (a server error such
 * as a missing privilege), 2 bad command-line usage, 3 a malformed connection string or
 * settings, 4 no usable server (a name that does not resolve, refused, unreachable, timed
 * out, not PostgreSQL, TLS failed, lost), 5 authentication failed or the role does not exist,
 * 6 a channel name or payload over PostgreSQL's limits, 7 the server refused the database: it
 * does not exist (SQLSTATE 3D000) or the role may not connect to it (42501).
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  unreachable: 4,
  auth: 5,
  limit: 6,
  database: 7,
} as const;

/** SQLSTATEs of a refused session that name the database asked for, not the server. */
const databaseSqlStates = new Set(['3D000', '42501']);

/** One of the values of ExitCode. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Where a command reads and writes; process streams in the binary, buffers in tests. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
  /** The process's environment variables; read them through connectionVariables(). */
  readonly env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM: long-running commands stop cleanly and exit 0. */
  readonly signal: AbortSignal;
}

/** A failure a command has already put in words, with the exit code it means. */
export class CliError extends Error {
  readonly exitCode: ExitCodeValue;

  constructor(exitCode: ExitCodeValue, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** A mistake on the command line: printed with a hint to `--help`, exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(ExitCode.usage, `${message} (see --help)`);
    this.name = 'UsageError';
  }
}

/**
 * Runs one of pqnotify's argument checks (checkChannel, checkPayload) and turns its
 * RangeError or TypeError into a CliError with exit code 6.
 */
export function checkLimit(check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) {
      throw new CliError(ExitCode.limit, error.message);
    }
    throw error;
  }
}

/** Environment variables as connectionVariables() gives them: only those set and not empty. */
export type Variables = Readonly<Record<string, string>>;

/**
 * The environment variables a command connects with, read from `io.env` once: DATABASE_URL
 * and every one connect() reads. Read through the library's Environment, so a variable the
 * runtime refuses (Deno without --allow-env) counts as unset, said in one warning on stderr.
 * Give the result to connect() (or a Listener) as `env`, so it reads nothing more.
 */
function connectionVariables(io: CliIo): Variables {
  const environment = new Environment({ variables: io.env, warn: warnOn(io), otherwise: '' });
  return environment.variables(['DATABASE_URL', ...libpqVariables(process.platform)]);
}

/**
 * The conninfo a command connects with, as psql would pick it: `--url` first, then
 * DATABASE_URL, else an empty string, which connect() completes from PG* variables and
 * libpq's defaults.
 */
export function conninfoFrom(
  url: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return url ?? env.DATABASE_URL ?? '';
}

/** What a command connects with; see connectionSettings. */
export interface ConnectionSettings {
  /** The conninfo conninfoFrom picks. */
  conninfo: string;
  /** For connect(), a Listener, a durable stream or a bench: read `env`, warn on stderr. */
  options: { env: Variables; onWarning: (message: string) => void };
}

/**
 * What a command connects with: the conninfo conninfoFrom picks from `url` and the variables
 * connectionVariables reads, and options for connect(), a Listener, a durable stream or a
 * bench that read those variables (nothing more) and put warnings on stderr.
 */
export function connectionSettings(url: string | undefined, io: CliIo): ConnectionSettings {
  const env = connectionVariables(io);
  return { conninfo: conninfoFrom(url, env), options: { env, onWarning: warnOn(io) } };
}

/** True when neither `--url`, DATABASE_URL nor a PG* connection variable names a server. */
export function noServerConfigured(
  url: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  if (url !== undefined || env.DATABASE_URL) return false;
  return !['PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGSERVICE'].some(
    (name) => env[name],
  );
}

/** The exit code for an error a command could not handle, and the line to print for it. */
export function describeFailure(error: unknown): { code: ExitCodeValue; message: string } {
  if (error instanceof CliError) return { code: error.exitCode, message: error.message };
  if (error instanceof ConnectionError) {
    const code =
      error.code === 'CONNECTION_CONFIG'
        ? ExitCode.config
        : error.code === 'CONNECTION_AUTH'
          ? ExitCode.auth
          : error.code === 'CONNECTION_REJECTED' && databaseSqlStates.has(error.sqlState ?? '')
            ? ExitCode.database
            : error.code === 'LISTEN_LOST'
              ? ExitCode.failure
              : ExitCode.unreachable;
    return { code, message: error.message };
  }
  if (error instanceof ServerError) {
    return {
      code: error.sqlState === '22023' ? ExitCode.limit : ExitCode.failure,
      message: error.message,
    };
  }
  return {
    code: ExitCode.failure,
    message: error instanceof Error ? error.message : String(error),
  };
}

/** Writes one line; resolves once the stream took it (or at once when it did). */
export function writeLine(stream: NodeJS.WritableStream, line: string): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(`${line}\n`)) resolve();
    else stream.once('drain', resolve);
  });
}

/** connect()'s `onWarning` for a command: each warning as a `pqnotify:` line on stderr. */
export function warnOn(io: CliIo): (message: string) => void {
  return (message) => void writeLine(io.stderr, `pqnotify: ${message}`);
}

/** Reads a stream to its end as UTF-8 text. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Parses a command's arguments with node:util's parseArgs (strict, positionals allowed);
 * an unknown option or a missing value is a UsageError in words of its own.
 */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(usageMessage(error));
  }
}

/**
 * parseArgs's complaint, reworded: its unknown-option text ends in an unbalanced quote and
 * suggests quoting that the shell would remove.
 */
function usageMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  const unknown = /^Unknown option '([^']*)'/.exec(message);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
    return `unknown option ${unknown[1]}; an argument that starts with "-" goes after "--"`;
  }
  const missing = /^Option '([^' ]*)(?: <value>)?' argument missing/.exec(message);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && missing) {
    return `option ${missing[1]} needs a value`;
  }
  const extra = /^Option '([^' ]*)' does not take an argument/.exec(message);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && extra) {
    return `option ${extra[1]} takes no value`;
  }
  return message;
}
