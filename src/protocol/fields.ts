/**
 * The fields of an ErrorResponse or NoticeResponse, by name
 * (protocol-error-fields.html). Every field the server may send has a property; fields with
 * a code this version does not know are kept in `unknown`, keyed by their one-letter code.
 */
export interface NoticeFields {
  /** S: ERROR, FATAL, PANIC (errors) or WARNING, NOTICE, DEBUG, INFO, LOG (notices); localized. */
  severity?: string;
  /** V: the same severity, never localized (PostgreSQL 9.6 and later). */
  severityNonLocalized?: string;
  /** C: the SQLSTATE code. */
  code?: string;
  /** M: the primary message. */
  message?: string;
  /** D: detail. */
  detail?: string;
  /** H: hint. */
  hint?: string;
  /** P: cursor position in the query string, 1-based characters, as a decimal string. */
  position?: string;
  /** p: position in an internally generated query. */
  internalPosition?: string;
  /** q: the internally generated query. */
  internalQuery?: string;
  /** W: context (call stack). */
  where?: string;
  /** s: schema name. */
  schemaName?: string;
  /** t: table name. */
  tableName?: string;
  /** c: column name. */
  columnName?: string;
  /** d: data type name. */
  dataTypeName?: string;
  /** n: constraint name. */
  constraintName?: string;
  /** F: source file name in the server. */
  file?: string;
  /** L: source line number in the server. */
  line?: string;
  /** R: source routine name in the server. */
  routine?: string;
  /** Fields with a code not listed above, keyed by that code. */
  unknown?: Record<string, string>;
}

/** The one-letter field codes of NoticeFields, as the protocol spells them. */
export const noticeFieldCodes = Object.freeze({
  S: 'severity',
  V: 'severityNonLocalized',
  C: 'code',
  M: 'message',
  D: 'detail',
  H: 'hint',
  P: 'position',
  p: 'internalPosition',
  q: 'internalQuery',
  W: 'where',
  s: 'schemaName',
  t: 'tableName',
  c: 'columnName',
  d: 'dataTypeName',
  n: 'constraintName',
  F: 'file',
  L: 'line',
  R: 'routine',
} as const);

/** A NoticeFields property name that has a known one-letter code. */
export type NoticeFieldName = (typeof noticeFieldCodes)[keyof typeof noticeFieldCodes];
