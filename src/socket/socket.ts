import { type NetConnectOpts, connect as netConnect, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type TLSSocket,
  type ConnectionOptions as TlsOptions,
  connect as tlsConnect,
} from 'node:tls';

/**
 * Where to open a stream: a TCP address (`host` is a name or an IP literal, `port` a number)
 * or a Unix-domain socket (`path`). `label` names the target in error messages.
 */
export type DialTarget =
  | { kind: 'tcp'; host: string; port: number; label: string }
  | { kind: 'unix'; path: string; label: string };

/** How to open a stream. */
export interface DialOptions {
  /** Give up after this many milliseconds; 0 waits as long as the operating system does. */
  timeoutMs: number;
  /** TCP keepalive on the socket (ignored for Unix sockets). */
  keepAlive: boolean;
  /** Idle time before the first keepalive probe, in milliseconds (0: the system's). */
  keepAliveInitialDelayMs: number;
  /**
   * Time between keepalive probes, in milliseconds (0: the runtime's). Applied only where
   * the runtime can (see keepAliveTuning); elsewhere Node uses 1 s.
   */
  keepAliveIntervalMs?: number;
  /**
   * Unanswered probes before the connection is dropped (0: the runtime's). Applied only where
   * the runtime can (see keepAliveTuning); elsewhere Node uses 10.
   */
  keepAliveCount?: number;
  /** Aborting rejects the dial and closes the half-open socket. */
  signal?: AbortSignal | undefined;
  /**
   * True when the stream will carry the protocol unencrypted from its first byte. The default
   * dialer then reads into one reused buffer (see ReusedBufferInput); a dialer may ignore it.
   */
  plaintext?: boolean;
}

/**
 * Opens a byte stream to a server. The default dials TCP or a Unix socket; tests inject
 * their own (an in-memory duplex, a proxy). The returned stream must be connected, in
 * paused mode, and is owned by the caller from then on.
 */
export type Dialer = (target: DialTarget, options: DialOptions) => Promise<Duplex>;

/** The reason a dial failed, for the connection layer to turn into a ConnectionError. */
export class DialError extends Error {
  readonly reason: 'refused' | 'timeout' | 'aborted';

  constructor(reason: 'refused' | 'timeout' | 'aborted', message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DialError';
    this.reason = reason;
  }
}

/**
 * Bytes per read of a ReusedBufferInput. Reading stops once more than this were handed over
 * and not taken: a burst whose every read fills the buffer, each taken at once, never stops it.
 */
const readSize = 64 * 1024;

/** The ReusedBufferInput of each socket dialSocket opened with one. */
const inputs = new WeakMap<Duplex, ReusedBufferInput>();

/**
 * The input side of a plaintext socket from dialSocket: every read lands in one buffer that
 * the next read reuses (net.Socket's `onread`), and is handed at once to the sink given to
 * start(), which must copy what it keeps before it returns (Decoder.pushCopy). Reading thus
 * allocates nothing. The socket never emits 'data' or 'readable'; 'end', 'error' and 'close'
 * come as usual. Like a paused stream's buffer, reading stops once more than 64 KiB were
 * handed over since the last take() (so at most 128 KiB wait), leaving the rest to the
 * kernel, and goes on at take().
 */
export class ReusedBufferInput {
  /** Bytes handed to the sink since the last take(). */
  unread = 0;
  /** The socket, connecting. */
  readonly socket: Socket;
  private sink: (bytes: Uint8Array) => void = () => undefined;
  private stopped = false;

  /** Starts connecting to `target`. */
  constructor(target: DialTarget) {
    this.socket = netConnect({
      ...connectOptions(target),
      onread: {
        // A plain Uint8Array: its subarray() is cheaper than a Buffer's.
        buffer: new Uint8Array(readSize),
        callback: (n, buffer) => this.received(buffer.subarray(0, n)),
      },
    });
    inputs.set(this.socket, this);
  }

  /**
   * Starts reading (dialSocket leaves the socket paused, so nothing is read before): from now
   * on every read is handed to `sink`, synchronously and in order. The bytes are valid only
   * during the call.
   */
  start(sink: (bytes: Uint8Array) => void): void {
    this.sink = sink;
    this.socket.resume();
  }

  /** Marks everything handed over as taken (unread turns 0) and reads on if it had stopped. */
  take(): void {
    this.unread = 0;
    if (this.stopped) {
      this.stopped = false;
      this.socket.resume();
    }
  }

  private received(bytes: Uint8Array): boolean {
    this.unread += bytes.length;
    this.sink(bytes);
    this.stopped = this.unread > readSize;
    return !this.stopped;
  }
}

/** The ReusedBufferInput that reads `stream`, if dialSocket opened it with one. */
export function reusedBufferInputOf(stream: Duplex): ReusedBufferInput | undefined {
  return inputs.get(stream);
}

/**
 * Dials TCP or a Unix-domain socket with a timeout. Resolves with the connected socket,
 * TCP_NODELAY on, in paused mode (nothing is read until someone calls `read()`), or, with
 * `plaintext`, reading into one reused buffer once its ReusedBufferInput (see
 * reusedBufferInputOf) is started.
 */
export const dialSocket: Dialer = (target, options) =>
  new Promise<Duplex>((resolve, reject) => {
    const socket = options.plaintext
      ? new ReusedBufferInput(target).socket
      : netConnect(connectOptions(target));
    socket.pause();
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
      resolve(socket);
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

function connectOptions(target: DialTarget): NetConnectOpts {
  return target.kind === 'unix'
    ? { path: target.path }
    : { host: target.host, port: target.port, noDelay: true };
}

/**
 * Reads exactly `n` bytes from a paused stream, waiting for them (used for the one-byte
 * answer to SSLRequest). Resolves with fewer bytes only if the stream ended first. The
 * returned bytes belong to the caller.
 */
export function readExactly(stream: Duplex, n: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const chunk = stream.read(n) as Buffer | null;
      if (chunk !== null) {
        done();
        resolve(chunk);
        return;
      }
      if (stream.readableEnded || stream.destroyed) {
        const rest = stream.read() as Buffer | null;
        done();
        resolve(rest ?? new Uint8Array(0));
      }
    };
    const onEnd = () => {
      const rest = stream.read() as Buffer | null;
      done();
      resolve(rest ?? new Uint8Array(0));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const done = () => {
      stream.off('readable', attempt);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
    };
    stream.on('readable', attempt);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
    attempt();
  });
}

/**
 * Starts TLS over an already connected stream (after the server answered 'S' to SSLRequest),
 * or over a fresh socket for direct SSL. Resolves once the handshake and certificate checks
 * succeed, with the TLS socket in paused mode; rejects with the TLS error otherwise.
 */
export function startTls(options: TlsOptions & { socket: Duplex }): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect(options);
    tls.pause();
    const onSecure = () => {
      tls.off('error', onError);
      resolve(tls);
    };
    const onError = (error: Error) => {
      tls.off('secureConnect', onSecure);
      tls.destroy();
      reject(error);
    };
    tls.once('secureConnect', onSecure);
    tls.once('error', onError);
  });
}
