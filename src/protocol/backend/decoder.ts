import { backendMessageCodes } from '../codes.js';
import { type DecoderOptions, FrameBuffer } from '../frame.js';
import { type BackendMessage, decodeBackendMessage } from './messages.js';
import { decodeNotificationResponse } from './notification-response.js';

/**
 * Turns the bytes a server sends (after the SSLRequest/GSSENCRequest answer, if any) into
 * BackendMessages. Pure: no I/O, timers or callbacks, and no method ever blocks.
 *
 * Feed it with `push` in any chunking (a frame split at any byte, or thousands of frames in
 * one chunk, decode the same) and call `next` until it returns null.
 *
 * Ownership: the decoder keeps a reference to each pushed chunk until all of its bytes have
 * been returned as messages; do not modify a chunk after pushing it. Returned messages own
 * their data (strings, numbers, copied bytes) and never change afterwards, whatever happens
 * to the chunks.
 *
 * Errors: bytes that break the protocol (see ProtocolError) make `next` throw a
 * ProtocolError whose `offset` counts from the first byte ever pushed. The decoder then
 * stays failed: every later `next` throws the same error, and `push` ignores its input.
 * The length field is checked against `maxMessageSize` from the header alone, before the
 * body arrives or any memory is set aside for it.
 */
export class Decoder {
  private readonly frames: FrameBuffer;

  constructor(options?: DecoderOptions) {
    this.frames = new FrameBuffer(backendMessageCodes, 'message', options);
  }

  /** Adds bytes received from the server. Keeps a reference to `chunk` until it is consumed. */
  push(chunk: Uint8Array): void {
    this.frames.push(chunk);
  }

  /** The next whole message, or null when more bytes are needed. Throws ProtocolError. */
  next(): BackendMessage | null {
    const frame = this.frames.next(true);
    if (frame === null) return null;
    // The hot path gets its own call site, so it is not hidden behind the big dispatch.
    return frame.type === backendMessageCodes.NotificationResponse
      ? decodeNotificationResponse(frame)
      : decodeBackendMessage(frame);
  }

  /** Number of bytes pushed and not yet returned as messages. */
  get bufferedBytes(): number {
    return this.frames.bufferedBytes;
  }
}
