import { frontendMessageCodes } from '../codes.js';
import { type DecoderOptions, FrameBuffer } from '../frame.js';
import { decodeFrontendMessage, type FrontendMessage } from './messages.js';
import { decodeStartupPacket } from './startup.js';

/**
 * Turns the bytes a client sends into FrontendMessages, for scripted fake servers and tests.
 * It starts in the startup phase, where packets have no type byte and are told apart by
 * their code (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest); after a
 * StartupMessage it reads typed messages. An SSLRequest or GSSENCRequest keeps it in the
 * startup phase, since a StartupMessage follows the one-byte answer.
 *
 * Same rules as Decoder: pure, never blocks; keeps references to pushed chunks until their
 * bytes are consumed (do not modify them after pushing); returned messages own their data;
 * after a ProtocolError it stays failed.
 */
export class FrontendDecoder {
  private readonly frames: FrameBuffer;
  private startupPhase = true;

  constructor(options?: DecoderOptions) {
    this.frames = new FrameBuffer(frontendMessageCodes, 'startup packet', options);
  }

  /** Adds bytes received from the client. Keeps a reference to `chunk` until it is consumed. */
  push(chunk: Uint8Array): void {
    this.frames.push(chunk);
  }

  /** The next whole message, or null when more bytes are needed. Throws ProtocolError. */
  next(): FrontendMessage | null {
    const frame = this.frames.next(!this.startupPhase);
    if (frame === null) return null;
    if (!this.startupPhase) return decodeFrontendMessage(frame);
    const message = decodeStartupPacket(frame);
    if (message.type === 'StartupMessage') this.startupPhase = false;
    return message;
  }

  /** True until a StartupMessage has been decoded. */
  get inStartupPhase(): boolean {
    return this.startupPhase;
  }

  /** Number of bytes pushed and not yet returned as messages. */
  get bufferedBytes(): number {
    return this.frames.bufferedBytes;
  }
}
