import { frontendMessageCodes } from '../codes.js';
import type { Writer } from '../writer.js';

/** 'X' Terminate (protocol-flow.html "Termination"): the client is closing the connection. */
export interface Terminate {
  type: 'Terminate';
}

/** The shared Terminate value. */
export const terminate: Terminate = Object.freeze({ type: 'Terminate' });

/** Writes a Terminate. */
export function writeTerminate(w: Writer): void {
  w.beginMessage(frontendMessageCodes.Terminate).finishMessage();
}
