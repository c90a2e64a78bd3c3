import type { BackendMessage, Writer } from '../protocol/index.js';
import type { Authenticator } from './authenticate.js';
import { ConnectionError, protocolViolation, ServerError } from './errors.js';
import type { BackendKey } from './types.js';

const authSqlStates = new Set(['28000', '28P01']);

/** What the startup exchange reads from, and reports to, the connection it runs on. */
export interface StartupSession {
  /** The server address, for messages. */
  readonly address: string;
  /** The connection's writer: authentication answers are written into it, then flush() sends them. */
  readonly writer: Writer;
  /** The protocol version asked for in the StartupMessage. */
  readonly requested: { major: 3; minor: 0 | 2 };
  /** The lowest protocol version the application accepts. */
  readonly minimum: { major: 3; minor: 0 | 2 };
  readonly authenticator: Authenticator;
  /** The protocol version in use: the one asked for, or the one negotiated. */
  protocolVersion(): { major: number; minor: number };
  /** The server offered a lower version (NegotiateProtocolVersion), accepted. */
  negotiated(version: { major: 3; minor: number }, unrecognizedOptions: string[]): void;
  /** Sends whatever was written into `writer`. */
  flush(): void;
  /** The server's cancel key (BackendKeyData). */
  keyReceived(key: BackendKey): void;
  /** Ends the exchange: with an error, or at ReadyForQuery with the transaction status. */
  finish(outcome: Error | 'I' | 'T' | 'E'): void;
}

/**
 * The handler of every message of the startup exchange (StartupMessage sent, authentication,
 * parameter reports, cancel key) up to the first ReadyForQuery; notices and parameter reports
 * are handled by the connection before they reach it. Every outcome goes to `session.finish`.
 */
export function startupHandler(session: StartupSession): (message: BackendMessage) => void {
  const { authenticator, minimum, requested } = session;
  const violation = (what: string) => protocolViolation(session.address, what);
  return (message) => {
    switch (message.type) {
      case 'AuthenticationOk':
        try {
          authenticator.accept();
        } catch (error) {
          session.finish(error as Error);
        }
        return;
      case 'AuthenticationCleartextPassword':
      case 'AuthenticationMD5Password':
      case 'AuthenticationSASL':
      case 'AuthenticationSASLContinue':
      case 'AuthenticationSASLFinal':
      case 'AuthenticationKerberosV5':
      case 'AuthenticationGSS':
      case 'AuthenticationGSSContinue':
      case 'AuthenticationSSPI':
        authenticator.respond(message, session.writer).then(
          () => session.flush(),
          (error: Error) => session.finish(error),
        );
        return;
      case 'NegotiateProtocolVersion': {
        const offered = { major: 3, minor: message.newestMinorVersion } as const;
        if (offered.minor < minimum.minor) {
          session.finish(
            new ConnectionError(
              'CONNECTION_UNSUPPORTED',
              `${session.address}: the server supports protocol 3.${offered.minor} at most, but min_protocol_version is 3.${minimum.minor}`,
              { address: session.address },
            ),
          );
          return;
        }
        session.negotiated(
          { major: 3, minor: Math.min(offered.minor, requested.minor) },
          message.unrecognizedOptions,
        );
        return;
      }
      case 'BackendKeyData':
        if (session.protocolVersion().minor < 2 && message.secretKey.length !== 4) {
          session.finish(
            violation(
              `a protocol 3.0 server sent a cancel key of ${message.secretKey.length} bytes, not 4`,
            ),
          );
          return;
        }
        session.keyReceived({ processId: message.processId, secretKey: message.secretKey });
        return;
      case 'ErrorResponse': {
        const error = new ServerError(message.fields);
        const code = authSqlStates.has(error.sqlState) ? 'CONNECTION_AUTH' : 'CONNECTION_REJECTED';
        session.finish(
          new ConnectionError(code, `${session.address}: ${error.message}`, {
            cause: error,
            sqlState: error.sqlState,
            address: session.address,
          }),
        );
        return;
      }
      case 'ReadyForQuery':
        session.finish(message.transactionStatus);
        return;
      default:
        session.finish(violation(`unexpected ${message.type} during startup`));
    }
  };
}
