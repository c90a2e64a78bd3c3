import { backendMessageCodes } from '../codes.js';
import { Frame } from '../frame.js';
import { readInt64, readUint64 } from '../lsn.js';
import type { Writer } from '../writer.js';

/**
 * What a walsender puts inside each CopyData of a CopyBoth stream (protocol-replication.html,
 * "START_REPLICATION"): XLogData 'w' carries WAL (for a logical slot, one output-plugin
 * message), primary keepalive 'k' tells the position and may ask for a standby status update.
 *
 * decodeReplicationMessage is pure and bounded to the CopyData body it is given. The message
 * owns nothing new: XLogData.data is a view of that body, so it is owned exactly when the
 * body is (CopyData messages from the Decoder own their data).
 */

/** 'w': WAL data. LSNs as bigint, `sendTime` in microseconds since 2000-01-01 UTC. */
export interface XLogData {
  type: 'XLogData';
  /** The starting point of the WAL data in this message. */
  walStart: bigint;
  /** The current end of WAL on the server. */
  walEnd: bigint;
  /** The server's system clock at the time of transmission. */
  sendTime: bigint;
  /** The WAL data: for a logical slot, one message of the output plugin (see pgoutput.ts). */
  data: Uint8Array;
}

/** 'k': primary keepalive message. */
export interface PrimaryKeepalive {
  type: 'PrimaryKeepalive';
  /** The current end of WAL on the server. */
  walEnd: bigint;
  /** The server's system clock at the time of transmission (µs since 2000-01-01 UTC). */
  sendTime: bigint;
  /** True when the server asks for a reply (a standby status update) as soon as possible. */
  replyRequested: boolean;
}

/** The messages a walsender sends inside CopyData. */
export type ReplicationMessage = XLogData | PrimaryKeepalive;

/** Type bytes of the messages inside the CopyData of a replication stream. */
export const replicationMessageCodes = Object.freeze({
  XLogData: 0x77, // 'w'
  PrimaryKeepalive: 0x6b, // 'k'
  StandbyStatusUpdate: 0x72, // 'r'
} as const);

/**
 * Decodes the body of one CopyData sent by a walsender. Throws ProtocolError (offsets count
 * from the first byte of `body`) for an unknown type byte, a short body, or bytes left over
 * after a keepalive. Never reads outside `body`; never blocks.
 */
export function decodeReplicationMessage(body: Uint8Array): ReplicationMessage {
  const f = Frame.over(body, 'replication message');
  const type = f.uint8();
  switch (type) {
    case replicationMessageCodes.XLogData: {
      const walStart = readUint64(f);
      const walEnd = readUint64(f);
      const sendTime = readInt64(f);
      return { type: 'XLogData', walStart, walEnd, sendTime, data: body.subarray(f.pos) };
    }
    case replicationMessageCodes.PrimaryKeepalive: {
      const walEnd = readUint64(f);
      const sendTime = readInt64(f);
      const replyRequested = f.uint8();
      if (replyRequested > 1)
        f.fail(`reply-requested flag ${replyRequested} is not 0 or 1`, f.pos - 1);
      f.finish();
      return { type: 'PrimaryKeepalive', walEnd, sendTime, replyRequested: replyRequested === 1 };
    }
    default:
      return f.fail(`unknown message type 0x${type.toString(16).padStart(2, '0')}`, 0);
  }
}

/**
 * Writes one replication message as a whole CopyData message (the mock walsender's side;
 * `data` is copied into the writer). Throws RangeError for an out-of-range LSN or time.
 */
export function writeReplicationMessage(w: Writer, message: ReplicationMessage): void {
  w.beginMessage(backendMessageCodes.CopyData);
  if (message.type === 'XLogData') {
    w.uint8(replicationMessageCodes.XLogData)
      .int64(message.walStart)
      .int64(message.walEnd)
      .int64(message.sendTime)
      .bytes(message.data);
  } else {
    w.uint8(replicationMessageCodes.PrimaryKeepalive)
      .int64(message.walEnd)
      .int64(message.sendTime)
      .uint8(message.replyRequested ? 1 : 0);
  }
  w.finishMessage();
}
