import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chooseSaslMechanism,
  clientSupportsChannelBinding,
  type SaslChoiceOptions,
  tlsServerEndPointHash,
} from '../../../src/connection/auth/channel-binding.js';
import { ConnectionError } from '../../../src/connection/errors.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe.skipIf(!hasOpenssl)('tlsServerEndPointHash on certificates made by openssl', () => {
  let dir = '';
  const openssl = (...args: string[]): Buffer =>
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

  /** Makes a self-signed certificate; returns its DER bytes. */
  function certificate(name: string, key: string, args: string[]): Buffer {
    openssl(
      'req',
      '-x509',
      '-key',
      key,
      '-subj',
      `/CN=${name}`,
      '-days',
      '1',
      '-out',
      `${name}.pem`,
      ...args,
    );
    openssl('x509', '-in', `${name}.pem`, '-outform', 'DER', '-out', `${name}.der`);
    return readFileSync(join(dir, `${name}.der`));
  }

  /** What `openssl dgst` says the DER file hashes to. */
  function digest(name: string, algorithm: string): Buffer {
    return openssl('dgst', `-${algorithm}`, '-binary', `${name}.der`);
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pqnotify-cb-'));
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa.key');
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.key');
    openssl('genpkey', '-algorithm', 'ED25519', '-out', 'ed25519.key');
    openssl('genpkey', '-algorithm', 'ED448', '-out', 'ed448.key');
  });

  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['rsa-sha256', 'rsa.key', ['-sha256'], 'sha256'],
    ['rsa-sha384', 'rsa.key', ['-sha384'], 'sha384'],
    ['rsa-sha512', 'rsa.key', ['-sha512'], 'sha512'],
    ['rsa-sha224', 'rsa.key', ['-sha224'], 'sha224'],
    ['rsa-sha512-256', 'rsa.key', ['-sha512-256'], 'sha512-256'],
    ['rsa-sha3-256', 'rsa.key', ['-sha3-256'], 'sha3-256'],
    ['rsa-sha1', 'rsa.key', ['-sha1'], 'sha256'],
    ['rsa-md5', 'rsa.key', ['-md5'], 'sha256'],
    ['pss-sha384', 'rsa.key', ['-sha384', '-sigopt', 'rsa_padding_mode:pss'], 'sha384'],
    ['pss-sha1', 'rsa.key', ['-sha1', '-sigopt', 'rsa_padding_mode:pss'], 'sha256'],
    ['ecdsa-sha256', 'ec.key', ['-sha256'], 'sha256'],
    ['ecdsa-sha384', 'ec.key', ['-sha384'], 'sha384'],
    ['ecdsa-sha512', 'ec.key', ['-sha512'], 'sha512'],
    ['ecdsa-sha1', 'ec.key', ['-sha1'], 'sha256'],
  ])('hashes a %s certificate like openssl dgst', (name, key, args, expected) => {
    const der = certificate(name, key, args);
    expect(Buffer.from(tlsServerEndPointHash(der))).toEqual(digest(name, expected));
  });

  it.each([
    ['ed25519', 'Ed25519'],
    ['ed448', 'Ed448'],
  ])('refuses a %s certificate', (name, label) => {
    const der = certificate(name, `${name}.key`, []);
    expect(() => tlsServerEndPointHash(der)).toThrow(ConnectionError);
    expect(() => tlsServerEndPointHash(der)).toThrow(new RegExp(`signed with ${label}`));
  });

  it('refuses every truncation of a certificate without crashing', () => {
    const der = certificate('truncated', 'ec.key', ['-sha256']);
    for (let length = 0; length < der.length; length++) {
      let caught: unknown;
      try {
        tlsServerEndPointHash(der.subarray(0, length));
      } catch (error) {
        caught = error;
      }
      expect(caught, `length ${length}`).toBeInstanceOf(ConnectionError);
      expect((caught as ConnectionError).code).toBe('CONNECTION_AUTH');
    }
  });

  it('refuses bytes after the certificate', () => {
    const der = certificate('trailing', 'ec.key', ['-sha256']);
    expect(() => tlsServerEndPointHash(Buffer.concat([der, Buffer.of(0)]))).toThrow(
      /bytes after the certificate/,
    );
  });
});

describe('tlsServerEndPointHash on hand-made DER', () => {
  /** DER of a SEQUENCE (or any tag) around `parts`. */
  function der(tag: number, ...parts: Uint8Array[]): Buffer {
    const body = Buffer.concat(parts);
    const length =
      body.length < 0x80
        ? Buffer.of(body.length)
        : Buffer.of(0x82, body.length >> 8, body.length & 0xff);
    return Buffer.concat([Buffer.of(tag), length, body]);
  }
  const oid = (hex: string): Buffer => der(0x06, Buffer.from(hex, 'hex'));
  const tbs = der(0x30, der(0x02, Buffer.of(1)));
  const signature = der(0x03, Buffer.of(0, 1, 2));
  const certificateWith = (algorithm: Buffer): Buffer => der(0x30, tbs, algorithm, signature);

  it('reads an RSASSA-PSS hash from the parameters', () => {
    const sha512 = der(0xa0, der(0x30, oid('608648016503040203'), der(0x05)));
    const cert = certificateWith(der(0x30, oid('2a864886f70d01010a'), der(0x30, sha512)));
    expect(Buffer.from(tlsServerEndPointHash(cert))).toEqual(
      createHash('sha512').update(cert).digest(),
    );
  });

  it('names an unknown signature algorithm', () => {
    const cert = certificateWith(der(0x30, oid('2a0304')));
    expect(() => tlsServerEndPointHash(cert)).toThrow(
      /unknown certificate signature algorithm 1\.2\.3\.4/,
    );
  });

  it.each([
    ['an empty buffer', Buffer.alloc(0), /truncated/],
    ['a wrong outer tag', Buffer.of(0x31, 0x00), /tag 0x31/],
    ['an indefinite length', Buffer.of(0x30, 0x80, 0, 0), /indefinite length/],
    ['a five-byte length', Buffer.of(0x30, 0x85, 1, 1, 1, 1, 1), /over 4 bytes/],
    ['a length past the end', Buffer.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff), /truncated/],
    [
      'a truncated object identifier',
      certificateWith(der(0x30, oid('2a86'))),
      /object identifier is truncated/,
    ],
    [
      'an empty object identifier',
      certificateWith(der(0x30, oid(''))),
      /object identifier is empty/,
    ],
  ])('refuses %s', (_name, input, pattern) => {
    expect(() => tlsServerEndPointHash(input)).toThrow(ConnectionError);
    expect(() => tlsServerEndPointHash(input)).toThrow(pattern);
  });
});

