import { backendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/** 'V' FunctionCallResponse (protocol-message-formats.html): the result of a FunctionCall. */
export interface FunctionCallResponse {
  type: 'FunctionCallResponse';
  /** The result value (a copy owned by the message), or null for NULL. */
  result: Uint8Array | null;
}

/** Decodes a FunctionCallResponse body. */
export function decodeFunctionCallResponse(f: Frame): FunctionCallResponse {
  const result = f.nullableBytes();
  f.finish();
  return { type: 'FunctionCallResponse', result };
}

/** Writes a FunctionCallResponse message. */
export function writeFunctionCallResponse(w: Writer, message: FunctionCallResponse): void {
  w.beginMessage(backendMessageCodes.FunctionCallResponse)
    .lengthPrefixed(message.result)
    .finishMessage();
}
