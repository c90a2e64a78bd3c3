import { PgClientError } from '../protocol/errors.js';
import type { NoticeFields } from '../protocol/fields.js';

/**
 * Why a connection could not be made or could not go on. Stable values of
 * `ConnectionError.code`.
 * - CONNECTION_CONFIG: the conninfo string, URL or options are malformed or contradictory.
 * - CONNECTION_DNS: a host name could not be resolved to an address.
 * - CONNECTION_REFUSED: no server answered at an address (refused, unreachable, no socket file).
 * - CONNECTION_TIMEOUT: connect_timeout passed before the server answered.
 * - CONNECTION_NOT_POSTGRESQL: something answered, but not a PostgreSQL server: the first
 *   bytes were neither an SSLRequest answer ('S'/'N') nor an Authentication,
 *   ErrorResponse or NegotiateProtocolVersion message (an HTTP or SMTP server, say). The
 *   message shows the printable bytes that arrived.
 * - CONNECTION_TLS: TLS was required and could not be set up, or a certificate check failed.
 * - CONNECTION_AUTH: authentication failed or was refused by require_auth / channel_binding.
 * - CONNECTION_UNSUPPORTED: the server asked for something pqnotify does not do (GSSAPI, SSPI,
 *   Kerberos, a protocol version below the minimum).
 * - CONNECTION_REJECTED: the server accepted the connection but it does not suit the request
 *   (target_session_attrs), or the server refused the startup with an error.
 * - CONNECTION_LOST: the connection broke while in use, or the server broke the protocol:
 *   a malformed message (`cause` is then the decoder's ProtocolError, with its byte offset)
 *   or a message that does not fit what the connection is doing (no `cause`).
 * - CONNECTION_CLOSED: the connection was closed by the application and cannot be used.
 * - CONNECTION_BUSY: a command is already running on the connection.
 * - LISTEN_LOST: a Listener's session does not hold its LISTENs (another backend answers, or
 *   channels are missing): in practice a pooler in transaction or statement mode.
 */
export type ConnectionErrorCode =
  | 'CONNECTION_CONFIG'
  | 'CONNECTION_DNS'
  | 'CONNECTION_REFUSED'
  | 'CONNECTION_TIMEOUT'
  | 'CONNECTION_NOT_POSTGRESQL'
  | 'CONNECTION_TLS'
  | 'CONNECTION_AUTH'
  | 'CONNECTION_UNSUPPORTED'
  | 'CONNECTION_REJECTED'
  | 'CONNECTION_LOST'
  | 'CONNECTION_CLOSED'
  | 'CONNECTION_BUSY'
  | 'LISTEN_LOST';

/** Extra facts a ConnectionError may carry. */
export interface ConnectionErrorDetails {
  /** The underlying error (a socket error, a ServerError during startup, ...). */
  cause?: unknown;
  /** The SQLSTATE, when the server said why (for example 28P01 for a wrong password). */
  sqlState?: string;
  /**
   * The server concerned, as messages name it: `host:port`, `host (address):port` or
   * `socket "path"`. Set on every error that has a target (all but CONNECTION_CONFIG and
   * errors of a connection closed by the application).
   */
  address?: string;
}

/**
 * The connection could not be made, or broke, or cannot be used. Never contains a password.
 * `safeToRetry` is true when nothing was sent that the server could have acted on.
 */
export class ConnectionError extends PgClientError {
  readonly code: ConnectionErrorCode;
  /** The SQLSTATE, when the server said why (the same name as on ServerError). */
  readonly sqlState: string | undefined;
  /** The server concerned; see ConnectionErrorDetails.address. */
  readonly address: string | undefined;

  constructor(code: ConnectionErrorCode, message: string, details: ConnectionErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ConnectionError';
    this.code = code;
    this.sqlState = details.sqlState;
    this.address = details.address;
  }

  /** True for failures that happened before the server could have run anything. */
  get safeToRetry(): boolean {
    return this.code !== 'CONNECTION_LOST';
  }
}

/**
 * A whole, well-formed message that does not fit what the connection is doing: the server at
 * `address` broke the protocol, so the connection is lost (CONNECTION_LOST, no `cause`).
 */
export function protocolViolation(address: string, what: string): ConnectionError {
  return new ConnectionError('CONNECTION_LOST', `protocol violation by ${address}: ${what}`, {
    address,
  });
}

/**
 * An ErrorResponse from the server. `code` is always 'SERVER_ERROR'; `sqlState` is the
 * SQLSTATE (for example '42601'), the same name as on ConnectionError; every field the
 * server sent is available by name. The message reads "SEVERITY: message (SQLSTATE xxxxx)".
 * A ServerError from a query leaves the connection usable.
 */
export class ServerError extends PgClientError {
  readonly code = 'SERVER_ERROR';
  /** The SQLSTATE the server sent ('XX000' when it sent none). */
  readonly sqlState: string;
  readonly severity: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly position: string | undefined;
  /** Every field of the ErrorResponse. */
  readonly fields: Readonly<NoticeFields>;

  constructor(fields: NoticeFields) {
    const severity = fields.severityNonLocalized ?? fields.severity ?? 'ERROR';
    const sqlState = fields.code ?? 'XX000';
    super(`${severity}: ${fields.message ?? 'unknown error'} (SQLSTATE ${sqlState})`);
    this.name = 'ServerError';
    this.sqlState = sqlState;
    this.severity = severity;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.position = fields.position;
    this.fields = Object.freeze({ ...fields });
  }
}
