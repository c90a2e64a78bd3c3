import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { ConnectionError } from '../errors.js';
import type { ScramMechanism } from './channel-binding.js';
import { scramPasswordBytes } from './saslprep.js';

const pbkdf2Async = promisify(pbkdf2);

/** Length in bytes of SHA-256 output, and so of every SCRAM-SHA-256 key and signature. */
const KEY_LENGTH = 32;

/**
 * Largest iteration count `ScramClient` accepts by default. PostgreSQL's scram_iterations
 * defaults to 4096; ten million already makes a login take over a second, and a count up to
 * 2^31 from a hostile server would hold the client in PBKDF2 for minutes.
 */
export const DEFAULT_MAX_SCRAM_ITERATIONS = 10_000_000;

/** Options of a `ScramClient`. */
export interface ScramClientOptions {
  /** The password, prepared with SASLprep when it allows (`scramPasswordBytes`). */
  password: string;
  /** The mechanism chosen with `chooseSaslMechanism`. */
  mechanism: ScramMechanism;
  /** The tls-server-end-point hash (`tlsServerEndPointHash`); required for -PLUS, refused otherwise. */
  channelBindingData?: Uint8Array;
  /**
   * For SCRAM-SHA-256 over TLS: the client could bind the channel but the server did not
   * offer it (gs2 flag 'y' instead of 'n'); see `clientSupportsChannelBinding`.
   */
  clientSupportsChannelBinding?: boolean;
  /** The client nonce. For tests only; by default 18 random bytes in base64. */
  nonce?: string;
  /**
   * The user name of client-first-message. PostgreSQL takes the user from the startup
   * packet and libpq sends it empty, which is the default; set it only to reproduce
   * exchanges of other servers (such as the RFC 7677 example). Not SASLprepped: '=' and ','
   * are escaped as the RFC asks and nothing else is done.
   */
  username?: string;
  /** Largest iteration count accepted from the server; `DEFAULT_MAX_SCRAM_ITERATIONS` by default. */
  maxIterations?: number;
}

type State = 'initial' | 'first-sent' | 'deriving' | 'final-sent' | 'done' | 'failed';

/** What server-first-message says, once checked. */
interface ServerFirst {
  message: string;
  nonce: string;
  salt: Buffer;
  iterations: number;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ATTRIBUTE = /^[A-Za-z]=/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function authError(message: string): ConnectionError {
  return new ConnectionError('CONNECTION_AUTH', message);
}

/** A server-supplied text made safe to quote in an error message. */
function quote(text: string, limit = 200): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(printable.length > limit ? `${printable.slice(0, limit)}...` : printable);
}

function derivationError(cause: unknown): ConnectionError {
  return new ConnectionError('CONNECTION_AUTH', 'SCRAM key derivation (PBKDF2) failed', { cause });
}

function isPrintable(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x21 || code > 0x7e || code === 0x2c) return false;
  }
  return text.length > 0;
}

