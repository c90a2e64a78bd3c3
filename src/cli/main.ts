import packageJson from '../../package.json' with { type: 'json' };
import { redactMessage } from '../connection/redact.js';
import { benchCommand } from './bench.js';
import { type CliIo, describeFailure, ExitCode, writeLine } from './common.js';
import { listenCommand } from './listen.js';
import { notifyCommand } from './notify.js';

const USAGE = `pqnotify: PostgreSQL LISTEN/NOTIFY from the command line

Usage:
  pqnotify listen CHANNEL... [--json] [--url URL]   print notifications as they arrive
  pqnotify notify CHANNEL [PAYLOAD] [--url URL]     send one (PAYLOAD - reads stdin)
  pqnotify bench [--url URL] [options]              load test: K listeners, M notifiers
  pqnotify COMMAND --help                           options of a command
  pqnotify --version                                the version of pqnotify

The server: --url, else DATABASE_URL, else the PG* variables and libpq's defaults, as psql.
Exit codes: 0 ok, 1 other failure, 2 usage, 3 bad connection string, 4 server unreachable,
5 authentication failed or no such role, 6 channel or payload over PostgreSQL's limits,
7 no such database or no right to connect to it.`;

type Command = (args: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  bench: benchCommand,
  listen: listenCommand,
  notify: notifyCommand,
};

/**
 * Runs the `pqnotify` command line (arguments after the program name) and resolves with
 * the exit code; never throws. Writes only to `io`'s streams.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    await writeLine(name === undefined ? io.stderr : io.stdout, USAGE);
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (name === '--version' || name === '-V') {
    await writeLine(io.stdout, packageJson.version);
    return ExitCode.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    await writeLine(io.stderr, `pqnotify: unknown command "${name}" (see pqnotify --help)`);
    return ExitCode.usage;
  }
  try {
    return await command(args, io);
  } catch (error) {
    const { code, message } = describeFailure(error);
    // Messages never quote a password; this pass is the net under that rule.
    await writeLine(io.stderr, `pqnotify ${name}: ${redactMessage(message)}`);
    return code;
  }
}
