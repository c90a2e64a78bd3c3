import { backendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/**
 * Replies of the extended query protocol (protocol-message-formats.html, protocol-flow.html
 * "Extended Query"): ParseComplete, BindComplete, CloseComplete, NoData, PortalSuspended and
 * ParameterDescription. The messages without fields are shared frozen values.
 */

/** '1': a Parse succeeded. */
export interface ParseComplete {
  type: 'ParseComplete';
}
/** '2': a Bind succeeded. */
export interface BindComplete {
  type: 'BindComplete';
}
/** '3': a Close succeeded. */
export interface CloseComplete {
  type: 'CloseComplete';
}
/** 'n': the described statement or portal returns no rows. */
export interface NoData {
  type: 'NoData';
}
/** 's': an Execute reached its row limit before the portal was done. */
export interface PortalSuspended {
  type: 'PortalSuspended';
}

/** 't': the parameter types of a described statement. */
export interface ParameterDescription {
  type: 'ParameterDescription';
  parameterTypeOids: number[];
}

/** The shared ParseComplete value. */
export const parseComplete: ParseComplete = Object.freeze({ type: 'ParseComplete' });
/** The shared BindComplete value. */
export const bindComplete: BindComplete = Object.freeze({ type: 'BindComplete' });
/** The shared CloseComplete value. */
export const closeComplete: CloseComplete = Object.freeze({ type: 'CloseComplete' });
/** The shared NoData value. */
export const noData: NoData = Object.freeze({ type: 'NoData' });
/** The shared PortalSuspended value. */
export const portalSuspended: PortalSuspended = Object.freeze({ type: 'PortalSuspended' });

/** Decodes a ParameterDescription body. */
export function decodeParameterDescription(f: Frame): ParameterDescription {
  const parameterTypeOids = f.oidList();
  f.finish();
  return { type: 'ParameterDescription', parameterTypeOids };
}

/** Writes a ParameterDescription message. */
export function writeParameterDescription(w: Writer, message: ParameterDescription): void {
  w.beginMessage(backendMessageCodes.ParameterDescription)
    .int32List(message.parameterTypeOids)
    .finishMessage();
}