function hmac(key: Uint8Array, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

/**
 * The client side of one SCRAM-SHA-256 or SCRAM-SHA-256-PLUS exchange (RFC 5802, RFC 7677)
 * as PostgreSQL runs it: `clientFirstMessage()` for SASLInitialResponse,
 * `handleServerFirst()` on AuthenticationSASLContinue for the SASLResponse, and
 * `verifyServerFinal()` on AuthenticationSASLFinal. Each step may be taken once and in that
 * order. Every failure throws a ConnectionError (CONNECTION_AUTH) whose message never holds
 * the password or anything derived from it, and ends the exchange. Keys are zeroed as soon as
 * they are used; only the expected server signature is kept for the last step.
 */
export class ScramClient {
  /** The mechanism this exchange runs. */
  readonly mechanism: ScramMechanism;
  #state: State = 'initial';
  #password: Uint8Array;
  readonly #nonce: string;
  readonly #clientFirstBare: string;
  readonly #gs2Header: string;
  readonly #channelBinding: Buffer;
  readonly #maxIterations: number;
  #serverSignature: Buffer | undefined;

  /** Checks the options and prepares the password (SASLprep); does not block. */
  constructor(options: ScramClientOptions) {
    this.mechanism = options.mechanism;
    const data = options.channelBindingData;
    if (options.mechanism === 'SCRAM-SHA-256-PLUS') {
      if (data === undefined || data.length === 0) {
        throw authError(
          'SCRAM-SHA-256-PLUS needs the tls-server-end-point hash of the server certificate',
        );
      }
      this.#gs2Header = 'p=tls-server-end-point,,';
    } else if (options.mechanism === 'SCRAM-SHA-256') {
      if (data !== undefined) {
        throw authError(
          'channel binding data was given for SCRAM-SHA-256, which does not bind the channel',
        );
      }
      this.#gs2Header = options.clientSupportsChannelBinding === true ? 'y,,' : 'n,,';
    } else {
      throw authError(`unsupported SASL mechanism ${quote(String(options.mechanism))}`);
    }
    this.#channelBinding = Buffer.concat([
      Buffer.from(this.#gs2Header, 'ascii'),
      data ?? new Uint8Array(),
    ]);

    const nonce = options.nonce ?? randomBytes(18).toString('base64');
    if (!isPrintable(nonce)) {
      throw authError('the SCRAM client nonce must be printable ASCII without commas');
    }
    this.#nonce = nonce;
    const username = (options.username ?? '').replaceAll('=', '=3D').replaceAll(',', '=2C');
    this.#clientFirstBare = `n=${username},r=${nonce}`;

    const maxIterations = options.maxIterations ?? DEFAULT_MAX_SCRAM_ITERATIONS;
    if (!Number.isSafeInteger(maxIterations) || maxIterations < 1) {
      throw authError('maxIterations must be a positive integer');
    }
    this.#maxIterations = maxIterations;
    this.#password = scramPasswordBytes(options.password);
  }

  /** True once the server's signature has been verified. */
  get completed(): boolean {
    return this.#state === 'done';
  }

  /** True once a SCRAM-SHA-256-PLUS exchange has completed: the channel is bound. */
  get channelBound(): boolean {
    return this.#state === 'done' && this.mechanism === 'SCRAM-SHA-256-PLUS';
  }

  /**
   * client-first-message: the gs2 header ('p=tls-server-end-point,,', 'y,,' or 'n,,'), then
   * `n=<user>,r=<client nonce>`. Returns a new buffer owned by the caller; does not block.
   */
  clientFirstMessage(): Uint8Array {
    this.#expect('initial', 'client-first-message');
    this.#state = 'first-sent';
    return Buffer.from(this.#gs2Header + this.#clientFirstBare, 'utf8');
  }

  /**
   * Checks server-first-message and returns client-final-message (channel binding, nonce,
   * proof). The PBKDF2 key derivation runs on libuv's thread pool, so the event loop goes on
   * meanwhile; its cost grows with the iteration count: under a millisecond for PostgreSQL's
   * default 4096 on current hardware, about 1.5 s at the default limit. No other step may
   * start before the promise settles. A malformed message rejects the promise (nothing is
   * thrown synchronously). `data` is only read; the result is a new buffer owned by the caller.
   */
  async handleServerFirst(data: Uint8Array): Promise<Uint8Array> {
    const serverFirst = this.#beginServerFirst(data);
    this.#state = 'deriving';
    let salted: Buffer;
    try {
      salted = await pbkdf2Async(
        this.#password,
        serverFirst.salt,
        serverFirst.iterations,
        KEY_LENGTH,
        'sha256',
      );
    } catch (error) {
      throw this.#fail(derivationError(error));
    }
    return this.#clientFinal(serverFirst, salted);
  }

  /**
   * Checks server-final-message: throws when it reports an error (`e=`, quoted in the
   * message) or when its signature differs from the expected one (constant-time compare).
   * After it returns, `completed` is true. `data` is only read; does not block.
   */
  verifyServerFinal(data: Uint8Array): void {
    this.#expect('final-sent', 'server-final-message');
    const expected = this.#serverSignature!;
    this.#serverSignature = undefined;
    try {
      const parts = this.#decode(data, 'server-final-message').split(',');
      const first = parts[0] ?? '';
      if (first.startsWith('e=')) {
        throw authError(`server reported a SCRAM error: ${quote(first.slice(2))}`);
      }
      if (!first.startsWith('v=')) {
        throw authError('malformed SCRAM server-final-message: expected attribute "v"');
      }
      this.#checkExtensions(parts.slice(1), 'server-final-message');
      const encoded = first.slice(2);
      const signature = BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : undefined;
      if (signature === undefined || signature.length !== KEY_LENGTH) {
        throw authError(
          'malformed SCRAM server-final-message: the server signature is not 32 bytes in base64',
        );
      }
      if (!timingSafeEqual(signature, expected)) {
        throw authError('SCRAM server signature mismatch: the server does not know the password');
      }
    } catch (error) {
      throw this.#fail(error);
    } finally {
      expected.fill(0);
    }
    this.#state = 'done';
  }

  #beginServerFirst(data: Uint8Array): ServerFirst {
    this.#expect('first-sent', 'server-first-message');
    try {
      return this.#parseServerFirst(this.#decode(data, 'server-first-message'));
    } catch (error) {
      throw this.#fail(error);
    }
  }

  #parseServerFirst(message: string): ServerFirst {
    const parts = message.split(',');
    const first = parts[0] ?? '';
    if (first.startsWith('e=')) {
      throw authError(`server reported a SCRAM error: ${quote(first.slice(2))}`);
    }
    if (first.startsWith('m=')) {
      throw authError('server requires a SCRAM extension (m=) that this client does not support');
    }
    const nonce = this.#attribute(parts, 0, 'r');
    if (!isPrintable(nonce)) {
      throw authError('malformed SCRAM server-first-message: the nonce is not printable ASCII');
    }
    if (!nonce.startsWith(this.#nonce)) {
      throw authError('server nonce does not start with the client nonce');
    }
    if (nonce.length === this.#nonce.length) {
      throw authError('server nonce adds nothing to the client nonce');
    }
    const encodedSalt = this.#attribute(parts, 1, 's');
    if (encodedSalt.length === 0 || !BASE64.test(encodedSalt)) {
      throw authError('malformed SCRAM server-first-message: the salt is not valid base64');
    }
    const count = this.#attribute(parts, 2, 'i');
    const iterations = /^[0-9]{1,16}$/.test(count) ? Number(count) : Number.NaN;
    if (!(iterations >= 1)) {
      throw authError(
        `malformed SCRAM server-first-message: iteration count ${quote(count, 20)} is not a positive integer`,
      );
    }
    if (iterations > this.#maxIterations) {
      throw authError(
        `SCRAM iteration count ${iterations} is above the limit of ${this.#maxIterations} (option maxIterations)`,
      );
    }
    this.#checkExtensions(parts.slice(3), 'server-first-message');
    return { message, nonce, salt: Buffer.from(encodedSalt, 'base64'), iterations };
  }

  #clientFinal(serverFirst: ServerFirst, salted: Buffer): Uint8Array {
    const withoutProof = `c=${this.#channelBinding.toString('base64')},r=${serverFirst.nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst.message},${withoutProof}`;
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const clientSignature = hmac(storedKey, authMessage);
    const serverKey = hmac(salted, 'Server Key');
    this.#serverSignature = hmac(serverKey, authMessage);
    const proof = Buffer.alloc(KEY_LENGTH);
    for (let i = 0; i < KEY_LENGTH; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    const message = Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
    for (const secret of [
      salted,
      clientKey,
      proof,
      storedKey,
      clientSignature,
      serverKey,
      this.#password,
    ]) {
      secret.fill(0);
    }
    this.#state = 'final-sent';
    return message;
  }

  #attribute(parts: readonly string[], index: number, name: string): string {
    const part = parts[index];
    if (part === undefined || !part.startsWith(`${name}=`)) {
      throw authError(`malformed SCRAM server-first-message: expected attribute "${name}"`);
    }
    return part.slice(2);
  }

  #checkExtensions(parts: readonly string[], what: string): void {
    if (parts.some((part) => !ATTRIBUTE.test(part))) {
      throw authError(`malformed SCRAM ${what}: unexpected text after the last attribute`);
    }
  }

  #decode(data: Uint8Array, what: string): string {
    if (data.length === 0) throw authError(`empty SCRAM ${what}`);
    let text: string;
    try {
      text = utf8.decode(data);
    } catch {
      throw authError(`SCRAM ${what} is not valid UTF-8`);
    }
    if (text.includes('\0')) throw authError(`SCRAM ${what} contains a NUL byte`);
    return text;
  }

  #expect(state: State, step: string): void {
    if (this.#state === state) return;
    const why = this.#state === 'failed' ? 'the exchange already failed' : 'steps out of order';
    throw authError(`SCRAM ${step} cannot be handled now: ${why}`);
  }

  /** Ends the exchange for good, wiping what is left of the secrets; returns `error`. */
  #fail(error: unknown): unknown {
    this.#state = 'failed';
    this.#password.fill(0);
    this.#serverSignature?.fill(0);
    this.#serverSignature = undefined;
    return error;
  }
}
