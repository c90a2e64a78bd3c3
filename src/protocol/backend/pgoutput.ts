import { Frame } from '../frame.js';
import { readInt64, readUint64 } from '../lsn.js';
import { Writer } from '../writer.js';

/**
 * The pgoutput plugin's messages, carried in the `data` of XLogData on a logical slot
 * (protocol-logicalrep-message-formats.html), for protocol version 1 without streaming of
 * in-progress transactions: Begin, Commit, Message (pg_logical_emit_message) and Relation are
 * decoded; every other message (Insert, Update, Delete, Truncate, Type, Origin, ...) is
 * recognised by its tag and skipped as PgoutputOther, so row changes never upset a stream
 * that only wants messages.
 *
 * decodePgoutputMessage is pure and bounded to the bytes it is given; the decoded message owns
 * its strings, and `content` is a copy. LSNs are bigint; times are microseconds since
 * 2000-01-01 UTC.
 */

/** 'B': a transaction starts (sent when it commits, before its changes). */
export interface PgoutputBegin {
  type: 'Begin';
  /** The final LSN of the transaction (the LSN of its commit record). */
  finalLsn: bigint;
  /** Commit timestamp, microseconds since 2000-01-01 UTC. */
  commitTime: bigint;
  /** Xid of the transaction. */
  xid: number;
}

/** 'C': the transaction's commit. */
export interface PgoutputCommit {
  type: 'Commit';
  /** Flags; currently unused (0). */
  flags: number;
  /** The LSN of the commit record. */
  commitLsn: bigint;
  /** The end LSN of the transaction: confirming this position skips the transaction on resume. */
  endLsn: bigint;
  /** Commit timestamp, microseconds since 2000-01-01 UTC. */
  commitTime: bigint;
}

/** 'M': a logical decoding message, as written by pg_logical_emit_message(). */
export interface PgoutputMessage {
  type: 'Message';
  /** True when the message was emitted as transactional (decoded at commit). */
  transactional: boolean;
  /** The LSN of the message itself. */
  lsn: bigint;
  prefix: string;
  /** The content, a copy owned by the message. */
  content: Uint8Array;
}

/** A column of a Relation message. */
export interface PgoutputColumn {
  /** 1 when the column is part of the key. */
  flags: number;
  name: string;
  dataTypeOid: number;
  typeModifier: number;
}

/** 'R': describes a table before the first change to it in a stream. */
export interface PgoutputRelation {
  type: 'Relation';
  relationOid: number;
  /** Empty for pg_catalog. */
  namespace: string;
  relationName: string;
  /** relreplident of the table: 'd', 'n', 'f' or 'i'. */
  replicaIdentity: number;
  columns: PgoutputColumn[];
}

/** Any other pgoutput message (a row change, a type, an origin...), skipped by its tag. */
export interface PgoutputOther {
  type: 'Other';
  /** The message's type byte, such as 0x49 'I' for Insert. */
  tag: number;
}

/** What decodePgoutputMessage returns. */
export type PgoutputMessageUnion =
  | PgoutputBegin
  | PgoutputCommit
  | PgoutputMessage
  | PgoutputRelation
  | PgoutputOther;

/** Type bytes of the pgoutput messages decoded here, and of those skipped. */
export const pgoutputCodes = Object.freeze({
  Begin: 0x42, // 'B'
  Commit: 0x43, // 'C'
  Message: 0x4d, // 'M'
  Relation: 0x52, // 'R'
} as const);

/** Tags of the messages skipped as PgoutputOther: I U D T Y O, and the streaming ones S E c A P K r b p. */
const skipped = new Set('IUDTYOSEcAbprKP'.split('').map((c) => c.charCodeAt(0)));

/**
 * Decodes one pgoutput message (the `data` of an XLogData). Throws ProtocolError, with offsets
 * from the first byte of `data`, for an unknown tag, a short body, a string without its NUL,
 * or bytes left over. Never blocks.
 */
