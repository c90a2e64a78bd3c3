import { backendMessageCodes } from '../codes.js';
import { type DecoderOptions, FrameBuffer, type FrameScan } from '../frame.js';
import {
  type BackendMessage,
  decodeOtherBackendMessage,
  type OtherBackendMessage,
} from './messages.js';
import {
  decodeNotificationFields,
  type NotificationFields,
  NotificationReader,
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
 * one chunk, decode the same) and call `next` until it returns null. Notifications have one
 * reader, with one channel cache: `nextNotification` (the fields, as a connection queues
 * them), on which `next` builds its tagged NotificationResponse; `nextOther` reads any other
 * message, and `scan` counts the notifications ahead without decoding them.
 *
 * Ownership: the decoder keeps a reference to each chunk given to `push` until all of its
 * bytes have been returned as messages; do not modify a chunk after pushing it. `pushCopy`
 * copies instead, into a buffer the decoder reuses, for a caller that reuses its own; that
 * buffer goes back to a small size whenever everything in it has been read. Returned
 * messages own their data (strings, numbers, copied bytes) and never change afterwards,
 * whatever happens to the chunks.
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
  private readonly notifications = new NotificationReader();

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

  /**
   * The next whole message, or null when more bytes are needed. A notification comes as a
   * NotificationResponse made from what nextNotification() reads. Throws ProtocolError.
   */
  next(): BackendMessage | null {
    const notification = this.nextNotification();
    if (notification === null) return this.nextOther();
    return {
      type: 'NotificationResponse',
      processId: notification.processId,
      channel: notification.channel,
      payload: notification.payload,
    };
  }

  /**
   * The next message when it is a whole NotificationResponse, as its fields (without the
   * `type` tag: what a connection queues); null, consuming nothing, when more bytes are needed
   * or a message of another type comes next. Throws ProtocolError for a bad header or a
   * malformed body.
   */
  nextNotification(): NotificationFields | null {
    const frames = this.frames;
    const notification = frames.nextWith(notificationCode, this.notifications);
    if (notification !== null || frames.nextType() !== notificationCode) return notification;
    const frame = frames.next(true);
    if (frame === null) return null;
    return frame.readWith(this.notifications) ?? decodeNotificationFields(frame);
  }

  /**
   * The next message when it is not a NotificationResponse; null, consuming nothing, when more
   * bytes are needed or a NotificationResponse comes next (read it with nextNotification).
   * Throws ProtocolError.
   */
  nextOther(): OtherBackendMessage | null {
    if (this.frames.nextType() === notificationCode) return null;
    const frame = this.frames.next(true);
    return frame === null ? null : decodeOtherBackendMessage(frame);
  }

  /**
   * Counts the whole NotificationResponse frames that follow one another from stream offset
   * `from` (the read position, `offset`, or where an earlier scan ended while nothing was read
   * since but the frames it counted), up to the end of the input, a frame not complete yet, or
   * a message of another type or a bad header (`blocked`, which nextOther or nextNotification
   * then returns or throws). Decodes and consumes nothing; checks headers only. Never blocks.
   */
  scan(from: number): FrameScan {
    return this.frames.scan(notificationCode, from);
  }

  /** The stream offset of the read position: bytes consumed as messages so far. */
  get offset(): number {
    return this.frames.offset;
  }

  /** Number of bytes pushed and not yet returned as messages. */
  get bufferedBytes(): number {
    return this.frames.bufferedBytes;
  }

  /**
   * The size of the buffer pushCopy copies into: grown by a burst, 0 before the first copy and
   * once everything pushed has been read (the buffer is then let go).
   */
  get copyBufferSize(): number {
    return this.frames.copyBufferSize;
  }
}
