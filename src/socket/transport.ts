/**
 * What a connection needs from the bytes below it, whatever the runtime: Node's sockets
 * (also under Bun and Deno), a `cloudflare:sockets` socket under Workers, or an in-memory
 * fake in tests. Nothing here names a platform type.
 */

/**
 * Where to open a connection: a TCP address (`host` is a name or an IP literal, `port` a
 * number) or a Unix-domain socket (`path`). `label` names the target in error messages.
 */
export type DialTarget =
  | { kind: 'tcp'; host: string; port: number; label: string }
  | { kind: 'unix'; path: string; label: string };

/**
 * How the connection will be encrypted, which a dialer may need to know up front:
 * - `'none'`: the protocol runs unencrypted from the first byte; upgrade() is never called;
 * - `'starttls'`: SSLRequest is written first, and upgrade() follows the server's 'S';
 * - `'direct'` (sslnegotiation=direct): upgrade() is called before any byte is written, and the
 *   server requires the ALPN protocol `postgresql`.
 */
export type Encryption = 'none' | 'starttls' | 'direct';

/** How to open a connection. */
export interface DialOptions {
  /** Give up after this many milliseconds; 0 waits as long as the operating system does. */
  timeoutMs: number;
  /** TCP keepalive on the socket (ignored for Unix sockets). */
  keepAlive: boolean;
  /** Idle time before the first keepalive probe, in milliseconds (0: the system's). */
  keepAliveInitialDelayMs: number;
  /**
   * Time between keepalive probes, in milliseconds (0: the runtime's). Applied only where
   * the runtime can; elsewhere Node uses 1 s.
   */
  keepAliveIntervalMs?: number;
  /**
   * Unanswered probes before the connection is dropped (0: the runtime's). Applied only where
   * the runtime can; elsewhere Node uses 10.
   */
  keepAliveCount?: number;
  /** Aborting rejects the dial and closes the half-open connection. */
  signal?: AbortSignal | undefined;
  /** How the connection will be encrypted; absent means `'starttls'` (the most general). */
  encryption?: Encryption;
  /**
   * With `encryption: 'direct'`, the settings upgrade() will be given. A dialer may start TLS
   * with them as it connects (Node's does, so that a TLS socket of its own reads into the
   * shared read buffer); upgrade() then waits for that handshake. Other dialers ignore it.
   */
  tls?: TlsSettings | undefined;
}

/**
 * Opens a connection to a server and resolves with its Transport, connected and not yet
 * started, owned by the caller from then on. Rejects with DialError. The default dials TCP or
 * a Unix socket with the runtime's sockets; tests and proxies inject their own (a Duplex
 * stream wraps into a Transport with transportFromDuplex).
 */
export type Dialer = ((target: DialTarget, options: DialOptions) => Promise<Transport>) & {
  /**
   * True when the dialer takes a host name as it is and resolves it itself (the Workers
   * dialer: the platform resolves names, and checks TLS certificates against the name it
   * connected to); connect() then dials the name once instead of each of its addresses.
   */
  readonly resolvesHostNames?: boolean;
};

/**
 * Why a dial or an upgrade failed, for the connection layer to turn into a ConnectionError:
 * `'refused'` (the peer or the network), `'timeout'`, `'aborted'`, or `'unsupported'` (the
 * transport cannot honour what was asked, such as a TLS setting its platform lacks: a
 * configuration error, never a reason to fall back to another encryption).
 */
export class DialError extends Error {
  readonly reason: 'refused' | 'timeout' | 'aborted' | 'unsupported';

  constructor(reason: DialError['reason'], message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DialError';
    this.reason = reason;
  }
}

/**
 * Receives the bytes read from the peer, in order. `bytes` are valid only during the call (the
 * transport may read into the same memory next time): the sink copies what it keeps before it
 * returns, and must not throw.
 */
export type ByteSink = (bytes: Uint8Array) => void;

/**
 * Told once that the transport will deliver nothing more: `error` is undefined when the peer
 * ended the stream, the cause otherwise.
 */
export type CloseListener = (error: Error | undefined) => void;

/**
 * Bytes a transport hands to its sink without a take() before it stops reading (the rest
 * waits in the kernel, and TCP flow control holds the peer back). Reads already under way
 * may pass it by one socket read (over TLS, every record that read brought in), so at most
 * about twice this waits.
 */
export const readAheadBytes = 64 * 1024;

