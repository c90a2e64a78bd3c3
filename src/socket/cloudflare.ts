/**
 * The Transport of Cloudflare Workers (and of local `workerd`): a TCP socket from
 * `cloudflare:sockets`' connect(), upgraded with startTls() after the server's 'S'. This module
 * never imports `cloudflare:sockets` itself: the package's `workerd` entry hands its connect()
 * to workersDialer(), so the module loads (and its refusals are tested) anywhere.
 *
 * What the platform can and cannot do decides what is refused (see workersRefusal): its TLS
 * always verifies the server's certificate and host name against the platform's trusted roots,
 * against the name given to connect(); it takes no CA, no client certificate, no CRL, no ALPN,
 * and cannot leave SNI out. It resolves host names itself, and opens no Unix-domain sockets.
 */
import {
  type ByteSink,
  type CloseListener,
  DialError,
  type Dialer,
  type DialOptions,
  type DialTarget,
  readAheadBytes,
  type TlsSettings,
  type Transport,
} from './transport.js';

/** The part of a `cloudflare:sockets` Socket that the Workers transport uses. */
export interface WorkersSocket {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Resolves once connected (or, after startTls(), once the handshake and checks passed). */
  readonly opened: Promise<unknown>;
  close(): Promise<void>;
  /** Starts TLS; this socket's streams are unusable from then on. */
  startTls(): WorkersSocket;
}

/** `connect()` of `cloudflare:sockets`, as far as the Workers transport calls it. */
export type WorkersConnect = (
  address: { hostname: string; port: number },
  options: { secureTransport: 'off' | 'starttls'; allowHalfOpen: boolean },
) => WorkersSocket;

const platform = 'Cloudflare Workers';

/** A TCP DialTarget. */
type TcpTarget = DialTarget & { kind: 'tcp' };

/**
 * Why the Workers transport cannot make this TCP connection as asked, or undefined when it
 * can. With `settings`, the TLS settings are checked too. The reasons, each a setting the
 * platform cannot honour:
 * - sslnegotiation=direct (the platform's TLS offers no ALPN, which PostgreSQL 17+ requires
 *   for direct SSL);
 * - sslmode=require and verify-ca (the platform always verifies the chain *and* the host name,
 *   so the connection would not be what was asked; verify-full is what it does);
 * - a root certificate file (sslrootcert other than `system`, or ~/.postgresql/root.crt): the
 *   platform trusts its own roots only;
 * - verify-full when the address dialled is not the host name to verify (hostaddr), since the
 *   platform checks the certificate against the address it connects to;
 * - a client certificate (sslcert/sslkey), a CRL (sslcrl), sslsni=0 with a host name, and
 *   ssl_min_protocol_version=TLSv1.3.
 * sslmode=prefer and allow are accepted: their TLS is verified like verify-full's, and a failed
 * handshake is an error rather than a fall back to plaintext (see WorkersTransport.upgrade).
 */
