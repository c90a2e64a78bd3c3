import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { TlsSettings } from '../socket/transport.js';
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
 * The TLS settings for one host under libpq's sslmode rules, in the transport's neutral terms
 * (each transport maps them to its platform):
 * - require: encrypt without checking the certificate, unless a root certificate file
 *   exists (sslrootcert, or ~/.postgresql/root.crt), in which case it is checked as for
 *   verify-ca, as libpq does;
 * - verify-ca: the chain must lead to the root certificate(s);
 * - verify-full: the chain, and the host name (not hostaddr) must match the certificate.
 * `sslrootcert=system` uses the platform's trusted roots. Client certificate and key come
 * from sslcert/sslkey or ~/.postgresql/postgresql.{crt,key} when those exist. Reads files
 * synchronously (small, once per connection attempt); throws ConnectionError
 * (CONNECTION_TLS) for a missing root certificate file or a file it cannot read.
 */
export function tlsSettings(config: ConnectionConfig, host: string): TlsSettings {
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
  const certPath = config.sslcert ?? defaultFile('postgresql.crt');
  const client =
    config.sslcert !== undefined || existsSync(certPath)
      ? {
          certificate: readTlsFile('client certificate', certPath),
          key: readTlsFile('client key', config.sslkey ?? defaultFile('postgresql.key')),
          passphrase: config.sslpassword,
        }
      : undefined;
  return {
    mode,
    verify: !verify ? 'none' : mode === 'verify-full' ? 'full' : 'chain',
    host,
    servername:
      config.sslsni && host !== '' && isIP(host) === 0 && !host.startsWith('/') ? host : undefined,
    roots: !verify ? undefined : system ? 'system' : readTlsFile('root certificate file', rootPath),
    client,
    crl:
      config.sslcrl === undefined
        ? undefined
        : readTlsFile('certificate revocation list', config.sslcrl),
    alpn: ['postgresql'],
    minVersion: 'TLSv1.2',
  };
}
