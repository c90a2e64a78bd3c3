import { type NetConnectOpts, connect as netConnect, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  checkServerIdentity,
  type PeerCertificate,
  TLSSocket,
  type ConnectionOptions as TlsOptions,
  connect as tlsConnect,
} from 'node:tls';
import {
  type ByteSink,
  type CloseListener,
  DialError,
  type Dialer,
  type DialTarget,
  readAheadBytes,
  type TlsSettings,
  type Transport,
} from './transport.js';

/**
 * The one read buffer of every socket this module reads with `onread` (plaintext sockets, and
 * the decrypted bytes of TLS sockets dialed with TLS: direct TLS): each read is handed to a
 * sink that copies what it keeps before it returns, so one buffer serves every connection of
 * the process. A plain Uint8Array: its subarray() is cheaper than a Buffer's.
 */
const sharedReadBuffer = new Uint8Array(readAheadBytes);

/**
 * Reads of a socket into the shared buffer, each handed to the transport `to` holds (none
 * is read before there is one). The socket keeps the callback as long as it lives, so the
 * callback holds nothing else: not the dial's own closures and options.
 */
function readInto(to: { transport?: NodeTransport }): NetConnectOpts['onread'] {
  return {
    buffer: sharedReadBuffer,
    callback: (n: number, buffer: Uint8Array) =>
      to.transport?.received(buffer.subarray(0, n)) ?? false,
  };
}

/** A read() waiting for bytes before start(). */
interface PendingRead {
  length: number;
  resolve: (bytes: Uint8Array) => void;
  reject: (error: Error) => void;
}

/**
 * The Transport over a Node stream (also used under Bun and Deno): a net.Socket or TLSSocket
 * that reads into the shared buffer through `onread`, or any other Duplex (custom dialers,
 * in-memory tests, and a TLSSocket made over an existing socket after STARTTLS, for which Node
 * ignores `onread`), whose `data` chunks are handed to the sink as they come. Backpressure
 * pauses the stream, take() resumes it.
 */
class NodeTransport implements Transport {
  unread = 0;
  private sink: ByteSink | undefined;
  private onClose: CloseListener | undefined;
  /** Copies of what arrived before start() and was not read yet. */
  private pending: Uint8Array[] = [];
  private waiting: PendingRead | undefined;
  /** How the stream ended before start(): undefined while open, null at a clean end. */
  private ending: Error | null | undefined;
  private stopped = false;
  /** Set by end(), destroy() and upgrade(): nothing more is handed to anyone. */
  private released = false;
  /** True until bytes are asked for (by read() or start()), for a stream read through `data`. */
  private idle: boolean;
  /** For a TLSSocket dialed with TLS (direct TLS): its handshake, which upgrade() waits for. */
  private handshake: Promise<void> | undefined;

  /**
   * Wraps `stream`, connected and not read yet. With `ownReads`, the stream was opened with
   * `onread` calling received() (readInto); otherwise received() listens to its `data`
   * events once bytes are asked for.
   */
  constructor(
    readonly stream: Duplex,
    ownReads: boolean,
  ) {
    this.idle = !ownReads;
    if (stream instanceof TLSSocket && ownReads) this.handshake = handshakeOf(stream);
    stream.on('end', this.ended);
    stream.on('close', this.ended);
    stream.on('error', this.failed);
  }