describe('chooseSaslMechanism', () => {
  const both = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'];
  const tls = (
    channelBinding: SaslChoiceOptions['channelBinding'],
    peerCertificateAvailable = true,
  ) => ({
    tls: true,
    channelBinding,
    peerCertificateAvailable,
  });
  const plain = (channelBinding: SaslChoiceOptions['channelBinding']) => ({
    tls: false,
    channelBinding,
    peerCertificateAvailable: false,
  });

  it('prefers -PLUS over TLS unless channel binding is disabled', () => {
    expect(chooseSaslMechanism(both, tls('prefer'))).toBe('SCRAM-SHA-256-PLUS');
    expect(chooseSaslMechanism(both, tls('require'))).toBe('SCRAM-SHA-256-PLUS');
    expect(chooseSaslMechanism(both, tls('disable'))).toBe('SCRAM-SHA-256');
    expect(chooseSaslMechanism(['SCRAM-SHA-256'], tls('prefer'))).toBe('SCRAM-SHA-256');
    expect(chooseSaslMechanism(['SCRAM-SHA-256'], plain('prefer'))).toBe('SCRAM-SHA-256');
  });

  it('falls back to SCRAM-SHA-256 under prefer when the certificate hash is missing', () => {
    expect(chooseSaslMechanism(both, tls('prefer', false))).toBe('SCRAM-SHA-256');
  });

  it('ignores mechanisms it does not know', () => {
    expect(chooseSaslMechanism(['OAUTHBEARER', 'SCRAM-SHA-256'], tls('prefer'))).toBe(
      'SCRAM-SHA-256',
    );
  });

  it.each([
    [
      '-PLUS offered without TLS',
      both,
      plain('prefer'),
      /SCRAM-SHA-256-PLUS authentication over a connection without TLS/,
    ],
    [
      'require without TLS',
      ['SCRAM-SHA-256'],
      plain('require'),
      /channel binding is required, but the connection does not use TLS/,
    ],
    [
      'require without -PLUS',
      ['SCRAM-SHA-256'],
      tls('require'),
      /did not offer SCRAM-SHA-256-PLUS \(offered: "SCRAM-SHA-256"\)/,
    ],
    ['require without a certificate', both, tls('require', false), /certificate is not available/],
    [
      'no SCRAM mechanism',
      ['OAUTHBEARER', 'SCRAM-SHA-1'],
      tls('prefer'),
      /none of the server's SASL authentication mechanisms are supported \(offered: "OAUTHBEARER", "SCRAM-SHA-1"\)/,
    ],
    ['an empty list', [], tls('prefer'), /\(offered: none\)/],
    [
      'only -PLUS with channel binding disabled',
      ['SCRAM-SHA-256-PLUS'],
      tls('disable'),
      /only SCRAM-SHA-256-PLUS, but channel_binding is disable/,
    ],
    [
      'only -PLUS without a certificate',
      ['SCRAM-SHA-256-PLUS'],
      tls('prefer', false),
      /only SCRAM-SHA-256-PLUS, but the server's certificate/,
    ],
  ])('refuses %s', (_name, offered, options, pattern) => {
    let caught: unknown;
    try {
      chooseSaslMechanism(offered, options);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConnectionError);
    expect((caught as ConnectionError).code).toBe('CONNECTION_AUTH');
    expect((caught as ConnectionError).message).toMatch(pattern);
  });
});

describe('clientSupportsChannelBinding', () => {
  it('is true only over TLS, not disabled, with a certificate, when -PLUS was not offered', () => {
    const options = {
      tls: true,
      channelBinding: 'prefer',
      peerCertificateAvailable: true,
    } as const;
    expect(clientSupportsChannelBinding(['SCRAM-SHA-256'], options)).toBe(true);
    expect(clientSupportsChannelBinding(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'], options)).toBe(
      false,
    );
    expect(clientSupportsChannelBinding(['SCRAM-SHA-256'], { ...options, tls: false })).toBe(false);
    expect(
      clientSupportsChannelBinding(['SCRAM-SHA-256'], { ...options, channelBinding: 'disable' }),
    ).toBe(false);
    expect(
      clientSupportsChannelBinding(['SCRAM-SHA-256'], {
        ...options,
        peerCertificateAvailable: false,
      }),
    ).toBe(false);
  });
});
