import { connect } from '../connection/connect.js';
import { dropSlot, listSlots, type SlotInfo } from '../notify/slots.js';
import {
  type CliIo,
  connectionSettings,
  ExitCode,
  parseCommandLine,
  UsageError,
  writeLine,
} from './common.js';
import { markdownTable } from './format.js';

const HELP = `Usage: pqnotify slots [--drop NAME] [--json] [--url URL]

Lists the replication slots of the server with the WAL each keeps from being recycled. A
slot keeps WAL until its consumer acknowledges it: drop slots nobody reads any more, or
set max_slot_wal_keep_size, or the disk fills up.

  --drop NAME  drop the slot NAME (its unread durable notifications are lost)
  --json       one JSON object per slot
  --url URL    the server (default: DATABASE_URL, then PG* variables, as psql)
  -h, --help   this text`;

/** `pqnotify slots`: list slots with their retained WAL, or drop one; see HELP. */
export async function slotsCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    drop: { type: 'string' },
    json: { type: 'boolean' },
    url: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    await writeLine(io.stdout, HELP);
    return ExitCode.ok;
  }
  if (positionals.length > 0) throw new UsageError('slots takes no arguments');
  const { conninfo, options } = connectionSettings(values.url, io);
  await using conn = await connect(conninfo, options);
  if (values.drop !== undefined) {
    await dropSlot(conn, values.drop);
    await writeLine(io.stderr, `pqnotify: dropped slot ${values.drop}`);
    return ExitCode.ok;
  }
  const slots = await listSlots(conn);
  if (values.json) {
    for (const slot of slots) await writeLine(io.stdout, JSON.stringify(slot));
    return ExitCode.ok;
  }
  if (slots.length === 0) {
    await writeLine(io.stdout, 'no replication slots');
    return ExitCode.ok;
  }
  await writeLine(
    io.stdout,
    markdownTable(
      ['slot', 'plugin', 'database', 'active', 'retained WAL', 'confirmed', 'WAL status'],
      slots.map(row),
    ),
  );
  return ExitCode.ok;
}

function row(slot: SlotInfo): string[] {
  return [
    slot.slotName + (slot.temporary ? ' (temporary)' : ''),
    slot.plugin ?? '-',
    slot.database ?? '-',
    slot.active ? `pid ${slot.activePid}` : 'no',
    slot.retainedBytes === null ? '-' : bytes(slot.retainedBytes),
    slot.confirmedFlushLsn ?? '-',
    slot.walStatus ?? '-',
  ];
}

function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
