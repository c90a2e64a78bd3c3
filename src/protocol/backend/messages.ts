import { backendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';
import {
  type AuthenticationMessage,
  decodeAuthentication,
  writeAuthentication,
} from './authentication.js';
import {
  type CopyBothResponse,
  type CopyData,
  type CopyDone,
  type CopyInResponse,
  type CopyOutResponse,
  copyDone,
  decodeCopyData,
  decodeCopyResponse,
  writeCopyData,
  writeCopyDone,
  writeCopyResponse,
} from './copy.js';
import {
  type BindComplete,
  bindComplete,
  type CloseComplete,
  closeComplete,
  decodeParameterDescription,
  type NoData,
  noData,
  type ParameterDescription,
  type ParseComplete,
  type PortalSuspended,
  parseComplete,
  portalSuspended,
  writeParameterDescription,
} from './extended-query.js';
import {
  decodeFunctionCallResponse,
  type FunctionCallResponse,
  writeFunctionCallResponse,
} from './function-call-response.js';
import {
  decodeErrorResponse,
  decodeNoticeResponse,
  type ErrorResponse,
  type NoticeResponse,
  writeNoticeMessage,
} from './notice.js';
import { type NotificationResponse, writeNotificationResponse } from './notification-response.js';
import {
  type CommandComplete,
  type DataRow,
  decodeCommandComplete,
  decodeDataRow,
  decodeRowDescription,
  type EmptyQueryResponse,
  emptyQueryResponse,
  type RowDescription,
  writeCommandComplete,
  writeDataRow,
  writeRowDescription,
} from './query-results.js';
import {
  type BackendKeyData,
  decodeBackendKeyData,
  decodeNegotiateProtocolVersion,
  decodeParameterStatus,
  decodeReadyForQuery,
  type NegotiateProtocolVersion,
  type ParameterStatus,
  type ReadyForQuery,
  writeBackendKeyData,
  writeNegotiateProtocolVersion,
  writeParameterStatus,
  writeReadyForQuery,
} from './session.js';

/**
 * Every message a server sends in protocol 3.0 and 3.2, discriminated by `type` (named as
 * in protocol-message-formats.html). Switching on `type` narrows to one member. Every member
 * owns its data: numbers, strings and copied bytes; members without fields are shared frozen
 * values.
 */
export type BackendMessage =
  | AuthenticationMessage
  | BackendKeyData
  | BindComplete
  | CloseComplete
  | CommandComplete
  | CopyBothResponse
  | CopyData
  | CopyDone
  | CopyInResponse
  | CopyOutResponse
  | DataRow
  | EmptyQueryResponse
  | ErrorResponse
  | FunctionCallResponse
  | NegotiateProtocolVersion
  | NoData
  | NoticeResponse
  | NotificationResponse
  | ParameterDescription
  | ParameterStatus
  | ParseComplete
  | PortalSuspended
  | ReadyForQuery
  | RowDescription;

/** Every BackendMessage but NotificationResponse, which the Decoder handles on its own. */
export type OtherBackendMessage = Exclude<BackendMessage, NotificationResponse>;

/**
 * Decodes the body of the frame by its type byte; a NotificationResponse is not decoded here
 * (the Decoder gives it a hot path of its own) and fails as an unknown type.
 */
export function decodeOtherBackendMessage(f: Frame): OtherBackendMessage {
  switch (f.type) {
    case backendMessageCodes.DataRow:
      return decodeDataRow(f);
    case backendMessageCodes.CommandComplete:
      return decodeCommandComplete(f);
    case backendMessageCodes.ReadyForQuery:
      return decodeReadyForQuery(f);
    case backendMessageCodes.RowDescription:
      return decodeRowDescription(f);
    case backendMessageCodes.CopyData:
      return decodeCopyData(f);
    case backendMessageCodes.ParameterStatus:
      return decodeParameterStatus(f);
    case backendMessageCodes.NoticeResponse:
      return decodeNoticeResponse(f);
    case backendMessageCodes.ErrorResponse:
      return decodeErrorResponse(f);
    case backendMessageCodes.Authentication:
      return decodeAuthentication(f);
    case backendMessageCodes.BackendKeyData:
      return decodeBackendKeyData(f);
    case backendMessageCodes.NegotiateProtocolVersion:
      return decodeNegotiateProtocolVersion(f);
    case backendMessageCodes.ParseComplete:
      return f.finishWith(parseComplete);
    case backendMessageCodes.BindComplete:
      return f.finishWith(bindComplete);
    case backendMessageCodes.CloseComplete:
      return f.finishWith(closeComplete);
    case backendMessageCodes.NoData:
      return f.finishWith(noData);
    case backendMessageCodes.PortalSuspended:
      return f.finishWith(portalSuspended);
    case backendMessageCodes.EmptyQueryResponse:
      return f.finishWith(emptyQueryResponse);
    case backendMessageCodes.CopyDone:
      return f.finishWith(copyDone);
    case backendMessageCodes.ParameterDescription:
      return decodeParameterDescription(f);
    case backendMessageCodes.CopyInResponse:
      return decodeCopyResponse(f, 'CopyInResponse');
    case backendMessageCodes.CopyOutResponse:
      return decodeCopyResponse(f, 'CopyOutResponse');
    case backendMessageCodes.CopyBothResponse:
      return decodeCopyResponse(f, 'CopyBothResponse');
    case backendMessageCodes.FunctionCallResponse:
      return decodeFunctionCallResponse(f);
    default:
      return f.fail('unknown message type', f.pos - 5);
  }
}

/**
 * Appends `message` to `w` in wire format. Meant for tests and scripted fake servers; the
 * client itself never sends backend messages. Throws a RangeError or TypeError (and leaves
 * `w` as it was) for a value the format cannot carry.
 */
export function writeBackendMessage(w: Writer, message: BackendMessage): void {
  switch (message.type) {
    case 'AuthenticationOk':
    case 'AuthenticationKerberosV5':
    case 'AuthenticationCleartextPassword':
    case 'AuthenticationMD5Password':
    case 'AuthenticationGSS':
    case 'AuthenticationGSSContinue':
    case 'AuthenticationSSPI':
    case 'AuthenticationSASL':
    case 'AuthenticationSASLContinue':
    case 'AuthenticationSASLFinal':
      writeAuthentication(w, message);
      return;
    case 'BackendKeyData':
      writeBackendKeyData(w, message);
      return;
    case 'NegotiateProtocolVersion':
      writeNegotiateProtocolVersion(w, message);
      return;
    case 'ParameterStatus':
      writeParameterStatus(w, message);
      return;
    case 'ReadyForQuery':
      writeReadyForQuery(w, message);
      return;
    case 'RowDescription':
      writeRowDescription(w, message);
      return;
    case 'DataRow':
      writeDataRow(w, message);
      return;
    case 'CommandComplete':
      writeCommandComplete(w, message);
      return;
    case 'ErrorResponse':
    case 'NoticeResponse':
      writeNoticeMessage(w, message);
      return;
    case 'NotificationResponse':
      writeNotificationResponse(w, message);
      return;
    case 'ParameterDescription':
      writeParameterDescription(w, message);
      return;
    case 'CopyInResponse':
    case 'CopyOutResponse':
    case 'CopyBothResponse':
      writeCopyResponse(w, message);
      return;
    case 'CopyData':
      writeCopyData(w, message.data);
      return;
    case 'CopyDone':
      writeCopyDone(w);
      return;
    case 'FunctionCallResponse':
      writeFunctionCallResponse(w, message);
      return;
    case 'EmptyQueryResponse':
    case 'ParseComplete':
    case 'BindComplete':
    case 'CloseComplete':
    case 'NoData':
    case 'PortalSuspended':
      w.beginMessage(backendMessageCodes[message.type]).finishMessage();
      return;
  }
}
