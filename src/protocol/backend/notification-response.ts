import { backendMessageCodes } from '../codes.js';
import { type BodyReader, type Frame, int32At } from '../frame.js';
import { shortAsciiText, shortTextLength, utf8Text } from '../text.js';
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

/**
 * Decodes a NotificationResponse body into owned strings field by field, reporting every
 * malformation. The decoders read bodies with NotificationReader first, which declines only
 * malformed ones, so this is where their errors come from.
 */
export function decodeNotificationFields(f: Frame): NotificationFields {
  const processId = f.int32();
  const channel = f.cstring();
  const payload = f.cstring();
  return f.finishWith({ channel, payload, processId });
}

/**
 * Decodes `bytes[start, last)` as UTF-8, natively, then looks for a NUL in the result (cheaper
 * than a byte scan first); null when there is one.
 */
function lastText(bytes: Uint8Array, start: number, last: number): string | null {
  const text = utf8Text(bytes, start, last);
  return text.includes('\0') ? null : text;
}

const noChannel = new Uint8Array(0);

/**
 * Decodes NotificationResponse bodies where they lie (a BodyReader for FrameBuffer.nextWith
 * and Frame.readWith) into NotificationFields: the decoder's hot path, one per Decoder. It
 * remembers the last channel name, so a channel that repeats from message to message costs a
 * byte comparison instead of a new string; short ASCII payloads are built in JS, longer ones
 * decoded natively and then checked for an early NUL. A malformed body gives null, and the
 * Frame path (decodeNotificationFields) reports it.
 */
export class NotificationReader implements BodyReader<NotificationFields> {
  /**
   * The last channel name's bytes: none before the first notification, then room for the
   * server's 63 (grown for longer ones).
   */
  private channelBytes = noChannel;
  private channelLength = 0;
  private channelText = '';

  /** See BodyReader.read. */
  read(bytes: Uint8Array, start: number, end: number): NotificationFields | null {
    // processId, then two Strings, the second ending at the body's last byte.
    const last = end - 1;
    if (last - start < 5 || bytes[last] !== 0) return null;
    const processId = int32At(bytes, start);
    const channelAt = start + 4;
    const n = this.channelLength;
    let same = -1;
    if (channelAt + n < last && bytes[channelAt + n] === 0) {
      const remembered = this.channelBytes;
      same = 0;
      while (same < n && bytes[channelAt + same] === remembered[same]) same++;
    }
    const at = same === n ? channelAt + n + 1 : this.readChannel(bytes, channelAt, last);
    if (at < 0) return null;
    const channel = this.channelText;
    // A byte is ASCII and not NUL exactly when b | (b - 1) has bit 7 clear.
    let bits = 0x80;
    if (last - at <= shortTextLength) {
      bits = 0;
      for (let i = at; i < last; i++) {
        const b = bytes[i]!;
        bits |= b | (b - 1);
      }
    }
    const payload =
      (bits & 0x80) === 0 ? shortAsciiText(bytes, at, last - at) : lastText(bytes, at, last);
    if (payload === null) return null;
    return { channel, payload, processId };
  }

  /**
   * Decodes and remembers the channel name at `at`, which must end before `last`; returns
   * where the payload starts, or -1 for a malformed body.
   */
  private readChannel(bytes: Uint8Array, at: number, last: number): number {
    let nul = at;
    while (nul < last && bytes[nul] !== 0) nul++;
    if (nul === last) return -1;
    const length = nul - at;
    if (length > this.channelBytes.length) this.channelBytes = new Uint8Array(Math.max(length, 64));
    this.channelBytes.set(bytes.subarray(at, nul));
    this.channelLength = length;
    this.channelText = utf8Text(bytes, at, nul);
    return nul + 1;
  }
}

/** Writes a NotificationResponse message. */
export function writeNotificationResponse(w: Writer, message: NotificationResponse): void {
  w.beginMessage(backendMessageCodes.NotificationResponse)
    .int32(message.processId)
    .cstring(message.channel)
    .cstring(message.payload)
    .finishMessage();
}
