/**
 * The benchmark's reference for JavaScript: what Node itself costs to receive notifications,
 * with no client library. A plaintext socket reads into one reused buffer (net.Socket `onread`);
 * over TLS (SSLRequest, then node:tls without verifying the server, as sslmode=require) the
 * decrypted chunks come as 'data' events; with direct TLS, node:tls opens the connection and
 * reads into one reused buffer too. Messages are parsed where they lie (only a message
 * cut by the end of a read is copied), and each NotificationResponse becomes a channel string
 * (the last one is reused while the bytes repeat), a payload string (Node's native UTF-8
 * decoder) and a pid, handed to a callback; or, for the server's ceiling, only its frame (where
 * the payload lies), with no string made. No checks beyond the frame lengths, no queue, trust
 * authentication only: a reference point for the clients under test, not a client. The
 * frontend messages come from src/protocol's writers, which cost the same as any hand-made bytes.
 */
import { once } from 'node:events';
import { connect as netConnect, type Socket, type TcpNetConnectOpts } from 'node:net';
import { type ConnectionOptions as TlsConnectionOptions, connect as tlsConnect } from 'node:tls';
import { int32At } from '../src/protocol/frame.js';
import {
  Writer,
  writeBind,
  writeDescribe,
  writeExecute,
  writeParse,
  writeQuery,
  writeSSLRequest,
  writeStartupMessage,
  writeSync,
} from '../src/protocol/index.js';
import { utf8Text } from '../src/protocol/text.js';

/** Receives one notification; the strings are the callback's to keep. */
export type RawNotificationHandler = (channel: string, payload: string, processId: number) => void;

/**
 * Receives one notification's frame: its payload is bytes[payloadStart, payloadEnd), valid
 * during the call only (no string is made).
 */
export type RawFrameHandler = (bytes: Uint8Array, payloadStart: number, payloadEnd: number) => void;

/** What a session hands each notification to: strings, or the frame only. */
export type RawHandler =
  | { strings: RawNotificationHandler; frames?: undefined }
  | { frames: RawFrameHandler; strings?: undefined };

/** How a session connects and reports its reads. */
export interface RawSessionOptions {
  /** SSLRequest, then TLS without verifying the server's certificate (sslmode=require). */
  tls?: boolean;
  /**
   * With tls: TLS from the first byte instead (sslnegotiation=direct, ALPN postgresql), node:tls
   * opening the connection and reading into one reused buffer (`onread`), as in the clear.
   */
  direct?: boolean;
  /** Called at the start of every read, before its bytes are parsed. */
  onRead?: () => void;
}

const readSize = 64 * 1024;
const code = (letter: string) => letter.charCodeAt(0);
const [authentication, errorResponse, notification, readyForQuery] = ['R', 'E', 'A', 'Z'].map(
  code,
) as [number, number, number, number];

/** A session on one socket: startup, simple queries, pg_notify, and notifications. */
export class RawSession {
  private readonly writer = new Writer();
  /** A message cut by the end of a read, and whatever followed it: store[0, kept). */
  private store = new Uint8Array(readSize);
  private kept = 0;
  private channelBytes = new Uint8Array(0);
  private channelText = '';
  /** Settles the command in progress (startup included) at ReadyForQuery or an error. */
  private settle: ((error?: Error) => void) | undefined;
  private failed: Error | undefined;

  private readonly onNotification: RawNotificationHandler | undefined;
  private readonly onFrame: RawFrameHandler | undefined;

