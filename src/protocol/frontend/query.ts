import { frontendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/** 'Q' Query (protocol-message-formats.html, protocol-flow.html "Simple Query"). */
export interface Query {
  type: 'Query';
  /** The SQL text; may hold several statements separated by semicolons. */
  query: string;
}

/** Writes a Query. Throws a TypeError (leaving `w` unchanged) if `sql` contains NUL. */
export function writeQuery(w: Writer, sql: string): void {
  w.beginMessage(frontendMessageCodes.Query).cstring(sql).finishMessage();
}

/** Decodes a Query body. */
export function decodeQuery(f: Frame): Query {
  const query = f.cstring();
  f.finish();
  return { type: 'Query', query };
}
