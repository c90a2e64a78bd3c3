import { type DurableNotification, openDurableStream } from '../notify/durable.js';
import { type CliIo, connectionSettings, ExitCode, UsageError, writeLine } from './common.js';

/** Options of `pqnotify listen --durable`, as parsed by listenCommand. */
export interface DurableListenArgs {
  channels: string[];
  slot: string | undefined;
  url: string | undefined;
  json: boolean;
  prefix: string | undefined;
  temporary: boolean;
}

/**
 * `pqnotify listen --durable --slot NAME [CHANNEL...]`: prints durable notifications (all
 * channels when none is named) until the signal aborts, acknowledging each once printed, so
 * a later run on the same slot starts after the last one printed.
 */
export async function durableListen(args: DurableListenArgs, io: CliIo): Promise<number> {
  if (args.slot === undefined) throw new UsageError('listen --durable needs --slot NAME');
  const { conninfo, options } = connectionSettings(args.url, io);
  const stream = await openDurableStream(conninfo, {
    ...options,
    slot: args.slot,
    createSlot: args.temporary ? 'temporary' : 'permanent',
    ...(args.channels.length > 0 ? { channels: args.channels } : {}),
    ...(args.prefix === undefined ? {} : { prefix: args.prefix }),
  });
  try {
    stream.on('disconnected', (error) => {
      void writeLine(io.stderr, `pqnotify: connection lost (${error.message}); reconnecting`);
    });
    await writeLine(
      io.stderr,
      `pqnotify: streaming durable notifications from slot ${args.slot} as pid ${stream.processId}; Ctrl-C stops`,
    );
    const format = args.json ? formatJson : formatText;
    for await (const item of stream.iterate({ signal: io.signal })) {
      await writeLine(io.stdout, format(item));
    }
  } finally {
    await stream.close();
  }
  return ExitCode.ok;
}

function formatText(item: DurableNotification): string {
  const payload = JSON.stringify(item.payload).slice(1, -1);
  return `${JSON.stringify(item.channel)} at ${item.lsn}#${item.index} (xid ${item.xid}): ${payload}`;
}

function formatJson(item: DurableNotification): string {
  return JSON.stringify({
    channel: item.channel,
    payload: item.payload,
    lsn: item.lsn,
    index: item.index,
    xid: item.xid,
    commitTime: item.commitTime.toISOString(),
  });
}