/**
 * TLS settings in neutral terms (built from the conninfo by src/connection/tls.ts), which each
 * transport maps to its platform's TLS. A transport that cannot honour one of them refuses
 * with DialError `'unsupported'` naming it; it never ignores one.
 */
export interface TlsSettings {
  /** The sslmode that asked for TLS (`prefer`, `require`, `verify-full`...), for messages. */
  mode: string;
  /**
   * What to check about the server's certificate: `'none'` (encrypt only), `'chain'` (it
   * leads to one of `roots`) or `'full'` (the chain, and it names `host`).
   */
  verify: 'none' | 'chain' | 'full';
  /** The host name the certificate must name under `'full'`. */
  host: string;
  /** The name to send as SNI, or undefined to send none (an IP address, sslsni=0). */
  servername: string | undefined;
  /**
   * The trusted roots when verifying: PEM bytes (the sslrootcert file), or `'system'` for
   * the platform's own; undefined under `'none'`.
   */
  roots: Uint8Array | 'system' | undefined;
  /** A client certificate to present (PEM bytes), with its key and the key's passphrase. */
  client: { certificate: Uint8Array; key: Uint8Array; passphrase: string | undefined } | undefined;
  /** A certificate revocation list (PEM bytes) the server's chain is checked against. */
  crl: Uint8Array | undefined;
  /** ALPN protocols to offer: `['postgresql']`. */
  alpn: readonly string[];
  /** The oldest TLS version accepted (libpq's ssl_min_protocol_version). */
  minVersion: TlsVersion;
  /** The newest TLS version offered (ssl_max_protocol_version); undefined: the newest there is. */
  maxVersion: TlsVersion | undefined;
}

/** A TLS protocol version, as libpq's ssl_min/max_protocol_version name it. */
export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/**
 * A connected byte stream to one server, as a connection uses it. One owner drives it:
 *
 * 1. before start(), the owner may read() (the one-byte answer to SSLRequest) and upgrade()
 *    to TLS, which hands the connection over to the new Transport;
 * 2. start() hands every byte received from then on (first, any received before and not
 *    read) to the sink, synchronously, in order; reading stops once more than readAheadBytes
 *    were handed over since the last take(), and goes on at take();
 * 3. end() (graceful) or destroy() (at once) release it; the close listener is told when the
 *    peer ends the stream or it fails, and never after end() or destroy().
 *
 * Methods never throw; failures show as a rejected promise or through the close listener.
 */
export interface Transport {
  /**
   * Bytes received and not yet taken: before start(), those waiting for read() (more than
   * were asked for, after an SSLRequest answer, is unencrypted data where none may be); after
   * start(), those handed to the sink since the last take().
   */
  readonly unread: number;

  /**
   * Before start() only: waits for `length` bytes and resolves with exactly that many, which
   * belong to the caller; with fewer only if the stream ended first. Rejects with the
   * transport's error.
   */
  read(length: number): Promise<Uint8Array>;

  /** Starts handing bytes to `sink` (see Transport); at most once. */
  start(sink: ByteSink, onClose: CloseListener): void;

  /** Marks everything handed to the sink as taken (unread turns 0), and reads on if stopped. */
  take(): void;

  /**
   * Queues `bytes` to send; they belong to the transport from then on (it may keep them until
   * sent: the caller must not change them). Never blocks; errors show through the close
   * listener.
   */
  write(bytes: Uint8Array): void;

  /**
   * Sends `last` (if given) and whatever is queued, then closes the connection (without
   * waiting for the peer to close its side) and resolves; when the peer does not take the
   * bytes within `deadlineMs`, destroys the transport and resolves. Never rejects. Neither the
   * sink nor the close listener is called any more.
   */
  end(last: Uint8Array | undefined, deadlineMs: number): Promise<void>;

  /** Closes at once, dropping anything unsent. Safe to call more than once. */
  destroy(): void;

  /**
   * Before start() only: starts TLS over this connection (after the server's 'S', or first
   * thing for direct TLS) and resolves, once the handshake and the certificate checks pass,
   * with the Transport that carries the encrypted stream; this one must not be used again,
   * unless that is itself (a transport dialed with TLS already started: DialOptions.tls).
   * Rejects with DialError `'unsupported'` for settings the platform cannot honour, otherwise
   * with the TLS error (having destroyed the connection).
   */
  upgrade(settings: TlsSettings): Promise<Transport>;

  /**
   * The server's certificate (DER bytes, owned by the caller) once TLS is up, for SCRAM
   * channel binding; undefined without TLS or where the platform does not expose it.
   */
  peerCertificate(): Uint8Array | undefined;
}
