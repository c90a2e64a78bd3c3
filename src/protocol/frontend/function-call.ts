import { frontendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/** 'F' FunctionCall (protocol-flow.html "Function Call"): the legacy fast-path interface. */
export interface FunctionCall {
  type: 'FunctionCall';
  functionOid: number;
  /** Empty (all text), one code for all, or one per argument: 0 text, 1 binary. */
  argumentFormats: number[];
  /** Argument values (copies owned by the message), null for NULL. */
  arguments: Array<Uint8Array | null>;
  /** 0 text, 1 binary. */
  resultFormat: number;
}

/** Arguments of writeFunctionCall; strings go as UTF-8 text. */
export interface FunctionCallOptions {
  functionOid: number;
  arguments: Array<string | Uint8Array | null>;
  /** Default: none (all text). */
  argumentFormats?: number[];
  /** Default 0 (text). */
  resultFormat?: number;
}

/** Writes a FunctionCall. */
export function writeFunctionCall(w: Writer, call: FunctionCallOptions): void {
  w.beginMessage(frontendMessageCodes.FunctionCall)
    .int32(call.functionOid)
    .int16List(call.argumentFormats ?? [])
    .lengthPrefixedList(call.arguments)
    .int16(call.resultFormat ?? 0)
    .finishMessage();
}

/** Decodes a FunctionCall body. */
export function decodeFunctionCall(f: Frame): FunctionCall {
  const functionOid = f.uint32();
  const argumentFormats = f.int16List();
  const values = f.nullableBytesList();
  const resultFormat = f.int16();
  f.finish();
  return { type: 'FunctionCall', functionOid, argumentFormats, arguments: values, resultFormat };
}
