import { createHash } from 'node:crypto';
import { ConnectionError } from '../errors.js';

/** A DER element: its tag byte and where its contents lie in the buffer. */
interface DerElement {
  tag: number;
  start: number;
  end: number;
}

function badCertificate(reason: string): ConnectionError {
  return new ConnectionError(
    'CONNECTION_AUTH',
    `cannot compute the tls-server-end-point channel binding: ${reason}`,
  );
}

/** Reads the element at `offset`, which must end by `limit`; throws on anything malformed. */
function readElement(der: Uint8Array, offset: number, limit: number, what: string): DerElement {
  if (offset + 2 > limit) throw badCertificate(`the certificate is truncated in its ${what}`);
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) throw badCertificate(`unexpected multi-byte DER tag in its ${what}`);
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length === 0x80) throw badCertificate(`indefinite length (not DER) in its ${what}`);
  if (length > 0x80) {
    const count = length & 0x7f;
    if (count > 4) throw badCertificate(`a length over 4 bytes in its ${what}`);
    if (start + count > limit) throw badCertificate(`the certificate is truncated in its ${what}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!;
    start += count;
  }
  if (start + length > limit) throw badCertificate(`the certificate is truncated in its ${what}`);
  return { tag, start, end: start + length };
}

function expectTag(element: DerElement, tag: number, what: string): DerElement {
  if (element.tag !== tag) {
    throw badCertificate(
      `its ${what} has DER tag 0x${element.tag.toString(16)}, not 0x${tag.toString(16)}`,
    );
  }
  return element;
}

/** Dotted form of the OBJECT IDENTIFIER whose contents are der[start, end). */
function decodeOid(der: Uint8Array, { start, end }: DerElement): string {
  const arcs: number[] = [];
  let value = 0;
  for (let i = start; i < end; i++) {
    const byte = der[i]!;
    if (value > 2 ** 45) throw badCertificate('an object identifier arc is too large');
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (arcs.length > 0) arcs.push(value);
      else if (value < 80) arcs.push(Math.floor(value / 40), value % 40);
      else arcs.push(2, value - 80);
      value = 0;
    } else if (i === end - 1) {
      throw badCertificate('an object identifier is truncated');
    }
  }
  if (arcs.length === 0) throw badCertificate('an object identifier is empty');
  return arcs.join('.');
}

const SHA2 = '2.16.840.1.101.3.4.2';
const NIST_SIGNATURES = '2.16.840.1.101.3.4.3';
const PKCS1 = '1.2.840.113549.1.1';
const RSASSA_PSS = `${PKCS1}.10`;

/** Hash algorithm OIDs (used inside RSASSA-PSS parameters) to their Node digest names. */
const HASH_BY_OID: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.2.5', 'md5'],
  ['1.3.14.3.2.26', 'sha1'],
  [`${SHA2}.4`, 'sha224'],
  [`${SHA2}.1`, 'sha256'],
  [`${SHA2}.2`, 'sha384'],
  [`${SHA2}.3`, 'sha512'],
  [`${SHA2}.5`, 'sha512-224'],
  [`${SHA2}.6`, 'sha512-256'],
  [`${SHA2}.7`, 'sha3-224'],
  [`${SHA2}.8`, 'sha3-256'],
  [`${SHA2}.9`, 'sha3-384'],
  [`${SHA2}.10`, 'sha3-512'],
]);

/** Signature algorithm OIDs to the digest the signature uses. */
const SIGNATURE_HASH_BY_OID: ReadonlyMap<string, string> = new Map([
  [`${PKCS1}.4`, 'md5'],
  [`${PKCS1}.5`, 'sha1'],
  ['1.3.14.3.2.29', 'sha1'],
  [`${PKCS1}.14`, 'sha224'],
  [`${PKCS1}.11`, 'sha256'],
  [`${PKCS1}.12`, 'sha384'],
  [`${PKCS1}.13`, 'sha512'],
  [`${PKCS1}.15`, 'sha512-224'],
  [`${PKCS1}.16`, 'sha512-256'],
  ['1.2.840.10045.4.1', 'sha1'],
  ['1.2.840.10045.4.3.1', 'sha224'],
  ['1.2.840.10045.4.3.2', 'sha256'],
  ['1.2.840.10045.4.3.3', 'sha384'],
  ['1.2.840.10045.4.3.4', 'sha512'],
  ['1.2.840.10040.4.3', 'sha1'],
  [`${NIST_SIGNATURES}.1`, 'sha224'],
  [`${NIST_SIGNATURES}.2`, 'sha256'],
  [`${NIST_SIGNATURES}.3`, 'sha384'],
  [`${NIST_SIGNATURES}.4`, 'sha512'],
  [`${NIST_SIGNATURES}.5`, 'sha3-224'],
  [`${NIST_SIGNATURES}.6`, 'sha3-256'],
  [`${NIST_SIGNATURES}.7`, 'sha3-384'],
  [`${NIST_SIGNATURES}.8`, 'sha3-512'],
  [`${NIST_SIGNATURES}.9`, 'sha3-224'],
  [`${NIST_SIGNATURES}.10`, 'sha3-256'],
  [`${NIST_SIGNATURES}.11`, 'sha3-384'],
  [`${NIST_SIGNATURES}.12`, 'sha3-512'],
  [`${NIST_SIGNATURES}.13`, 'sha3-224'],
  [`${NIST_SIGNATURES}.14`, 'sha3-256'],
  [`${NIST_SIGNATURES}.15`, 'sha3-384'],
  [`${NIST_SIGNATURES}.16`, 'sha3-512'],
]);

/** Signature algorithms that sign without a separate digest. */
const DIGESTLESS: ReadonlyMap<string, string> = new Map([
  ['1.3.101.112', 'Ed25519'],
  ['1.3.101.113', 'Ed448'],
]);

/**
 * The digest of an RSASSA-PSS signature: the hashAlgorithm field ([0]) of its parameters,
 * SHA-1 when the field or the parameters are absent (the ASN.1 default).
 */
function pssHash(der: Uint8Array, parameters: DerElement | undefined): string {
  if (parameters === undefined || parameters.tag === 0x05) return 'sha1';
  expectTag(parameters, 0x30, 'RSASSA-PSS parameters');
  if (parameters.start === parameters.end) return 'sha1';
  const first = readElement(der, parameters.start, parameters.end, 'RSASSA-PSS parameters');
  if (first.tag !== 0xa0) return 'sha1';
  const hashAlgorithm = expectTag(
    readElement(der, first.start, first.end, 'RSASSA-PSS hash algorithm'),
    0x30,
    'RSASSA-PSS hash algorithm',
  );
  const oid = decodeOid(
    der,
    expectTag(
      readElement(der, hashAlgorithm.start, hashAlgorithm.end, 'RSASSA-PSS hash algorithm'),
      0x06,
      'RSASSA-PSS hash algorithm',
    ),
  );
  const hash = HASH_BY_OID.get(oid);
  if (hash === undefined) throw badCertificate(`unknown RSASSA-PSS hash algorithm ${oid}`);
  return hash;
}

/** The digest named by the certificate's outer signatureAlgorithm field. */
function signatureHash(der: Uint8Array): string {
  const certificate = expectTag(
    readElement(der, 0, der.length, 'Certificate'),
    0x30,
    'Certificate',
  );
  if (certificate.end !== der.length) throw badCertificate('there are bytes after the certificate');
  const tbs = expectTag(
    readElement(der, certificate.start, certificate.end, 'tbsCertificate'),
    0x30,
    'tbsCertificate',
  );
  const algorithm = expectTag(
    readElement(der, tbs.end, certificate.end, 'signatureAlgorithm'),
    0x30,
    'signatureAlgorithm',
  );
  const oidElement = expectTag(
    readElement(der, algorithm.start, algorithm.end, 'signatureAlgorithm'),
    0x06,
    'signatureAlgorithm',
  );
  const oid = decodeOid(der, oidElement);
  const parameters =
    oidElement.end < algorithm.end
      ? readElement(der, oidElement.end, algorithm.end, 'signatureAlgorithm parameters')
      : undefined;
  if (oid === RSASSA_PSS) return pssHash(der, parameters);
  const hash = SIGNATURE_HASH_BY_OID.get(oid);
  if (hash !== undefined) return hash;
  const digestless = DIGESTLESS.get(oid);
  if (digestless !== undefined) {
    throw badCertificate(
      `the server certificate is signed with ${digestless}, which uses no separate hash function, so tls-server-end-point is not defined for it (PostgreSQL cannot bind such a channel either)`,
    );
  }
  throw badCertificate(`unknown certificate signature algorithm ${oid}`);
}

/**
 * The tls-server-end-point channel binding data of RFC 5929 section 4.1 for the server's
 * DER-encoded certificate (Node: `tlsSocket.getPeerCertificate().raw`): the certificate hashed
 * with the digest of its own signature algorithm, SHA-256 when that digest is MD5 or SHA-1.
 * The algorithm is read from the certificate's outer signatureAlgorithm field: RSA PKCS#1
 * v1.5, RSASSA-PSS (the hash from its parameters, SHA-1 by default and so SHA-256), ECDSA and
 * DSA with SHA-1, SHA-2 or SHA-3 digests. Throws a ConnectionError (CONNECTION_AUTH) for
 * truncated or malformed DER, for an unknown algorithm, and for Ed25519 and Ed448, which
 * have no digest to use. Does not block; the input is only read and the result is a new
 * buffer owned by the caller.
 */
export function tlsServerEndPointHash(certificateDer: Uint8Array): Uint8Array {
  const hash = signatureHash(certificateDer);
  const digest = hash === 'md5' || hash === 'sha1' ? 'sha256' : hash;
  return createHash(digest).update(certificateDer).digest();
}

/** The SCRAM mechanisms pqnotify speaks. */
export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS';

/** What `chooseSaslMechanism` needs to know about the connection. */
export interface SaslChoiceOptions {
  /** The connection runs over TLS. */
  tls: boolean;
  /** The channel_binding setting. */
  channelBinding: 'disable' | 'prefer' | 'require';
  /**
   * The server certificate's tls-server-end-point hash is at hand (`tlsServerEndPointHash`
   * succeeded). Under channel_binding=require, compute the hash first and let its error
   * explain the failure.
   */
  peerCertificateAvailable: boolean;
}

const PLUS = 'SCRAM-SHA-256-PLUS';
const PLAIN = 'SCRAM-SHA-256';

function listOffered(offered: readonly string[]): string {
  return offered.length === 0 ? 'none' : offered.map((name) => JSON.stringify(name)).join(', ');
}

/**
 * Picks the mechanism to answer AuthenticationSASL with, as libpq does: SCRAM-SHA-256-PLUS
 * when the server offers it over TLS and channel_binding is not disable, SCRAM-SHA-256
 * otherwise. Throws a ConnectionError (CONNECTION_AUTH) when the server offers -PLUS on a
 * connection without TLS (TLS was stripped on the way), when it offers no SCRAM mechanism,
 * and when channel_binding=require cannot be met. Unlike libpq, which fails later, a missing
 * certificate hash under channel_binding=prefer falls back to SCRAM-SHA-256. Does not block.
 * Pass `clientSupportsChannelBinding(offered, options)` to the ScramClient of a
 * SCRAM-SHA-256 exchange.
 */
export function chooseSaslMechanism(
  offered: readonly string[],
  options: SaslChoiceOptions,
): ScramMechanism {
  const plusOffered = offered.includes(PLUS);
  if (plusOffered && !options.tls) {
    throw new ConnectionError(
      'CONNECTION_AUTH',
      'server offered SCRAM-SHA-256-PLUS authentication over a connection without TLS',
    );
  }
  if (options.channelBinding === 'require') {
    if (!options.tls) {
      throw new ConnectionError(
        'CONNECTION_AUTH',
        'channel binding is required, but the connection does not use TLS',
      );
    }
    if (!plusOffered) {
      throw new ConnectionError(
        'CONNECTION_AUTH',
        `channel binding is required, but the server did not offer SCRAM-SHA-256-PLUS (offered: ${listOffered(offered)})`,
      );
    }
    if (!options.peerCertificateAvailable) {
      throw new ConnectionError(
        'CONNECTION_AUTH',
        "channel binding is required, but the server's certificate is not available",
      );
    }
    return PLUS;
  }
  if (plusOffered && options.channelBinding === 'prefer' && options.peerCertificateAvailable) {
    return PLUS;
  }
  if (offered.includes(PLAIN)) return PLAIN;
  if (plusOffered) {
    const why =
      options.channelBinding === 'disable'
        ? 'channel_binding is disable'
        : "the server's certificate is not available for channel binding";
    throw new ConnectionError(
      'CONNECTION_AUTH',
      `server offered only SCRAM-SHA-256-PLUS, but ${why}`,
    );
  }
  throw new ConnectionError(
    'CONNECTION_AUTH',
    `none of the server's SASL authentication mechanisms are supported (offered: ${listOffered(offered)})`,
  );
}

/**
 * Whether a SCRAM-SHA-256 exchange should say "the client supports channel binding but
 * thinks the server does not" (gs2 flag 'y') rather than 'n': over TLS, with channel_binding
 * not disable, a certificate hash at hand, and SCRAM-SHA-256-PLUS not offered. A server that
 * did offer -PLUS and receives 'y' sees a downgrade and refuses, so after a fallback from
 * -PLUS this is false. Does not block.
 */
export function clientSupportsChannelBinding(
  offered: readonly string[],
  options: SaslChoiceOptions,
): boolean {
  return (
    options.tls &&
    options.channelBinding !== 'disable' &&
    options.peerCertificateAvailable &&
    !offered.includes(PLUS)
  );
}
