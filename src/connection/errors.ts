import { PgClientError } from '../protocol/errors.js';
import type { NoticeFields } from '../protocol/fields.js';

/**
 * Why a connection could not be made or could not go on. Stable values of
 * `ConnectionError.code`.
 * - CONNECTION_CONFIG: the conninfo string, URL or options are malformed or contradictory.
 * - CONNECTION_REFUSED: no server answered at an address (refused, unreachable, no socket file).
 * - CONNECTION_TIMEOUT: connect_timeout passed before the server answered.
 * - CONNECTION_TLS: TLS was required and could not be set up, or a certificate check failed.
 * - CONNECTION_AUTH: authentication failed or was refused by require_auth / channel_binding.
 * - CONNECTION_UNSUPPORTED: the server asked for something pqnotify does not do (GSSAPI, SSPI,
 *   Kerberos, a protocol version below the minimum).
 * - CONNECTION_REJECTED: the server accepted the connection but it does not suit the request
 *   (target_session_attrs), or the server refused the startup with an error.
 * - CONNECTION_LOST: the connection broke while in use.
 * - CONNECTION_CLOSED: the connection was closed by the application and cannot be used.
 * - CONNECTION_BUSY: a command is already running on the connection.
 * - LISTEN_LOST: a Listener's session does not hold its LISTENs (another backend answers, or
 *   channels are missing): in practice a pooler in transaction or statement mode.
 */
export type ConnectionErrorCode =
  | 'CONNECTION_CONFIG'
  | 'CONNECTION_REFUSED'
  | 'CONNECTION_TIMEOUT'
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
  /** `host:port` (or socket path) of the server concerned. */
  address?: string;
}

/**
 * The connection could not be made, or broke, or cannot be used. Never contains a password.
 * `safeToRetry` is true when nothing was sent that the server could have acted on.
 */
export class ConnectionError extends PgClientError {
  readonly code: ConnectionErrorCode;
  readonly sqlState: string | undefined;
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
 * An ErrorResponse from the server. `code` is the SQLSTATE (for example '42601'); every
 * field the server sent is available by name. The message reads "SEVERITY: message (SQLSTATE
 * xxxxx)". A ServerError from a query leaves the connection usable.
 */
export class ServerError extends PgClientError {
  readonly code: string;
  readonly severity: string;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly position: string | undefined;
  /** Every field of the ErrorResponse. */
  readonly fields: Readonly<NoticeFields>;

  constructor(fields: NoticeFields) {
    const severity = fields.severityNonLocalized ?? fields.severity ?? 'ERROR';
    const code = fields.code ?? 'XX000';
    super(`${severity}: ${fields.message ?? 'unknown error'} (SQLSTATE ${code})`);
    this.name = 'ServerError';
    this.code = code;
    this.severity = severity;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.position = fields.position;
    this.fields = Object.freeze({ ...fields });
  }
}
