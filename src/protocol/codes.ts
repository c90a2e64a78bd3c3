/**
 * Message type bytes and the fixed codes of protocol 3.0 and 3.2
 * (protocol-message-formats.html). Plain frozen objects rather than const enums, so they
 * work the same under isolatedModules, esbuild-based builds and in emitted `.d.ts` files.
 */

/** The first byte of each message the server sends, by the message's name in the docs. */
export const backendMessageCodes = Object.freeze({
  Authentication: 0x52, // 'R'
  BackendKeyData: 0x4b, // 'K'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  CommandComplete: 0x43, // 'C'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  CopyBothResponse: 0x57, // 'W'
  DataRow: 0x44, // 'D'
  EmptyQueryResponse: 0x49, // 'I'
  ErrorResponse: 0x45, // 'E'
  FunctionCallResponse: 0x56, // 'V'
  NegotiateProtocolVersion: 0x76, // 'v'
  NoData: 0x6e, // 'n'
  NoticeResponse: 0x4e, // 'N'
  NotificationResponse: 0x41, // 'A'
  ParameterDescription: 0x74, // 't'
  ParameterStatus: 0x53, // 'S'
  ParseComplete: 0x31, // '1'
  PortalSuspended: 0x73, // 's'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54, // 'T'
} as const);

/**
 * The first byte of each typed message the client sends. StartupMessage, SSLRequest,
 * GSSENCRequest and CancelRequest have no type byte; see `requestCodes`. PasswordMessage
 * also carries GSSResponse, SASLInitialResponse and SASLResponse, which share 'p'.
 */
export const frontendMessageCodes = Object.freeze({
  Bind: 0x42, // 'B'
  Close: 0x43, // 'C'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  Describe: 0x44, // 'D'
  Execute: 0x45, // 'E'
  Flush: 0x48, // 'H'
  FunctionCall: 0x46, // 'F'
  PasswordMessage: 0x70, // 'p'
  Parse: 0x50, // 'P'
  Query: 0x51, // 'Q'
  Sync: 0x53, // 'S'
  Terminate: 0x58, // 'X'
} as const);

/** The Int32 subtype that follows the length of an Authentication ('R') message. */
export const authenticationCodes = Object.freeze({
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const);

/** The Int32 code that identifies each untyped startup-phase request after its length. */
export const requestCodes = Object.freeze({
  CancelRequest: 80877102, // 1234 << 16 | 5678
  SSLRequest: 80877103, // 1234 << 16 | 5679
  GSSENCRequest: 80877104, // 1234 << 16 | 5680
} as const);

/** StartupMessage protocol version numbers: major in the high 16 bits, minor in the low. */
export const protocolVersions = Object.freeze({
  v3_0: 196608, // 3 << 16 | 0
  v3_2: 196610, // 3 << 16 | 2
} as const);
