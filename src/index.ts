export type {
  BoolOption,
  ConnectionConfig,
  ConnectOptions,
  HostTarget,
  IntOption,
  PasswordSource,
  ProtocolVersion,
  ProtocolVersionSetting,
  RequireAuth,
  RequireAuthMethod,
  SslMode,
  TargetSessionAttrs,
  TlsVersion,
} from './connection/config.js';
export { connect, type RuntimeOptions } from './connection/connect.js';
export {
  type BackendKey,
  Connection,
  type ConnectionEvents,
  type ConnectionStatus,
  type Notification,
  type QueryResult,
  type ResultField,
  type Tracer,
  type TransactionStatus,
} from './connection/connection.js';
export {
  ConnectionError,
  type ConnectionErrorCode,
  type ConnectionErrorDetails,
  ServerError,
} from './connection/errors.js';
export { escapeIdentifier, escapeLiteral } from './connection/escape.js';
export { createTracer, type TraceOptions, traceMask } from './connection/trace.js';
export {
  createListener,
  type GapMarker,
  type HandlerErrorSource,
  Listener,
  type ListenerClock,
  type ListenerEvents,
  type ListenerItem,
  type ListenerNotice,
  type ListenerNotification,
  type ListenerOptions,
  type ListenerState,
  type NotificationHandler,
  type StreamOptions,
  type Subscription,
} from './notify/listener.js';
export {
  type RetryOptions,
  type RetryPolicy,
  resolveRetryPolicy,
  retriesExhausted,
  retryDefaults,
  retryDelay,
} from './notify/retry.js';
export { PgClientError, ProtocolError } from './protocol/errors.js';
export type { NoticeFields } from './protocol/fields.js';
export type { Dialer, DialOptions, DialTarget } from './socket/socket.js';
