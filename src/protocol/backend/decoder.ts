import { backendMessageCodes } from '../codes.js';
import { type DecoderOptions, type Frame, FrameBuffer } from '../frame.js';
import {
  type BackendMessage,
  decodeOtherBackendMessage,
  type OtherBackendMessage,
} from './messages.js';
import {
  decodeNotificationFields,
  type NotificationFields,
  NotificationReader,
  type NotificationResponse,
} from './notification-response.js';

const notificationCode = backendMessageCodes.NotificationResponse;

/** NAMEDATALEN - 1: the longest channel name, in bytes of the server encoding. */
const maxChannelBytes = 63;
/** NOTIFY_PAYLOAD_MAX_LENGTH - 1 with the default BLCKSZ of 8192: 8192 - 64 - 128 - 1. */
const maxPayloadBytes = 7999;
/** MAX_CONVERSION_GROWTH: client_encoding conversion makes a string at most 4 times longer. */
const conversionGrowth = 4;
/** MaxTupleAttributeNumber: the most columns a result or a COPY can have. */
const maxColumns = 1664;
/**
 * For messages of a fixed size or a short tag (ReadyForQuery, BackendKeyData, CommandComplete,
 * ...): generous, so that a body of the wrong size is reported by the body check, precisely.
 */
const smallLimit = 1024;
/** Room for server-reported text of no fixed size (GUC values, SASL and GSS tokens). */
const metadataLimit = 1024 * 1024;

/**
 * The largest length field the server can send for each message type whose size it bounds,
 * checked from the header alone (see Decoder). A length over it is a corrupt stream, not a
 * big message: without this cap a corrupt length in a NotificationResponse (say 16 MiB more)
 * would swallow the following messages into one frame that completes only much later. Types
 * not listed (DataRow, CopyData, FunctionCallResponse, ErrorResponse, NoticeResponse: their
 * size is the data's or the application's) are bounded by `maxMessageSize` alone.
 *
 * NotificationResponse: pid, channel and payload, each string at most 4 times its size on the
 * server after conversion to client_encoding; this assumes a server built with the default
 * BLCKSZ (8 KiB), as every packaged build is.
 */
export const backendMessageLimits: Readonly<Record<string, number>> = Object.freeze({
  NotificationResponse:
    4 + 4 + (maxChannelBytes * conversionGrowth + 1) + (maxPayloadBytes * conversionGrowth + 1),
  BackendKeyData: smallLimit,
  ReadyForQuery: smallLimit,
  BindComplete: smallLimit,
  CloseComplete: smallLimit,
  CopyDone: smallLimit,
  EmptyQueryResponse: smallLimit,
  NoData: smallLimit,
  ParseComplete: smallLimit,
  PortalSuspended: smallLimit,
  CommandComplete: smallLimit,
  CopyInResponse: 4 + 1 + 2 + 2 * maxColumns,
  CopyOutResponse: 4 + 1 + 2 + 2 * maxColumns,
  CopyBothResponse: 4 + 1 + 2 + 2 * maxColumns,
  RowDescription: 4 + 2 + maxColumns * (maxChannelBytes * conversionGrowth + 1 + 18),
  ParameterDescription: 4 + 2 + 4 * 65535,
  ParameterStatus: metadataLimit,
  NegotiateProtocolVersion: metadataLimit,
  Authentication: metadataLimit,
});

/**
 * Turns the bytes a server sends (after the SSLRequest/GSSENCRequest answer, if any) into
 * BackendMessages. Pure: no I/O, timers or callbacks of its own, and no method ever blocks.
 *
 * Feed it with `push` in any chunking (a frame split at any byte, or thousands of frames in
 * one chunk, decode the same) and call `next` until it returns null. `nextOther` does the
 * same but hands notifications to a callback; `notificationsAhead` and `nextNotification`
 * count notifications first and decode them only when they are taken.
 *
 * Ownership: the decoder keeps a reference to each chunk given to `push` until all of its
 * bytes have been returned as messages; do not modify a chunk after pushing it. `pushCopy`
 * copies instead, into a buffer the decoder reuses, for a caller that reuses its own.
 * Returned messages own their data (strings, numbers, copied bytes) and never change
 * afterwards, whatever happens to the chunks.
 *
 * Errors: bytes that break the protocol (see ProtocolError) make the reading methods throw
 * a ProtocolError whose `offset` counts from the first byte ever pushed. The decoder then
 * stays failed: every later `next` throws the same error, and `push` ignores its input.
 * The length field is checked against `maxMessageSize`, and against the type's own bound in
 * `backendMessageLimits` (a NotificationResponse over 32258 bytes is corrupt), from the
 * header alone, before the body arrives or any memory is set aside for it.
 */