export function decodePgoutputMessage(data: Uint8Array): PgoutputMessageUnion {
  const f = Frame.over(data, 'pgoutput message');
  const tag = f.uint8();
  switch (tag) {
    case pgoutputCodes.Begin: {
      const finalLsn = readUint64(f);
      const commitTime = readInt64(f);
      const xid = f.uint32();
      return f.finishWith({ type: 'Begin', finalLsn, commitTime, xid });
    }
    case pgoutputCodes.Commit: {
      const flags = f.uint8();
      const commitLsn = readUint64(f);
      const endLsn = readUint64(f);
      const commitTime = readInt64(f);
      return f.finishWith({ type: 'Commit', flags, commitLsn, endLsn, commitTime });
    }
    case pgoutputCodes.Message: {
      const flags = f.uint8();
      if (flags > 1) f.fail(`message flags ${flags} are not 0 or 1`, f.pos - 1);
      const lsn = readUint64(f);
      const prefix = f.cstring();
      const length = f.int32();
      const content = f.bytesOf(length);
      return f.finishWith({ type: 'Message', transactional: flags === 1, lsn, prefix, content });
    }
    case pgoutputCodes.Relation: {
      const relationOid = f.uint32();
      const namespace = f.cstring();
      const relationName = f.cstring();
      const replicaIdentity = f.uint8();
      // Each column takes at least 10 bytes: flags, an empty name's NUL, two Int32.
      const n = f.count(10);
      const columns = new Array<PgoutputColumn>(n);
      for (let i = 0; i < n; i++) {
        const flags = f.uint8();
        const name = f.cstring();
        const dataTypeOid = f.uint32();
        const typeModifier = f.int32();
        columns[i] = { flags, name, dataTypeOid, typeModifier };
      }
      return f.finishWith({
        type: 'Relation',
        relationOid,
        namespace,
        relationName,
        replicaIdentity,
        columns,
      });
    }
    default:
      if (skipped.has(tag)) return { type: 'Other', tag };
      return f.fail(`unknown message tag 0x${tag.toString(16).padStart(2, '0')}`, 0);
  }
}

function writePgoutputMessage(w: Writer, message: PgoutputMessageUnion): void {
  switch (message.type) {
    case 'Begin':
      w.uint8(pgoutputCodes.Begin)
        .int64(message.finalLsn)
        .int64(message.commitTime)
        .int32(message.xid);
      return;
    case 'Commit':
      w.uint8(pgoutputCodes.Commit)
        .uint8(message.flags)
        .int64(message.commitLsn)
        .int64(message.endLsn)
        .int64(message.commitTime);
      return;
    case 'Message':
      w.uint8(pgoutputCodes.Message)
        .uint8(message.transactional ? 1 : 0)
        .int64(message.lsn)
        .cstring(message.prefix)
        .int32(message.content.length)
        .bytes(message.content);
      return;
    case 'Relation':
      w.uint8(pgoutputCodes.Relation)
        .int32(message.relationOid)
        .cstring(message.namespace)
        .cstring(message.relationName)
        .uint8(message.replicaIdentity)
        .int16(message.columns.length);
      for (const column of message.columns) {
        w.uint8(column.flags)
          .cstring(column.name)
          .int32(column.dataTypeOid)
          .int32(column.typeModifier);
      }
      return;
    case 'Other':
      w.uint8(message.tag);
      return;
  }
}

/**
 * The bytes of one pgoutput message (no framing: the `data` of an XLogData), for the mock
 * walsender and tests; the caller owns the returned array. For PgoutputOther only the tag is
 * written. Throws RangeError for a value out of range.
 */
export function encodePgoutputMessage(message: PgoutputMessageUnion): Uint8Array {
  const w = new Writer(64 + (message.type === 'Message' ? message.content.length : 0));
  writePgoutputMessage(w, message);
  return w.toBytes();
}
