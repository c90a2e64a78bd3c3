import { checkChannel } from '../connection/channels.js';
import type { ConnectionError } from '../connection/errors.js';
import type { Notification } from '../connection/types.js';
import { Listener } from '../notify/listener.js';
import {
  type CliIo,
  checkLimit,
  connectionSettings,
  ExitCode,
  parseCommandLine,
  UsageError,
  writeLine,
} from './common.js';
import { durableListen } from './durable.js';

const HELP = `Usage: pqnotify listen CHANNEL... [--json] [--wait] [--url URL]
       pqnotify listen --durable --slot NAME [CHANNEL...] [--json] [--url URL]

LISTENs on each CHANNEL (taken verbatim: case, spaces and quotes are kept) and prints one
line per notification until Ctrl-C. Reconnects when the connection is lost, LISTENs again
and reports on stderr that notifications sent meanwhile may have been missed. Says on
stderr why reconnect attempts fail, once per distinct reason.

  --json      one JSON object per line: channel, payload, processId (the sender's backend
              pid) and receivedAt (ISO 8601); with --durable: channel, payload, lsn,
              index, xid and commitTime
  --durable   durable notifications (pqnotify notify --durable) from the replication slot
              --slot NAME, created if missing: nothing sent while this command is not
              running is lost; each one is acknowledged once printed, and the next run
              starts after it. Needs wal_level = logical and a role with REPLICATION.
              Without CHANNELs, every channel. Drop the slot when done (pqnotify slots)
  --slot NAME the replication slot for --durable
  --prefix P  the message prefix for --durable (default pqnotify:)
  --temporary with --durable: a slot that goes away with the connection
  --wait      wait for the server to come up (retrying with backoff) instead of exiting
              when the first connection fails; a wrong password still exits at once
  --url URL   the server (default: DATABASE_URL, then PG* variables, as psql)
  -h, --help  this text`;

/** `pqnotify listen`: prints notifications until the signal aborts; see HELP. */
export async function listenCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    json: { type: 'boolean' },
    wait: { type: 'boolean' },
    url: { type: 'string' },
    durable: { type: 'boolean' },
    slot: { type: 'string' },
    prefix: { type: 'string' },
    temporary: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    await writeLine(io.stdout, HELP);
    return ExitCode.ok;
  }
  if (values.durable) {
    return durableListen(
      {
        channels: positionals,
        slot: values.slot,
        url: values.url,
        json: values.json ?? false,
        prefix: values.prefix,
        temporary: values.temporary ?? false,
      },
      io,
    );
  }
  if (values.slot !== undefined || values.prefix !== undefined || values.temporary) {
    throw new UsageError('--slot, --prefix and --temporary go with --durable');
  }
  if (positionals.length === 0) throw new UsageError('listen needs at least one channel');
  for (const channel of positionals) checkLimit(() => checkChannel(channel));
  const format = values.json ? formatJson : formatText;

  const { conninfo, options } = connectionSettings(values.url, io);
  const listener = new Listener(conninfo, {
    ...options,
    retryInitialConnect: values.wait === true,
  });
  listener.on('reconnecting', reportAttempts(io));
  const stop = () => void listener.close();
  io.signal.addEventListener('abort', stop, { once: true });
  try {
    try {
      await listener.start();
    } catch (error) {
      if (io.signal.aborted) return ExitCode.ok;
      throw error;
    }
    listener.on('disconnected', (error) => {
      void writeLine(io.stderr, `pqnotify: connection lost (${error.message}); reconnecting`);
    });
    listener.on('notice', ({ fields }) => {
      void writeLine(io.stderr, `pqnotify: ${fields.severity ?? 'NOTICE'}: ${fields.message}`);
    });
    const stream = listener.stream({ signal: io.signal });
    for (const channel of positionals) await listener.listen(channel);
    await writeLine(
      io.stderr,
      `pqnotify: listening on ${positionals.map((c) => JSON.stringify(c)).join(', ')} ` +
        `as pid ${listener.processId}; Ctrl-C stops`,
    );
    for await (const item of stream) {
      if (item.type === 'gap') {
        await writeLine(
          io.stderr,
          `pqnotify: gap: reconnected as pid ${item.processId} after ${item.downtimeMs} ms ` +
            `(${item.reason}); notifications sent meanwhile may be missing`,
        );
      } else {
        await writeLine(io.stdout, format(item));
      }
    }
  } finally {
    io.signal.removeEventListener('abort', stop);
    await listener.close();
  }
  return ExitCode.ok;
}

/**
 * The `reconnecting` listener of the CLI: says why an attempt failed the first time each
 * reason comes up (a server that stays down for an hour is one line, not thousands); the
 * reasons seen are forgotten once a connection listens again.
 */
function reportAttempts(
  io: CliIo,
): (info: { attempt: number; delayMs: number; error: ConnectionError }) => void {
  const seen = new Set<string>();
  let previous = 0;
  return ({ attempt, delayMs, error }) => {
    if (attempt <= previous) seen.clear();
    previous = attempt;
    if (attempt === 1) return;
    const reason = `${error.code}: ${error.message}`;
    if (seen.has(reason)) return;
    seen.add(reason);
    void writeLine(
      io.stderr,
      `pqnotify: attempt ${attempt - 1} failed: ${error.message}; retrying with backoff ` +
        `(next in ${delayMs} ms; a reason already given is not repeated)`,
    );
  };
}

function formatText(notification: Notification): string {
  const payload = JSON.stringify(notification.payload).slice(1, -1);
  return `${JSON.stringify(notification.channel)} from pid ${notification.processId}: ${payload}`;
}

function formatJson(notification: Notification): string {
  return JSON.stringify({
    channel: notification.channel,
    payload: notification.payload,
    processId: notification.processId,
    receivedAt: new Date().toISOString(),
  });
}
