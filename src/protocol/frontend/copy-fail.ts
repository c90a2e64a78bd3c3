import { frontendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/**
 * 'f' CopyFail (protocol-flow.html "COPY Operations"): the client aborts a COPY FROM STDIN.
 * CopyData and CopyDone are shared with the backend, in backend/copy.ts.
 */
export interface CopyFail {
  type: 'CopyFail';
  /** Why the copy failed; the server puts it in its error. */
  message: string;
}

/** Writes a CopyFail. */
export function writeCopyFail(w: Writer, message: string): void {
  w.beginMessage(frontendMessageCodes.CopyFail).cstring(message).finishMessage();
}

/** Decodes a CopyFail body. */
export function decodeCopyFail(f: Frame): CopyFail {
  const message = f.cstring();
  f.finish();
  return { type: 'CopyFail', message };
}
