import { connect as netConnect, type Socket } from 'node:net';
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
  /** Idle time before the first keepalive probe, in milliseconds. */
  keepAliveInitialDelayMs: number;
  /** Aborting rejects the dial and closes the half-open socket. */
  signal?: AbortSignal | undefined;
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
 * Dials TCP or a Unix-domain socket with a timeout. Resolves with the connected socket in
 * paused mode (nothing is read until someone calls `read()`), TCP_NODELAY on.
 */
export const dialSocket: Dialer = (target, options) =>
  new Promise<Duplex>((resolve, reject) => {
    const socket: Socket =
      target.kind === 'unix'
        ? netConnect({ path: target.path })
        : netConnect({ host: target.host, port: target.port, noDelay: true });
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
        socket.setKeepAlive(true, options.keepAliveInitialDelayMs);
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
