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
export { Connection } from './connection/connection.js';
export {
  ConnectionError,
  type ConnectionErrorCode,
  type ConnectionErrorDetails,
  ServerError,
} from './connection/errors.js';
export { escapeIdentifier, escapeLiteral } from './connection/escape.js';
export {
  type CreatedSlot,
  checkLogicalReplication,
  createReplicationSlot,
  dropReplicationSlot,
  identifySystem,
  LogicalStream,
  type LogicalStreamOptions,
  ReplicationError,
  type ReplicationErrorCode,
  type SystemIdentity,
} from './connection/replication.js';
export type {
  BackendKey,
  ConnectionEvents,
  ConnectionStatus,
  CopyBoth,
  Notification,
  QueryResult,
  ResultField,
  TransactionStatus,
} from './connection/types.js';
export {
  compareDurablePositions,
  type DurableHandler,
  type DurableNotification,
  type DurableNotifyOptions,
  type DurableStatement,
  DurableStream,
  type DurableStreamEvents,
  type DurableStreamOptions,
  type DurableSubscription,
  defaultDurablePrefix,
  defaultDurablePublication,
  durableNotifyStatement,
  notifyDurable,
  openDurableStream,
} from './notify/durable.js';
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
export {
  dropSlot,
  listSlots,
  type SlotInfo,
  SlotWatcher,
  type SlotWatcherEvents,
  type WatchSlotsOptions,
  watchSlots,
} from './notify/slots.js';
export { PgClientError, ProtocolError } from './protocol/errors.js';
export type { NoticeFields } from './protocol/fields.js';
export { createTracer, type TraceOptions, type Tracer, traceMask } from './protocol/trace.js';
export { dialSocket, transportFromDuplex } from './socket/socket.js';
export type {
  ByteSink,
  CloseListener,
  Dialer,
  DialOptions,
  DialTarget,
  Encryption,
  TlsSettings,
  Transport,
} from './socket/transport.js';
export { DialError, readAheadBytes } from './socket/transport.js';
