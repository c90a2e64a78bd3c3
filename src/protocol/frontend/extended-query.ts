import { frontendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/**
 * Messages of the extended query protocol (protocol-message-formats.html, protocol-flow.html
 * "Extended Query"): Parse, Bind, Describe, Execute, Sync, Flush and Close. An empty name
 * means the unnamed statement or portal.
 */

/** 'P': prepare a statement. */
export interface Parse {
  type: 'Parse';
  name: string;
  query: string;
  /** Parameter type OIDs; 0 (or a missing entry) lets the server infer the type. */
  parameterTypeOids: number[];
}

/** 'B': bind parameters to a prepared statement, creating a portal. */
export interface Bind {
  type: 'Bind';
  portal: string;
  statement: string;
  /** Empty (all text), one code for all, or one per parameter: 0 text, 1 binary. */
  parameterFormats: number[];
  /** Parameter values (copies owned by the message), null for NULL. */
  parameters: Array<Uint8Array | null>;
  /** Empty (all text), one code for all, or one per result column. */
  resultFormats: number[];
}

/** 'S' a prepared statement, 'P' a portal. */
export type DescribeTarget = 'S' | 'P';

/** 'D': ask for a ParameterDescription and/or RowDescription. */
export interface Describe {
  type: 'Describe';
  kind: DescribeTarget;
  name: string;
}

/** 'E': run a portal. */
export interface Execute {
  type: 'Execute';
  portal: string;
  /** Row limit; 0 for no limit. */
  maxRows: number;
}

/** 'C': close a prepared statement or portal. */
export interface Close {
  type: 'Close';
  kind: DescribeTarget;
  name: string;
}

/** 'S': end of an extended-query cycle; the server answers ReadyForQuery. */
export interface Sync {
  type: 'Sync';
}

/** 'H': ask the server to send what it has pending. */
export interface Flush {
  type: 'Flush';
}

/** Arguments of writeParse. */
export interface ParseOptions {
  /** Statement name; default '' (the unnamed statement). */
  name?: string;
  query: string;
  /** Default: none (the server infers every type). */
  parameterTypeOids?: number[];
}

/** Arguments of writeBind. */
export interface BindOptions {
  /** Portal name; default '' (the unnamed portal). */
  portal?: string;
  /** Statement name; default '' (the unnamed statement). */
  statement?: string;
  /** A string goes as UTF-8 text; a Uint8Array as given; null as NULL. */
  parameters: Array<string | Uint8Array | null>;
  /**
   * Format codes. Default: none (all text) when no parameter is a Uint8Array; otherwise one
   * per parameter, 1 (binary) for a Uint8Array and 0 (text) for the others.
   */
  parameterFormats?: number[];
  /** Result column formats; default none (all text). */
  resultFormats?: number[];
}

/** The shared Sync value. */
export const sync: Sync = Object.freeze({ type: 'Sync' });
/** The shared Flush value. */
export const flush: Flush = Object.freeze({ type: 'Flush' });

function checkTarget(kind: string): void {
  if (kind !== 'S' && kind !== 'P') throw new RangeError(`expected 'S' or 'P', got ${kind}`);
}

/** Writes a Parse. */
export function writeParse(w: Writer, options: ParseOptions): void {
  w.beginMessage(frontendMessageCodes.Parse)
    .cstring(options.name ?? '')
    .cstring(options.query)
    .int32List(options.parameterTypeOids ?? [])
    .finishMessage();
}

/** Writes a Bind; see BindOptions for the default format codes. */
export function writeBind(w: Writer, options: BindOptions): void {
  const parameters = options.parameters;
  let formats = options.parameterFormats;
  if (formats === undefined) {
    formats = parameters.some((p) => p instanceof Uint8Array)
      ? parameters.map((p) => (p instanceof Uint8Array ? 1 : 0))
      : [];
  }
  w.beginMessage(frontendMessageCodes.Bind)
    .cstring(options.portal ?? '')
    .cstring(options.statement ?? '')
    .int16List(formats)
    .lengthPrefixedList(parameters)
    .int16List(options.resultFormats ?? [])
    .finishMessage();
}

function writeTargetMessage(w: Writer, code: number, kind: DescribeTarget, name: string): void {
  checkTarget(kind);
  w.beginMessage(code).uint8(kind.charCodeAt(0)).cstring(name).finishMessage();
}

/** Writes a Describe of a prepared statement ('S') or portal ('P'); default name ''. */
export function writeDescribe(w: Writer, kind: DescribeTarget, name = ''): void {
  writeTargetMessage(w, frontendMessageCodes.Describe, kind, name);
}

/** Writes an Execute; default portal '' and maxRows 0 (no limit). */
export function writeExecute(w: Writer, portal = '', maxRows = 0): void {
  w.beginMessage(frontendMessageCodes.Execute).cstring(portal).int32(maxRows).finishMessage();
}

/** Writes a Sync. */
export function writeSync(w: Writer): void {
  w.beginMessage(frontendMessageCodes.Sync).finishMessage();
}

/** Writes a Flush. */
export function writeFlush(w: Writer): void {
  w.beginMessage(frontendMessageCodes.Flush).finishMessage();
}

/** Writes a Close of a prepared statement ('S') or portal ('P'); default name ''. */
export function writeClose(w: Writer, kind: DescribeTarget, name = ''): void {
  writeTargetMessage(w, frontendMessageCodes.Close, kind, name);
}

/** Decodes a Parse body. */
export function decodeParse(f: Frame): Parse {
  const name = f.cstring();
  const query = f.cstring();
  const parameterTypeOids = f.oidList();
  f.finish();
  return { type: 'Parse', name, query, parameterTypeOids };
}

/** Decodes a Bind body. */
export function decodeBind(f: Frame): Bind {
  const portal = f.cstring();
  const statement = f.cstring();
  const parameterFormats = f.int16List();
  const parameters = f.nullableBytesList();
  const resultFormats = f.int16List();
  f.finish();
  return { type: 'Bind', portal, statement, parameterFormats, parameters, resultFormats };
}

function decodeTargetMessage<T extends 'Describe' | 'Close'>(
  f: Frame,
  type: T,
): { type: T; kind: DescribeTarget; name: string } {
  const at = f.pos;
  const byte = f.uint8();
  if (byte !== 0x53 && byte !== 0x50) f.fail(`expected 'S' or 'P', got 0x${byte.toString(16)}`, at);
  const name = f.cstring();
  f.finish();
  return { type, kind: byte === 0x53 ? 'S' : 'P', name };
}

/** Decodes a Describe body. */
export function decodeDescribe(f: Frame): Describe {
  return decodeTargetMessage(f, 'Describe');
}

/** Decodes a Close body. */
export function decodeClose(f: Frame): Close {
  return decodeTargetMessage(f, 'Close');
}

/** Decodes an Execute body. */
export function decodeExecute(f: Frame): Execute {
  const portal = f.cstring();
  const maxRows = f.int32();
  f.finish();
  return { type: 'Execute', portal, maxRows };
}