  private constructor(
    private readonly socket: Socket,
    handler: RawHandler,
  ) {
    this.onNotification = handler.strings;
    this.onFrame = handler.frames;
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.fail(new Error('the server closed the connection')));
  }

  /**
   * Connects to a `postgres://user@host:port/database` URL and starts a session (trust
   * authentication only). Resolves at the first ReadyForQuery.
   */
  static async open(
    url: string,
    handler: RawHandler,
    options: RawSessionOptions = {},
  ): Promise<RawSession> {
    const parsed = new URL(url);
    const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    const port = Number(parsed.port || 5432);
    const onRead = options.onRead;
    let session: RawSession | undefined;
    const take = (bytes: Uint8Array, n: number) => {
      onRead?.();
      session?.onRead(bytes, n);
    };
    let socket: Socket;
    const onread = {
      buffer: new Uint8Array(readSize),
      callback: (n: number, bytes: Uint8Array) => {
        take(bytes, n);
        return true;
      },
    };
    if (options.tls && options.direct) {
      const direct: TlsConnectionOptions & Pick<TcpNetConnectOpts, 'onread' | 'noDelay'> = {
        host,
        port,
        noDelay: true,
        rejectUnauthorized: false,
        ALPNProtocols: ['postgresql'],
        onread,
      };
      socket = tlsConnect(direct);
      await once(socket, 'secureConnect');
    } else if (options.tls) {
      const plain = netConnect({ host, port, noDelay: true });
      await once(plain, 'connect');
      const request = new Writer();
      writeSSLRequest(request);
      plain.write(request.toBytes());
      const [answer] = (await once(plain, 'data')) as [Buffer];
      if (answer.length !== 1 || answer[0] !== 0x53) {
        plain.destroy();
        throw new Error('the server refused SSL');
      }
      plain.pause();
      socket = tlsConnect({ socket: plain, servername: host, rejectUnauthorized: false });
      await once(socket, 'secureConnect');
      socket.on('data', (chunk: Buffer) => take(chunk, chunk.length));
    } else {
      socket = netConnect({ host, port, noDelay: true, onread });
    }
    session = new RawSession(socket, handler);
    const user = decodeURIComponent(parsed.username) || 'postgres';
    const database = decodeURIComponent(parsed.pathname.slice(1)) || user;
    await session.run((w) => writeStartupMessage(w, { parameters: { user, database } }));
    return session;
  }

  /** Runs SQL with the simple query protocol; resolves at ReadyForQuery. */
  query(sql: string): Promise<void> {
    return this.run((w) => writeQuery(w, sql));
  }

  /** Sends `SELECT pg_notify($1, $2)` as the clients do (Parse, Bind, Describe, Execute, Sync). */
  notify(channel: string, payload: string): Promise<void> {
    return this.run((w) => {
      writeParse(w, { query: 'SELECT pg_notify($1, $2)' });
      writeBind(w, { parameters: [channel, payload] });
      writeDescribe(w, 'P');
      writeExecute(w);
      writeSync(w);
    });
  }

  /** Closes the socket. */
  close(): void {
    this.socket.destroy();
  }

  private run(write: (w: Writer) => void): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.settle = (error) => {
        this.settle = undefined;
        if (error) reject(error);
        else resolve();
      };
      write(this.writer.reset());
      this.socket.write(this.writer.toBytes());
    });
  }

  private fail(error: Error): void {
    this.failed ??= error;
    this.settle?.(error);
  }

  /** Takes one read: bytes[0, n) are valid during the call only. */
  private onRead(bytes: Uint8Array, n: number): void {
    if (this.kept === 0) {
      const used = this.parse(bytes, n);
      if (used < n) this.keep(bytes.subarray(used, n));
      return;
    }
    this.keep(bytes.subarray(0, n));
    const used = this.parse(this.store, this.kept);
    this.store.copyWithin(0, used, this.kept);
    this.kept -= used;
  }

  private keep(bytes: Uint8Array): void {
    const needed = this.kept + bytes.length;
    if (needed > this.store.length) {
      const grown = new Uint8Array(Math.max(needed, 2 * this.store.length));
      grown.set(this.store.subarray(0, this.kept));
      this.store = grown;
    }
    this.store.set(bytes, this.kept);
    this.kept = needed;
  }

  /** Handles every whole message in bytes[0, end); returns where the first incomplete one starts. */
  private parse(bytes: Uint8Array, end: number): number {
    let at = 0;
    while (end - at >= 5) {
      const next = at + 1 + int32At(bytes, at + 1);
      if (next > end) break;
      const type = bytes[at]!;
      if (type === notification) this.notification(bytes, at + 5, next);
      else if (type === readyForQuery) this.settle?.();
      else if (type === errorResponse) this.fail(new Error('the server sent an ErrorResponse'));
      else if (type === authentication && int32At(bytes, at + 5) !== 0) {
        this.fail(new Error('RawSession supports trust authentication only'));
      }
      at = next;
    }
    return at;
  }

  private notification(bytes: Uint8Array, start: number, end: number): void {
    if (this.onFrame) {
      this.onFrame(bytes, bytes.indexOf(0, start + 4) + 1, end - 1);
      return;
    }
    const processId = int32At(bytes, start);
    const at = start + 4;
    const known = this.channelBytes;
    let same = bytes[at + known.length] === 0;
    for (let i = 0; same && i < known.length; i++) same = bytes[at + i] === known[i];
    if (!same) {
      const nul = bytes.indexOf(0, at);
      this.channelBytes = bytes.slice(at, nul);
      this.channelText = utf8Text(bytes, at, nul);
    }
    const payloadAt = at + this.channelBytes.length + 1;
    this.onNotification?.(this.channelText, utf8Text(bytes, payloadAt, end - 1), processId);
  }
}