  read(length: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      this.waiting = { length, resolve, reject };
      if (!this.answer()) this.flow();
    });
  }

  start(sink: ByteSink, onClose: CloseListener): void {
    this.sink = sink;
    this.onClose = onClose;
    const pending = this.pending;
    this.pending = [];
    this.unread = 0;
    this.stopped = false;
    for (const bytes of pending) this.received(bytes);
    if (this.ending !== undefined) {
      const ending = this.ending;
      queueMicrotask(() => this.notify(ending ?? undefined));
    } else if (!this.stopped) this.flow();
  }

  take(): void {
    this.unread = 0;
    if (this.stopped) {
      this.stopped = false;
      if (!this.released) this.stream.resume();
    }
  }

  write(bytes: Uint8Array): void {
    this.stream.write(bytes);
  }

  end(last: Uint8Array | undefined, deadlineMs: number): Promise<void> {
    this.released = true;
    const stream = this.stream;
    return new Promise<void>((resolve) => {
      if (stream.closed) {
        resolve();
        return;
      }
      const deadline = setTimeout(() => {
        stream.destroy();
        resolve();
      }, deadlineMs);
      stream.once('close', () => {
        clearTimeout(deadline);
        resolve();
      });
      const destroy = () => stream.destroy();
      if (last === undefined) stream.end(destroy);
      else stream.end(last, destroy);
    });
  }

  destroy(): void {
    this.released = true;
    this.stream.destroy();
  }

  upgrade(settings: TlsSettings): Promise<Transport> {
    let upgraded: NodeTransport = this;
    let handshake = this.handshake;
    if (handshake !== undefined) this.handshake = undefined;
    else {
      this.released = true;
      // node:tls takes the stream over, and this transport, released, would ignore all it
      // says: it lets go of the stream, so that the stream no longer keeps it alive. An error
      // listener stays, that an error of the stream's own is not thrown at the process.
      this.stream.off('data', this.received);
      this.stream.off('end', this.ended);
      this.stream.off('close', this.ended);
      this.stream.off('error', this.failed);
      this.stream.on('error', ignoreError);
      const tls = tlsConnect({ ...nodeTlsOptions(settings), socket: this.stream });
      // Made before the handshake, so that anything received after it waits for start().
      upgraded = new NodeTransport(tls, false);
      handshake = handshakeOf(tls);
    }
    return handshake.then(
      () => upgraded,
      (error: unknown) => {
        upgraded.destroy();
        throw error;
      },
    );
  }

  peerCertificate(): Uint8Array | undefined {
    if (!(this.stream instanceof TLSSocket)) return undefined;
    const raw = this.stream.getPeerCertificate(false)?.raw;
    return raw ? new Uint8Array(raw) : undefined;
  }

  /** One read: to the sink once started, else kept (copied) for read(). */
  readonly received = (bytes: Uint8Array): boolean => {
    if (this.released) return false;
    this.unread += bytes.length;
    if (this.sink) {
      this.sink(bytes);
      if (this.unread > readAheadBytes) this.stop();
    } else {
      this.pending.push(bytes.slice());
      if (this.answer()) this.stop();
    }
    return !this.stopped;
  };

  /** Settles the waiting read() if it can be; true if it did (or there is none). */
  private answer(): boolean {
    const waiting = this.waiting;
    if (!waiting) return true;
    if (this.unread < waiting.length && this.ending === undefined) return false;
    this.waiting = undefined;
    const all = this.pending.length === 1 ? (this.pending[0] as Uint8Array) : concat(this.pending);
    const taken = all.slice(0, waiting.length);
    this.pending = all.length > taken.length ? [all.subarray(taken.length)] : [];
    this.unread -= taken.length;
    if (this.ending instanceof Error && taken.length < waiting.length) waiting.reject(this.ending);
    else waiting.resolve(taken);
    return true;
  }

  /** Reads on: starts the `data` flow of a stream read that way, or resumes it. */
  private flow(): void {
    this.stopped = false;
    if (this.idle) {
      this.idle = false;
      this.stream.on('data', this.received);
    }
    this.stream.resume();
  }

  private stop(): void {
    this.stopped = true;
    this.stream.pause();
  }

  private readonly ended = (): void => this.finish(null);

  private readonly failed = (error: Error): void => this.finish(error);

  private finish(ending: Error | null): void {
    if (this.ending !== undefined) return;
    this.ending = ending;
    if (this.sink) this.notify(ending ?? undefined);
    else this.answer();
  }

  /** Tells the close listener, unless the owner released the transport. */
  private notify(error: Error | undefined): void {
    const onClose = this.onClose;
    this.onClose = undefined;
    if (!this.released) onClose?.(error);
  }
}

/**
 * Settles when `tls` is secure, or rejects with its first error, or when it closes first
 * (destroyed: by a deadline, say). The rejection counts as handled: a direct TLS dial that
 * fails or is abandoned before upgrade() leaves it unobserved.
 */
