import {
  type CopyData,
  type CopyDone,
  copyDone,
  decodeCopyData,
  writeCopyData,
  writeCopyDone,
} from '../backend/copy.js';
import { frontendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';
import { type CopyFail, decodeCopyFail, writeCopyFail } from './copy-fail.js';
import {
  type Bind,
  type Close,
  type Describe,
  decodeBind,
  decodeClose,
  decodeDescribe,
  decodeExecute,
  decodeParse,
  type Execute,
  type Flush,
  flush,
  type Parse,
  type Sync,
  sync,
  writeBind,
  writeClose,
  writeDescribe,
  writeExecute,
  writeFlush,
  writeParse,
  writeSync,
} from './extended-query.js';
import { decodeFunctionCall, type FunctionCall, writeFunctionCall } from './function-call.js';
import { decodePasswordMessage, type PasswordMessage } from './password.js';
import { decodeQuery, type Query, writeQuery } from './query.js';
import {
  type CancelRequest,
  type GSSENCRequest,
  type SSLRequest,
  type StartupMessage,
  writeCancelRequest,
  writeGSSENCRequest,
  writeSSLRequest,
  writeStartupMessage,
} from './startup.js';
import { type Terminate, terminate, writeTerminate } from './terminate.js';

/**
 * Every message a client sends in protocol 3.0 and 3.2, discriminated by `type`. The four
 * untyped startup-phase packets come first in a session; the rest are typed. Members own
 * their data; members without fields are shared frozen values.
 */
export type FrontendMessage =
  | StartupMessage
  | SSLRequest
  | GSSENCRequest
  | CancelRequest
  | PasswordMessage
  | Query
  | Parse
  | Bind
  | Describe
  | Execute
  | Sync
  | Flush
  | Close
  | Terminate
  | CopyData
  | CopyDone
  | CopyFail
  | FunctionCall;

/** Decodes the body of a typed frontend frame by its type byte. */
export function decodeFrontendMessage(f: Frame): FrontendMessage {
  switch (f.type) {
    case frontendMessageCodes.Query:
      return decodeQuery(f);
    case frontendMessageCodes.Parse:
      return decodeParse(f);
    case frontendMessageCodes.Bind:
      return decodeBind(f);
    case frontendMessageCodes.Describe:
      return decodeDescribe(f);
    case frontendMessageCodes.Execute:
      return decodeExecute(f);
    case frontendMessageCodes.Sync:
      return f.finishWith(sync);
    case frontendMessageCodes.Flush:
      return f.finishWith(flush);
    case frontendMessageCodes.Close:
      return decodeClose(f);
    case frontendMessageCodes.Terminate:
      return f.finishWith(terminate);
    case frontendMessageCodes.PasswordMessage:
      return decodePasswordMessage(f);
    case frontendMessageCodes.CopyData:
      return decodeCopyData(f);
    case frontendMessageCodes.CopyDone:
      return f.finishWith(copyDone);
    case frontendMessageCodes.CopyFail:
      return decodeCopyFail(f);
    case frontendMessageCodes.FunctionCall:
      return decodeFunctionCall(f);
    default:
      return f.fail('unknown message type', f.pos - 5);
  }
}

/**
 * Appends `message` to `w` in wire format, so that decoding it gives the same message. For
 * tests and tools; clients normally call the write* function of each message.
 */
export function writeFrontendMessage(w: Writer, message: FrontendMessage): void {
  switch (message.type) {
    case 'StartupMessage': {
      const { major, minor } = message.protocolVersion;
      if (major !== 3) throw new RangeError(`unsupported protocol major version ${major}`);
      writeStartupMessage(w, {
        protocolVersion: { major, minor },
        parameters: message.parameters,
      });
      return;
    }
    case 'SSLRequest':
      writeSSLRequest(w);
      return;
    case 'GSSENCRequest':
      writeGSSENCRequest(w);
      return;
    case 'CancelRequest':
      writeCancelRequest(w, message.processId, message.secretKey);
      return;
    case 'PasswordMessage':
      w.beginMessage(frontendMessageCodes.PasswordMessage).bytes(message.data).finishMessage();
      return;
    case 'Query':
      writeQuery(w, message.query);
      return;
    case 'Parse':
      writeParse(w, message);
      return;
    case 'Bind':
      writeBind(w, message);
      return;
    case 'Describe':
      writeDescribe(w, message.kind, message.name);
      return;
    case 'Execute':
      writeExecute(w, message.portal, message.maxRows);
      return;
    case 'Sync':
      writeSync(w);
      return;
    case 'Flush':
      writeFlush(w);
      return;
    case 'Close':
      writeClose(w, message.kind, message.name);
      return;
    case 'Terminate':
      writeTerminate(w);
      return;
    case 'CopyData':
      writeCopyData(w, message.data);
      return;
    case 'CopyDone':
      writeCopyDone(w);
      return;
    case 'CopyFail':
      writeCopyFail(w, message.message);
      return;
    case 'FunctionCall':
      writeFunctionCall(w, message);
      return;
  }
}