export function workersRefusal(
  target: TcpTarget,
  encryption: DialOptions['encryption'],
  settings?: TlsSettings,
): string | undefined {
  if (encryption === 'direct')
    return `sslnegotiation=direct is not available on ${platform}: its TLS sends no ALPN, which PostgreSQL requires for direct SSL; use sslnegotiation=postgres`;
  if (!settings) return undefined;
  const verifyFull = 'sslmode=verify-full sslrootcert=system';
  if (settings.mode === 'require' && settings.verify === 'none')
    return `sslmode=require (encryption without certificate checks) cannot be honoured on ${platform}: its TLS always verifies the certificate and host name against the platform's trusted roots; use ${verifyFull}, or sslmode=disable for an unencrypted connection`;
  if (settings.verify === 'chain')
    return `sslmode=${settings.mode} with a CA check only cannot be honoured on ${platform}: its TLS always checks the host name too; use ${verifyFull}`;
  if (settings.roots instanceof Uint8Array)
    return `a root certificate file cannot be used on ${platform}: its TLS trusts the platform's roots only; use ${verifyFull}`;
  if (settings.client)
    return `a client certificate (sslcert/sslkey) cannot be presented on ${platform}: its TLS has no client certificates`;
  if (settings.crl) return `sslcrl cannot be honoured on ${platform}: its TLS takes no CRL`;
  if (settings.minVersion === 'TLSv1.3')
    return `ssl_min_protocol_version=TLSv1.3 cannot be honoured on ${platform}: its TLS minimum version is not configurable`;
  if (settings.maxVersion !== undefined && settings.maxVersion !== 'TLSv1.3')
    return `ssl_max_protocol_version=${settings.maxVersion} cannot be honoured on ${platform}: its TLS maximum version is not configurable`;
  if (settings.verify === 'full' && settings.host !== target.host)
    return `sslmode=verify-full cannot check host name "${settings.host}" on ${platform} when connecting to hostaddr ${target.host}: the platform verifies the certificate against the address it connects to; leave hostaddr out`;
  if (settings.servername === undefined && !isIpLiteral(target.host))
    return `sslsni=0 cannot be honoured on ${platform}: its TLS always sends the host name (SNI)`;
  return undefined;
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/**
 * The Dialer of Cloudflare Workers, over `connect` (from `cloudflare:sockets`). It connects to
 * `target.host` as given, a host name or an address: the platform resolves names itself
 * (`resolvesHostNames`), and checks certificates against the name it connected to. Rejects
 * with DialError: 'unsupported' for a Unix-domain socket and what workersRefusal names (before
 * any connection is made), 'timeout' after `options.timeoutMs`, 'aborted' when
 * `options.signal` fires, 'refused' when the platform cannot connect (refused, unreachable, a
 * name that does not resolve, or an address the platform does not allow). Keepalive settings
 * are left to the platform.
 */
export function workersDialer(connect: WorkersConnect): Dialer {
  const dial: Dialer = async (target, options) => {
    if (target.kind === 'unix') {
      throw new DialError(
        'unsupported',
        `${target.label}: ${platform} cannot open Unix-domain sockets; give a TCP host`,
      );
    }
    const refusal = workersRefusal(target, options.encryption);
    if (refusal !== undefined) throw new DialError('unsupported', refusal);
    if (options.signal?.aborted)
      throw new DialError('aborted', `connecting to ${target.label} was aborted`);
    let socket: WorkersSocket;
    try {
      socket = connect(
        { hostname: target.host, port: target.port },
        {
          secureTransport: options.encryption === 'none' ? 'off' : 'starttls',
          allowHalfOpen: false,
        },
      );
    } catch (error) {
      throw new DialError('refused', `could not connect to ${target.label}: ${text(error)}`, error);
    }
    await settle(socket, options, target.label);
    return new WorkersTransport(socket, target);
  };
  return Object.assign(dial, { resolvesHostNames: true });
}

/**
 * Waits for `socket.opened`, bounded by the dial's timeout and abort signal; on any failure
 * the socket is closed and the DialError thrown.
 */
async function settle(socket: WorkersSocket, options: DialOptions, label: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    if (options.timeoutMs > 0) {
      timer = setTimeout(
        () =>
          reject(
            new DialError(
              'timeout',
              `timeout after ${options.timeoutMs} ms connecting to ${label}`,
            ),
          ),
        options.timeoutMs,
      );
    }
    onAbort = () => reject(new DialError('aborted', `connecting to ${label} was aborted`));
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([
      socket.opened.catch((error: unknown) => {
        throw new DialError('refused', `could not connect to ${label}: ${text(error)}`, error);
      }),
      stopped,
    ]);
  } catch (error) {
    socket.close().catch(ignore);
    throw error;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * A Transport over one `cloudflare:sockets` socket. Reading pulls the socket's ReadableStream
 * with a BYOB reader into one reused buffer of readAheadBytes: before start(), only as far as
 * read() asks; after it, into the sink until more than readAheadBytes wait for a take(). Writes
 * are queued on the WritableStream in order, their bytes kept until sent.
 */
class WorkersTransport implements Transport {
  private readonly reader: ReadableStreamBYOBReader;
  /**
   * The memory every read lands in: a BYOB read takes its ArrayBuffer and gives it back with
   * the bytes, so reading allocates nothing; the bytes are valid until the next read.
   */
  private buffer = new Uint8Array(readAheadBytes);
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Bytes read before start() and not yet asked for: at most the rest of one chunk. */
  private early: Uint8Array = new Uint8Array(0);
  /** Bytes handed to the sink since the last take(). */
  private handed = 0;
  private sink: ByteSink | undefined;
  private onClose: CloseListener | undefined;
  /** A read loop is running (between take()s it may have stopped). */
  private pumping = false;
  /** end(), destroy() or upgrade() was called, or the close listener was told. */
  private finished = false;
  /** The TLS socket while upgrade() waits for its handshake: destroy() closes it too. */
  private handshaking: WorkersSocket | undefined;

  constructor(
    private readonly socket: WorkersSocket,
    private readonly target: TcpTarget,
  ) {
    this.reader = socket.readable.getReader({ mode: 'byob' });
    this.writer = socket.writable.getWriter();
    // Failures show through reads and the close listener; the writer's own promises are
    // observed there, not here.
    this.writer.closed.catch(ignore);
  }

  get unread(): number {
    return this.sink ? this.handed : this.early.length;
  }

  async read(length: number): Promise<Uint8Array> {
    const chunks = [this.early];
    let total = this.early.length;
    while (total < length) {
      const value = await this.next();
      if (value === undefined) break;
      chunks.push(value.slice());
      total += value.length;
    }
    const all = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    const taken = Math.min(length, total);
    this.early = all.subarray(taken);
    return all.slice(0, taken);
  }

  start(sink: ByteSink, onClose: CloseListener): void {
    if (this.sink || this.finished) return;
    this.sink = sink;
    this.onClose = onClose;
    const early = this.early;
    this.early = new Uint8Array(0);
    if (early.length > 0) {
      this.handed += early.length;
      sink(early);
    }
    void this.pump();
  }

  take(): void {
    this.handed = 0;
    if (this.sink && !this.pumping && !this.finished) void this.pump();
  }

  write(bytes: Uint8Array): void {
    if (this.finished) return;
    this.writer.write(bytes).catch((error: unknown) => this.fail(error));
  }

  async end(last: Uint8Array | undefined, deadlineMs: number): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const deadline = setTimeout(() => this.close(), deadlineMs);
    try {
      if (last) this.writer.write(last).catch(ignore);
      await this.writer.close();
    } catch {
      // The peer or the deadline closed the socket first: closed either way.
    } finally {
      clearTimeout(deadline);
      await this.close();
    }
  }

  destroy(): void {
    this.handshaking?.close().catch(ignore);
    if (this.finished) return;
    this.finished = true;
    void this.close();
  }

  /**
   * Starts TLS with startTls() once the settings are ones the platform can honour (else
   * DialError 'unsupported', see workersRefusal). The platform checks the certificate and the
   * host name against its trusted roots during the handshake; a failed handshake rejects with
   * an Error saying so, or, under sslmode=prefer or allow, with DialError 'unsupported', since
   * libpq would go on unencrypted there, and on Workers that would be a downgrade nobody asked
   * for.
   */
  async upgrade(settings: TlsSettings): Promise<Transport> {
    const refusal = workersRefusal(this.target, 'starttls', settings);
    if (refusal !== undefined) {
      this.destroy();
      throw new DialError('unsupported', refusal);
    }
    this.finished = true;
    this.reader.releaseLock();
    this.writer.releaseLock();
    let secure: WorkersSocket;
    try {
      secure = this.socket.startTls();
      this.handshaking = secure;
      await secure.opened;
    } catch (error) {
      void this.close();
      this.handshaking?.close().catch(ignore);
      const failure = `TLS handshake with ${this.target.label} failed (${platform} verifies the server's certificate and host name against the platform's trusted roots): ${text(error)}`;
      if (settings.mode === 'prefer' || settings.mode === 'allow') {
        throw new DialError(
          'unsupported',
          `${failure}; sslmode=${settings.mode} does not go on unencrypted on ${platform}: use sslmode=disable to connect without TLS on purpose`,
          error,
        );
      }
      throw new Error(failure, { cause: error });
    } finally {
      this.handshaking = undefined;
    }
    return new WorkersTransport(secure, this.target);
  }

  peerCertificate(): Uint8Array | undefined {
    return undefined;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (!this.finished && this.handed <= readAheadBytes) {
        const value = await this.next();
        if (this.finished) return;
        if (value === undefined) {
          this.report(undefined);
          return;
        }
        this.handed += value.length;
        this.sink?.(value);
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.pumping = false;
    }
  }

  /** The next bytes read, in this.buffer's memory; undefined at the end of the stream. */
  private async next(): Promise<Uint8Array | undefined> {
    const { done, value } = await this.reader.read(new Uint8Array(this.buffer.buffer));
    if (value) this.buffer = new Uint8Array(value.buffer);
    return done ? undefined : value;
  }

  private fail(error: unknown): void {
    if (this.finished) return;
    this.report(error instanceof Error ? error : new Error(text(error)));
  }

  /** Tells the close listener (once, never after end() or destroy()) and closes the socket. */
  private report(error: Error | undefined): void {
    this.finished = true;
    void this.close();
    this.onClose?.(error);
  }

  private async close(): Promise<void> {
    this.reader.cancel().catch(ignore);
    await this.socket.close().catch(ignore);
  }
}

function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function ignore(): void {
  // A failure already reported elsewhere, or of a socket being closed anyway.
}