function handshakeOf(tls: TLSSocket): Promise<void> {
  const handshake = new Promise<void>((resolve, reject) => {
    const settle = (error?: Error) => {
      tls.off('secureConnect', onSecure);
      tls.off('error', onError);
      tls.off('close', onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onSecure = () => settle();
    const onError = (error: Error) => settle(error);
    const onClose = () => settle(new Error('the connection closed before TLS was set up'));
    tls.once('secureConnect', onSecure);
    tls.once('error', onError);
    tls.once('close', onClose);
  });
  handshake.catch(() => undefined);
  return handshake;
}

/** The error listener a transport leaves on the stream it handed to node:tls (see upgrade). */
function ignoreError(): void {}

function concat(chunks: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const all = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

/** The checkServerIdentity of a connection that checks no name (one for the process). */
function noIdentityCheck(): undefined {
  return undefined;
}

/** node:tls options for neutral TLS settings. */
function nodeTlsOptions(settings: TlsSettings): TlsOptions {
  const options: TlsOptions = {
    minVersion: settings.minVersion,
    ALPNProtocols: [...settings.alpn],
    rejectUnauthorized: settings.verify !== 'none',
    checkServerIdentity:
      settings.verify === 'full'
        ? (_name: string, certificate: PeerCertificate) =>
            checkServerIdentity(settings.host, certificate)
        : noIdentityCheck,
  };
  if (settings.maxVersion !== undefined) options.maxVersion = settings.maxVersion;
  if (settings.roots instanceof Uint8Array) options.ca = asBuffer(settings.roots);
  if (settings.servername !== undefined) options.servername = settings.servername;
  if (settings.client) {
    options.cert = asBuffer(settings.client.certificate);
    options.key = asBuffer(settings.client.key);
    if (settings.client.passphrase !== undefined) options.passphrase = settings.client.passphrase;
  }
  if (settings.crl) options.crl = asBuffer(settings.crl);
  return options;
}

/** The same bytes as a Buffer, without a copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A Transport over a Duplex stream, for a Dialer that opens its own (an in-memory pair, a
 * proxy, a socket made elsewhere). The stream must be connected and not read from yet; the
 * Transport owns it from then on and reads it through `data` events. upgrade() runs node:tls
 * over it.
 */
export function transportFromDuplex(stream: Duplex): Transport {
  return new NodeTransport(stream, false);
}

/**
 * The default Dialer, over Node's sockets (also under Bun and Deno): dials TCP or a
 * Unix-domain socket with a timeout, and resolves with its Transport once connected,
 * TCP_NODELAY on. Plaintext reads land in one buffer shared by the process and are handed to
 * the sink at once; so do decrypted reads with direct TLS, which starts TLS as it connects
 * (with DialOptions.tls; upgrade() then waits for the handshake). After STARTTLS, node:tls
 * hands each decrypted TLS record as a Buffer of its own instead (Node ignores `onread` for a
 * TLS socket made over an existing one). Rejects with DialError.
 */
export const dialSocket: Dialer = (target, options) =>
  new Promise<Transport>((resolve, reject) => {
    const reads: { transport?: NodeTransport } = {};
    const direct = options.encryption === 'direct' ? options.tls : undefined;
    // A socket upgraded after SSLRequest is read through `data`, as node:tls takes it over.
    const ownReads = options.encryption === 'none' || direct !== undefined;
    const socket =
      direct === undefined
        ? netConnect({
            ...connectOptions(target),
            ...(ownReads ? { onread: readInto(reads) } : {}),
          })
        : tlsConnect(directOptions(target, direct, readInto(reads)));
    socket.pause();
    const transport = new NodeTransport(socket, ownReads);
    reads.transport = transport;
    let timer: NodeJS.Timeout | undefined;
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: DialError) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onConnect = () => {
      cleanup();
      if (target.kind === 'tcp' && options.keepAlive) {
        const interval = options.keepAliveIntervalMs ?? 0;
        const count = options.keepAliveCount ?? 0;
        if (keepAliveTuning && (interval > 0 || count > 0)) {
          const setKeepAlive = socket.setKeepAlive as (...args: unknown[]) => Socket;
          setKeepAlive.call(
            socket,
            true,
            options.keepAliveInitialDelayMs,
            interval > 0 ? interval : 1000,
            count > 0 ? count : 10,
          );
        } else socket.setKeepAlive(true, options.keepAliveInitialDelayMs);
      }
      resolve(transport);
    };
    const onError = (error: Error) => {
      fail(
        new DialError('refused', `could not connect to ${target.label}: ${error.message}`, error),
      );
    };
    const onAbort = () =>
      fail(new DialError('aborted', `connecting to ${target.label} was aborted`));
    socket.once('connect', onConnect);
    socket.once('error', onError);
    if (options.timeoutMs > 0) {
      timer = setTimeout(
        () =>
          fail(
            new DialError(
              'timeout',
              `timeout after ${options.timeoutMs} ms connecting to ${target.label}`,
            ),
          ),
        options.timeoutMs,
      );
    }
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * True when the running Node's socket.setKeepAlive takes the probe interval and count after
 * the initial delay (enable, initialDelay, interval, count; nodejs/node#63825, Node 26). Older
 * runtimes take only the initial delay, and set TCP_KEEPINTVL to 1 s and TCP_KEEPCNT to 10
 * themselves (libuv); none of them offers TCP_USER_TIMEOUT.
 */
export const keepAliveTuning: boolean = Socket.prototype.setKeepAlive.length >= 4;

/**
 * tls.connect's options to dial `target` with TLS at once, its decrypted reads going to
 * `onread` (which Node documents for tls.connect without a socket, and its type declarations
 * leave out).
 */
function directOptions(
  target: DialTarget,
  settings: TlsSettings,
  onread: NetConnectOpts['onread'],
): TlsOptions {
  const options: TlsOptions & Pick<NetConnectOpts, 'onread'> = {
    ...connectOptions(target),
    ...nodeTlsOptions(settings),
    onread,
  };
  return options;
}

function connectOptions(target: DialTarget): NetConnectOpts {
  return target.kind === 'unix'
    ? { path: target.path }
    : { host: target.host, port: target.port, noDelay: true };
}
