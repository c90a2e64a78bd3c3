import type { NoticeFields } from '../protocol/fields.js';
import type { Decoder, Writer } from '../protocol/index.js';
import type { Transport } from '../socket/transport.js';
import type { ConnectionError } from './errors.js';

/** libpq's PQstatus, in words: usable, broken, or closed by the application. */
export type ConnectionStatus = 'ok' | 'bad' | 'closed';

/** libpq's PQtransactionStatus, in words. `active` means a command is in progress. */
export type TransactionStatus = 'idle' | 'active' | 'intrans' | 'inerror' | 'unknown';

/** One asynchronous notification (libpq's PGnotify: relname, extra, be_pid). */
export interface Notification {
  /** The channel name, exactly as the notifier gave it. */
  channel: string;
  /** The payload; '' when none was given. */
  payload: string;
  /** Process ID of the notifying server process (compare with `backendPid` to spot your own). */
  processId: number;
}

/** A column of a result. */
export interface ResultField {
  name: string;
  dataTypeOid: number;
  tableOid: number;
  columnAttributeNumber: number;
}

/** The result of one SQL statement, values in text form (PGresult with PQgetvalue). */
export interface QueryResult {
  /** The command tag, for example 'SELECT 2', 'INSERT 0 1', 'LISTEN'; '' for an empty query. */
  command: string;
  /** Rows affected or returned, from the command tag; null when the tag has no count. */
  rowCount: number | null;
  fields: ResultField[];
  /** Each row's values as text, or null for SQL NULL. */
  rows: (string | null)[][];
}

/** Events a Connection emits. */
export interface ConnectionEvents {
  /** A NoticeResponse (warnings, notices), whenever it arrives. */
  notice: [fields: NoticeFields];
  /** A ParameterStatus report (server_version, in_hot_standby, ...). */
  parameterStatus: [name: string, value: string];
  /** At least one notification was queued; read them with notifies(). */
  notification: [];
  /** The connection ended; `error` is set unless close() ended it. */
  close: [error: ConnectionError | undefined];
}

/** The secret needed to cancel a running command (BackendKeyData). */
export interface BackendKey {
  processId: number;
  secretKey: Uint8Array;
}

/** Sends a CancelRequest over a new connection to the same server (set up by connect()). */
export type CancelSender = (key: BackendKey) => Promise<void>;

/**
 * A CopyBoth exchange in progress (START_REPLICATION), from Connection.copyBoth(). The
 * connection runs no other command until it ends.
 */
export interface CopyBoth {
  /**
   * Sends one CopyData message to the server, written by `write` (which must write exactly
   * one whole CopyData message into the connection's writer, as writeStandbyStatusUpdate
   * does). Never blocks: the bytes are handed to the socket. Throws ConnectionError when the
   * connection is unusable or the copy has ended.
   */
  send(write: (writer: Writer) => void): void;
  /**
   * Sends CopyDone (once) and resolves when the server has finished the command
   * (ReadyForQuery); rejects like `done`.
   */
  end(): Promise<void>;
  /**
   * Settles when the command ends: resolves at ReadyForQuery, rejects with ServerError if the
   * server reported an error, or with ConnectionError if the connection was lost or closed.
   */
  readonly done: Promise<void>;
}

/** Options fixed when a Connection is created by connect(). */
export interface ConnectionInit {
  /** Connected, and not started: the Connection starts it and owns it from then on. */
  transport: Transport;
  decoder?: Decoder;
  tls: boolean;
  sendCancel: CancelSender;
  /** Server address, for messages. */
  address: string;
}
