import { backendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/**
 * The results of a query (protocol-message-formats.html, protocol-flow.html "Simple
 * Query"): RowDescription, DataRow, CommandComplete and EmptyQueryResponse. Decoded values
 * are owned: strings, numbers and copied bytes.
 */

/** One column of a RowDescription. */
export interface FieldDescription {
  /** The column name. */
  name: string;
  /** OID of the table the column comes from, or 0. */
  tableOid: number;
  /** Attribute number of the column in that table, or 0. */
  columnAttributeNumber: number;
  /** OID of the column's data type. */
  dataTypeOid: number;
  /** pg_type.typlen: negative for variable-width types. */
  dataTypeSize: number;
  /** pg_attribute.atttypmod: type-specific, -1 when none. */
  typeModifier: number;
  /** 0 text, 1 binary (0 when the statement was only described). */
  format: number;
}

/** 'T': the columns of the rows that follow. */
export interface RowDescription {
  type: 'RowDescription';
  fields: FieldDescription[];
}

/** 'D': one row; each value is a copy of its bytes (text or binary per the format), null for NULL. */
export interface DataRow {
  type: 'DataRow';
  values: Array<Uint8Array | null>;
}

/** 'C': a command finished; `commandTag` is e.g. 'SELECT 3' or 'LISTEN'. */
export interface CommandComplete {
  type: 'CommandComplete';
  commandTag: string;
}

/** 'I': the query string was empty. */
export interface EmptyQueryResponse {
  type: 'EmptyQueryResponse';
}

/** The shared EmptyQueryResponse value (frozen; it has no fields). */
export const emptyQueryResponse: EmptyQueryResponse = Object.freeze({
  type: 'EmptyQueryResponse',
});

/** Bytes of one RowDescription field after its name. */
const fieldTailSize = 18;

/** Decodes a RowDescription body. */
export function decodeRowDescription(f: Frame): RowDescription {
  // Each field takes at least its name's terminator and 18 bytes.
  const count = f.count(1 + fieldTailSize);
  const fields = new Array<FieldDescription>(count);
  for (let i = 0; i < count; i++) {
    fields[i] = {
      name: f.cstring(),
      tableOid: f.uint32(),
      columnAttributeNumber: f.int16(),
      dataTypeOid: f.uint32(),
      dataTypeSize: f.int16(),
      typeModifier: f.int32(),
      format: f.int16(),
    };
  }
  f.finish();
  return { type: 'RowDescription', fields };
}

/** Writes a RowDescription message. */
export function writeRowDescription(w: Writer, message: RowDescription): void {
  w.beginMessage(backendMessageCodes.RowDescription).int16(message.fields.length);
  for (const field of message.fields) {
    w.cstring(field.name)
      .int32(field.tableOid)
      .int16(field.columnAttributeNumber)
      .int32(field.dataTypeOid)
      .int16(field.dataTypeSize)
      .int32(field.typeModifier)
      .int16(field.format);
  }
  w.finishMessage();
}

/** Decodes a DataRow body; a value length below -1 or past the frame is a ProtocolError. */
export function decodeDataRow(f: Frame): DataRow {
  const values = f.nullableBytesList();
  f.finish();
  return { type: 'DataRow', values };
}

/** Writes a DataRow message. */
export function writeDataRow(w: Writer, message: DataRow): void {
  w.beginMessage(backendMessageCodes.DataRow).lengthPrefixedList(message.values).finishMessage();
}

/** Decodes a CommandComplete body. */
export function decodeCommandComplete(f: Frame): CommandComplete {
  const commandTag = f.cstring();
  f.finish();
  return { type: 'CommandComplete', commandTag };
}

/** Writes a CommandComplete message. */
export function writeCommandComplete(w: Writer, message: CommandComplete): void {
  w.beginMessage(backendMessageCodes.CommandComplete).cstring(message.commandTag).finishMessage();
}