export class Decoder {
  private readonly frames: FrameBuffer;
  /** The hot path for notifications, for `next` (tagged) and for the other readers. */
  private readonly tagged: NotificationReader<NotificationResponse> = NotificationReader.tagged();
  private readonly untagged: NotificationReader<NotificationFields> = NotificationReader.untagged();
  /** Read position that `ahead` counts from; anything but nextNotification moves it. */
  private aheadAt = -1;
  /** Whole NotificationResponse frames counted from aheadAt, and where the count stopped. */
  private ahead = 0;
  private aheadEnd = 0;

  constructor(options?: DecoderOptions) {
    this.frames = new FrameBuffer(backendMessageCodes, 'message', options, backendMessageLimits);
  }

  /** Adds bytes received from the server. Keeps a reference to `chunk` until it is consumed. */
  push(chunk: Uint8Array): void {
    this.frames.push(chunk);
  }

  /**
   * Adds a copy of bytes received from the server; the caller may reuse `bytes` at once. The
   * copies go into one buffer the decoder reuses (see FrameBuffer.pushCopy).
   */
  pushCopy(bytes: Uint8Array): void {
    this.frames.pushCopy(bytes);
  }

  /** The next whole message, or null when more bytes are needed. Throws ProtocolError. */
  next(): BackendMessage | null {
    return this.frames.nextWith(notificationCode, this.tagged) ?? this.nextThroughFrame();
  }

  /** `next` for everything but a well-formed notification whole in the current chunk. */
  private nextThroughFrame(): BackendMessage | null {
    const frame = this.frames.next(true);
    if (frame === null) return null;
    if (frame.type !== notificationCode) return decodeOtherBackendMessage(frame);
    return (
      frame.readWith(this.tagged) ?? {
        type: 'NotificationResponse',
        ...decodeNotificationFields(frame),
      }
    );
  }

  /**
   * The notification in a NotificationResponse frame from `frames.next`, untagged: read in
   * one call, or field by field when the reader declines, which throws what is malformed.
   */
  private untaggedIn(frame: Frame): NotificationFields {
    return frame.readWith(this.untagged) ?? decodeNotificationFields(frame);
  }

  /**
   * Like `next`, but every NotificationResponse on the way is handed to `onNotification`
   * (synchronously, in stream order, without its `type` tag) instead of being returned:
   * returns the next message of any other type, or null when more bytes are needed. Throws
   * ProtocolError, and whatever `onNotification` throws (the frame it was given is consumed).
   */
  nextOther(
    onNotification: (notification: NotificationFields) => void,
  ): OtherBackendMessage | null {
    for (;;) {
      const notification = this.frames.nextWith(notificationCode, this.untagged);
      if (notification !== null) {
        onNotification(notification);
        continue;
      }
      const frame = this.frames.next(true);
      if (frame === null) return null;
      if (frame.type !== notificationCode) return decodeOtherBackendMessage(frame);
      onNotification(this.untaggedIn(frame));
    }
  }

  /**
   * The number of whole NotificationResponse frames that come next, before any message of
   * another type, bad header or frame not complete yet: what nextNotification() can take,
   * one at a time. Decodes and consumes nothing. Only bytes pushed since the previous call
   * are scanned, as long as nothing but nextNotification() read in between. Never blocks.
   */
  notificationsAhead(): number {
    const at = this.frames.offset;
    if (at !== this.aheadAt) {
      this.aheadAt = at;
      this.aheadEnd = at;
      this.ahead = 0;
    }
    this.ahead += this.frames.scan(notificationCode, this.aheadEnd);
    this.aheadEnd = this.frames.scanEnd;
    return this.ahead;
  }

  /**
   * True when the last notificationsAhead() stopped at a message of another type or at a
   * bad header, which `next` or `nextOther` would return or reject; false when it stopped
   * at the end of the input.
   */
  get blockedAhead(): boolean {
    return this.frames.scanBlocked;
  }

  /**
   * Decodes the next message, which notificationsAhead() counted as a NotificationResponse,
   * without its `type` tag; null when notificationsAhead() would return 0. Throws
   * ProtocolError when the body is malformed (only headers were checked by the count).
   */
  nextNotification(): NotificationFields | null {
    if (this.ahead === 0 || this.frames.offset !== this.aheadAt) {
      if (this.notificationsAhead() === 0) return null;
    }
    // A counted frame is whole and has a valid header, so next() returns it.
    const notification =
      this.frames.nextWith(notificationCode, this.untagged) ??
      this.untaggedIn(this.frames.next(true)!);
    this.ahead--;
    this.aheadAt = this.frames.offset;
    return notification;
  }

  /** Number of bytes pushed and not yet returned as messages. */
  get bufferedBytes(): number {
    return this.frames.bufferedBytes;
  }
}
