import { backendMessageCodes, frontendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/**
 * COPY messages (protocol-message-formats.html, protocol-flow.html "COPY Operations").
 * CopyData ('d') and CopyDone ('c') have the same format in both directions, so both the
 * backend and the frontend codecs use the definitions here.
 */

/** 'G', 'H', 'W': the server is ready to copy in, out, or both ways (replication). */
export interface CopyResponse<T extends CopyResponseType = CopyResponseType> {
  type: T;
  /** 0 textual, 1 binary. */
  overallFormat: number;
  /** Format of each column: 0 text, 1 binary. */
  columnFormats: number[];
}
/** Names of the three CopyResponse messages. */
export type CopyResponseType = 'CopyInResponse' | 'CopyOutResponse' | 'CopyBothResponse';
/** 'G': the server waits for CopyData from the client. */
export type CopyInResponse = CopyResponse<'CopyInResponse'>;
/** 'H': the server will send CopyData. */
export type CopyOutResponse = CopyResponse<'CopyOutResponse'>;
/** 'W': both sides send CopyData (streaming replication). */
export type CopyBothResponse = CopyResponse<'CopyBothResponse'>;

/** 'd': a piece of COPY data; `data` is a copy owned by the message. */
export interface CopyData {
  type: 'CopyData';
  data: Uint8Array;
}

/** 'c': the end of COPY data. */
export interface CopyDone {
  type: 'CopyDone';
}

/** The shared CopyDone value. */
export const copyDone: CopyDone = Object.freeze({ type: 'CopyDone' });

/** Decodes a CopyInResponse, CopyOutResponse or CopyBothResponse body. */
export function decodeCopyResponse<T extends CopyResponseType>(f: Frame, type: T): CopyResponse<T> {
  const overallFormat = f.uint8();
  const columnFormats = f.int16List();
  f.finish();
  return { type, overallFormat, columnFormats };
}

/** Writes a CopyInResponse, CopyOutResponse or CopyBothResponse message. */
export function writeCopyResponse(w: Writer, message: CopyResponse): void {
  w.beginMessage(backendMessageCodes[message.type])
    .uint8(message.overallFormat)
    .int16List(message.columnFormats)
    .finishMessage();
}

/** Decodes a CopyData body (either direction). */
export function decodeCopyData(f: Frame): CopyData {
  return { type: 'CopyData', data: f.rest() };
}

/** Writes a CopyData message (either direction); `data` is copied into the writer. */
export function writeCopyData(w: Writer, data: Uint8Array): void {
  w.beginMessage(frontendMessageCodes.CopyData).bytes(data).finishMessage();
}

/** Writes a CopyDone message (either direction). */
export function writeCopyDone(w: Writer): void {
  w.beginMessage(frontendMessageCodes.CopyDone).finishMessage();
}
