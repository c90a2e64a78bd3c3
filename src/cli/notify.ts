import { checkChannel, checkPayload } from '../connection/channels.js';
import { connect } from '../connection/connect.js';
import { durableNotifyStatement, notifyDurable } from '../notify/durable.js';
import {
  type CliIo,
  checkLimit,
  connectionSettings,
  ExitCode,
  parseCommandLine,
  readAll,
  UsageError,
  writeLine,
} from './common.js';

const HELP = `Usage: pqnotify notify CHANNEL [PAYLOAD] [--durable [--prefix P]] [--url URL]

Sends one notification (pg_notify(CHANNEL, PAYLOAD), committed at once). CHANNEL is taken
verbatim; PAYLOAD defaults to empty, and - reads it from stdin (one trailing newline
dropped). The payload must be shorter than 8000 bytes in UTF-8.

  --durable   a durable notification instead (pg_logical_emit_message, for pqnotify listen
              --durable); no 8000-byte limit; read back only with wal_level = logical
  --prefix P  the message prefix for --durable (default pqnotify:)
  --url URL   the server (default: DATABASE_URL, then PG* variables, as psql)
  -h, --help  this text`;

/** `pqnotify notify`: one NOTIFY, checked against the limits before connecting; see HELP. */
export async function notifyCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    url: { type: 'string' },
    durable: { type: 'boolean' },
    prefix: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    await writeLine(io.stdout, HELP);
    return ExitCode.ok;
  }
  const [channel, given, ...extra] = positionals;
  if (channel === undefined) throw new UsageError('notify needs a channel');
  if (extra.length > 0) throw new UsageError('notify takes one channel and one payload');
  const payload = given === '-' ? (await readAll(io.stdin)).replace(/\r?\n$/, '') : (given ?? '');
  if (values.durable) {
    const options = values.prefix === undefined ? {} : { prefix: values.prefix };
    checkLimit(() => durableNotifyStatement(channel, payload, options));
    const { conninfo, options: connectOptions } = connectionSettings(values.url, io);
    await using conn = await connect(conninfo, connectOptions);
    await notifyDurable(conn, channel, payload, options);
    return ExitCode.ok;
  }
  if (values.prefix !== undefined) throw new UsageError('--prefix goes with --durable');
  checkLimit(() => checkChannel(channel));
  checkLimit(() => checkPayload(payload));
  const { conninfo, options } = connectionSettings(values.url, io);
  await using conn = await connect(conninfo, options);
  await conn.notify(channel, payload);
  return ExitCode.ok;
}
