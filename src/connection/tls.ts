import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import {
  checkServerIdentity,
  type PeerCertificate,
  type ConnectionOptions as TlsOptions,
} from 'node:tls';
import type { ConnectionConfig } from './config.js';
import { ConnectionError } from './errors.js';

/** Where libpq looks for TLS files when none are named: ~/.postgresql/. */
function defaultFile(name: string): string {
  return join(homedir(), '.postgresql', name);
}

function readTlsFile(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConnectionError(
      'CONNECTION_TLS',
      `could not read ${what} "${path}": ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/**
 * The node:tls options for one host under libpq's sslmode rules:
 * - require: encrypt without checking the certificate, unless a root certificate file
 *   exists (sslrootcert, or ~/.postgresql/root.crt), in which case it is checked as for
 *   verify-ca, as libpq does;
 * - verify-ca: the chain must lead to the root certificate(s);
 * - verify-full: the chain, and the host name (not hostaddr) must match the certificate.
 * `sslrootcert=system` uses the system's trusted roots. Client certificate and key come
 * from sslcert/sslkey or ~/.postgresql/postgresql.{crt,key} when those exist. Reads files
 * synchronously (small, once per connection attempt).
 */
export function tlsOptions(config: ConnectionConfig, host: string, socket?: Duplex): TlsOptions {
  const mode = config.sslmode;
  const rootPath = config.sslrootcert ?? defaultFile('root.crt');
  const system = config.sslrootcert === 'system';
  const rootExists = system || existsSync(rootPath);
  const verify =
    mode === 'verify-ca' || mode === 'verify-full' || (mode === 'require' && rootExists);
  if (verify && !rootExists) {
    throw new ConnectionError(
      'CONNECTION_TLS',
      `root certificate file "${rootPath}" does not exist; either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification`,
    );
  }
  const options: TlsOptions = {
    minVersion: 'TLSv1.2',
    ALPNProtocols: ['postgresql'],
    rejectUnauthorized: verify,
    checkServerIdentity:
      mode === 'verify-full'
        ? (_name: string, certificate: PeerCertificate) => checkServerIdentity(host, certificate)
        : () => undefined,
  };
  if (socket) options.socket = socket;
  if (verify && !system) options.ca = readTlsFile('root certificate file', rootPath);
  if (config.sslsni && host !== '' && isIP(host) === 0 && !host.startsWith('/')) {
    options.servername = host;
  }
  const certPath = config.sslcert ?? defaultFile('postgresql.crt');
  if (config.sslcert !== undefined || existsSync(certPath)) {
    options.cert = readTlsFile('client certificate', certPath);
    options.key = readTlsFile('client key', config.sslkey ?? defaultFile('postgresql.key'));
    if (config.sslpassword !== undefined) options.passphrase = config.sslpassword;
  }
  if (config.sslcrl !== undefined)
    options.crl = readTlsFile('certificate revocation list', config.sslcrl);
  return options;
}
