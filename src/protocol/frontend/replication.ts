import { replicationMessageCodes } from '../backend/replication.js';
import { frontendMessageCodes } from '../codes.js';
import { Frame } from '../frame.js';
import { readInt64, readUint64 } from '../lsn.js';
import type { Writer } from '../writer.js';

/**
 * What the client sends inside CopyData on a replication stream (protocol-replication.html,
 * "START_REPLICATION"): the standby status update 'r'. Encoder and decoder side by side; the
 * decoder serves the mock walsender and tests. Nothing here blocks.
 */

/** 'r': the client's progress. Each LSN is the last WAL byte + 1 handled in that way. */
export interface StandbyStatusUpdate {
  type: 'StandbyStatusUpdate';
  /** Received and written. */
  written: bigint;
  /** Flushed: for a logical slot, what the server may forget (the slot's confirmed_flush_lsn). */
  flushed: bigint;
  /** Applied. */
  applied: bigint;
  /** The client's clock, microseconds since 2000-01-01 UTC. */
  clientTime: bigint;
  /** True to ask the server for a keepalive at once. */
  replyRequested: boolean;
}

/**
 * Writes a standby status update as a whole CopyData message. Throws RangeError (the writer
 * keeps only whole messages) for an LSN or time out of Int64 range.
 */
export function writeStandbyStatusUpdate(
  w: Writer,
  update: Omit<StandbyStatusUpdate, 'type'>,
): void {
  w.beginMessage(frontendMessageCodes.CopyData)
    .uint8(replicationMessageCodes.StandbyStatusUpdate)
    .int64(update.written)
    .int64(update.flushed)
    .int64(update.applied)
    .int64(update.clientTime)
    .uint8(update.replyRequested ? 1 : 0)
    .finishMessage();
}

/**
 * Decodes the body of a CopyData that carries a standby status update. Throws ProtocolError
 * (offsets from the first byte of `body`) for another type, a short body or leftover bytes.
 */
export function decodeStandbyStatusUpdate(body: Uint8Array): StandbyStatusUpdate {
  const f = Frame.over(body, 'standby status update');
  const type = f.uint8();
  if (type !== replicationMessageCodes.StandbyStatusUpdate) {
    f.fail(`unknown message type 0x${type.toString(16).padStart(2, '0')}`, 0);
  }
  const written = readUint64(f);
  const flushed = readUint64(f);
  const applied = readUint64(f);
  const clientTime = readInt64(f);
  const reply = f.uint8();
  if (reply > 1) f.fail(`reply-requested flag ${reply} is not 0 or 1`, f.pos - 1);
  return f.finishWith({
    type: 'StandbyStatusUpdate',
    written,
    flushed,
    applied,
    clientTime,
    replyRequested: reply === 1,
  });
}
