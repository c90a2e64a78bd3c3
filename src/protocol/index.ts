/**
 * pqnotify's PostgreSQL wire protocol codec (protocol 3.0 and 3.2): decoders that turn bytes
 * into owned, typed messages, and encoders that append messages to a caller's Writer. Pure:
 * no I/O, timers or callbacks, and nothing here ever blocks.
 */

export type {
  AuthenticationCleartextPassword,
  AuthenticationGSS,
  AuthenticationGSSContinue,
  AuthenticationKerberosV5,
  AuthenticationMD5Password,
  AuthenticationMessage,
  AuthenticationOk,
  AuthenticationSASL,
  AuthenticationSASLContinue,
  AuthenticationSASLFinal,
  AuthenticationSSPI,
} from './backend/authentication.js';
export type {
  CopyBothResponse,
  CopyData,
  CopyDone,
  CopyInResponse,
  CopyOutResponse,
  CopyResponse,
  CopyResponseType,
} from './backend/copy.js';
export { writeCopyData, writeCopyDone } from './backend/copy.js';
export { backendMessageLimits, Decoder } from './backend/decoder.js';
export type {
  BindComplete,
  CloseComplete,
  NoData,
  ParameterDescription,
  ParseComplete,
  PortalSuspended,
} from './backend/extended-query.js';
export type { FunctionCallResponse } from './backend/function-call-response.js';
export {
  type BackendMessage,
  type OtherBackendMessage,
  writeBackendMessage,
} from './backend/messages.js';
export type { ErrorResponse, NoticeResponse } from './backend/notice.js';
export type {
  NotificationFields,
  NotificationResponse,
} from './backend/notification-response.js';
export {
  decodePgoutputMessage,
  encodePgoutputMessage,
  type PgoutputBegin,
  type PgoutputColumn,
  type PgoutputCommit,
  type PgoutputMessage,
  type PgoutputMessageUnion,
  type PgoutputOther,
  type PgoutputRelation,
  pgoutputCodes,
} from './backend/pgoutput.js';
export type {
  CommandComplete,
  DataRow,
  EmptyQueryResponse,
  FieldDescription,
  RowDescription,
} from './backend/query-results.js';
export {
  decodeReplicationMessage,
  type PrimaryKeepalive,
  type ReplicationMessage,
  replicationMessageCodes,
  writeReplicationMessage,
  type XLogData,
} from './backend/replication.js';
export type {
  BackendKeyData,
  NegotiateProtocolVersion,
  ParameterStatus,
  ReadyForQuery,
} from './backend/session.js';
export {
  authenticationCodes,
  backendMessageCodes,
  frontendMessageCodes,
  protocolVersions,
  requestCodes,
} from './codes.js';
export { PgClientError, ProtocolError } from './errors.js';
export { type NoticeFieldName, type NoticeFields, noticeFieldCodes } from './fields.js';
export {
  type BodyReader,
  type DecoderOptions,
  defaultMaxMessageSize,
  Frame,
  FrameBuffer,
  type FrameOwner,
  type FrameScan,
} from './frame.js';
export { type CopyFail, writeCopyFail } from './frontend/copy-fail.js';
export { FrontendDecoder } from './frontend/decoder.js';
export {
  type Bind,
  type BindOptions,
  type Close,
  type Describe,
  type DescribeTarget,
  type Execute,
  type Flush,
  type Parse,
  type ParseOptions,
  type Sync,
  writeBind,
  writeClose,
  writeDescribe,
  writeExecute,
  writeFlush,
  writeParse,
  writeSync,
} from './frontend/extended-query.js';
export {
  type FunctionCall,
  type FunctionCallOptions,
  writeFunctionCall,
} from './frontend/function-call.js';
export { type FrontendMessage, writeFrontendMessage } from './frontend/messages.js';
export {
  type PasswordMessage,
  parsePasswordMessage,
  parseSASLInitialResponse,
  type SASLInitialResponse,
  writePasswordMessage,
  writeSASLInitialResponse,
  writeSASLResponse,
} from './frontend/password.js';
export { type Query, writeQuery } from './frontend/query.js';
export {
  decodeStandbyStatusUpdate,
  type StandbyStatusUpdate,
  writeStandbyStatusUpdate,
} from './frontend/replication.js';
export {
  type CancelRequest,
  type GSSENCRequest,
  type SSLRequest,
  type StartupMessage,
  type StartupOptions,
  writeCancelRequest,
  writeGSSENCRequest,
  writeSSLRequest,
  writeStartupMessage,
} from './frontend/startup.js';
export { type Terminate, writeTerminate } from './frontend/terminate.js';
export {
  dateToPgTimestamp,
  formatLsn,
  parseLsn,
  pgTimestampToDate,
  readInt64,
  readUint64,
} from './lsn.js';
export { Writer } from './writer.js';
