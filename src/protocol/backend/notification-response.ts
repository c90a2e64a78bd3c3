import { backendMessageCodes } from '../codes.js';
import type { Frame } from '../frame.js';
import type { Writer } from '../writer.js';

/**
 * The fields of a NotificationResponse without its `type` tag: libpq's PGnotify (relname,
 * extra, be_pid). What a connection queues for its users, who never see the tag.
 */
export interface NotificationFields {
  /** The channel name. */
  channel: string;
  /** The payload ('' when NOTIFY gave none). */
  payload: string;
  /** Process ID of the backend that sent the notification. */
  processId: number;
}

/**
 * 'A' NotificationResponse (protocol-message-formats.html, protocol-flow.html
 * "Asynchronous Operations"): a NOTIFY delivered to a session that LISTENs on the channel.
 * It can arrive at any time, between or inside query cycles, so it is the decoder's hot path.
 */
export interface NotificationResponse extends NotificationFields {
  type: 'NotificationResponse';
}

/** Decodes a NotificationResponse body into owned strings. */
export function decodeNotificationResponse(f: Frame): NotificationResponse {
  const processId = f.int32();
  const channel = f.repeatedCstring();
  const payload = f.lastCstring();
  // One object literal site keeps every NotificationResponse on the same hidden class.
  return { type: 'NotificationResponse', processId, channel, payload };
}

/**
 * Decodes a NotificationResponse body into owned strings, without the `type` tag: for a
 * consumer that queues notifications as they are, with no second object per notification.
 */
export function decodeNotificationFields(f: Frame): NotificationFields {
  const processId = f.int32();
  const channel = f.repeatedCstring();
  const payload = f.lastCstring();
  return { channel, payload, processId };
}

/** Writes a NotificationResponse message. */
export function writeNotificationResponse(w: Writer, message: NotificationResponse): void {
  w.beginMessage(backendMessageCodes.NotificationResponse)
    .int32(message.processId)
    .cstring(message.channel)
    .cstring(message.payload)
    .finishMessage();
}
