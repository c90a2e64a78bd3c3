import { isIP } from 'node:net';
import { join } from 'node:path';
import type { TlsSettings } from '../socket/transport.js';
import type { ConnectionConfig } from './config.js';
import { Environment } from './environment.js';
import { ConnectionError } from './errors.js';

/**
 * Where libpq looks for TLS files when none are named: ~/.postgresql/; none when the home
 * directory is unknown.
 */
function defaultFile(environment: Environment, name: string): string | undefined {
  const home = environment.home();
  if (home !== undefined) return join(home, '.postgresql', name);
  environment.warnHomeUnknown('~/.postgresql/ (root.crt, postgresql.crt, postgresql.key)');
  return undefined;
}

function readTlsFile(environment: Environment, what: string, path: string): Uint8Array {
  return environment.readFile(path, what, 'CONNECTION_TLS');
}

/** Whether a TLS file exists; one the settings name (`named`) must be checkable. */
function exists(environment: Environment, path: string | undefined, named?: string): boolean {
  if (path === undefined) return false;
  const required =
    named === undefined ? undefined : { what: named, code: 'CONNECTION_TLS' as const };
  return environment.stat(path, required) !== undefined;
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
 * synchronously (small, once per connection attempt) through `environment`, which says what
 * a missing runtime permission means (see environment.ts); throws ConnectionError
 * (CONNECTION_TLS) for a missing root certificate file or a file it cannot read.
 */
export function tlsSettings(
  config: ConnectionConfig,
  host: string,
  environment: Environment = new Environment(),
): TlsSettings {
  const mode = config.sslmode;
  const rootPath = config.sslrootcert ?? defaultFile(environment, 'root.crt');
  const system = config.sslrootcert === 'system';
  const rootNamed = config.sslrootcert === undefined ? undefined : 'root certificate file';
  const rootExists = system || exists(environment, rootPath, rootNamed);
  const verify =
    mode === 'verify-ca' || mode === 'verify-full' || (mode === 'require' && rootExists);
  if (verify && !rootExists) {
    throw new ConnectionError(
      'CONNECTION_TLS',
      `root certificate file "${rootPath ?? '~/.postgresql/root.crt'}" does not exist; either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification`,
    );
  }
  const certPath = config.sslcert ?? defaultFile(environment, 'postgresql.crt');
  let client: TlsSettings['client'];
  if (certPath !== undefined && (config.sslcert !== undefined || exists(environment, certPath))) {
    const keyPath = config.sslkey ?? defaultFile(environment, 'postgresql.key');
    if (keyPath === undefined) {
      throw new ConnectionError(
        'CONNECTION_TLS',
        'no client key: sslkey is not set and the home directory is unknown',
      );
    }
    client = {
      certificate: readTlsFile(environment, 'client certificate', certPath),
      key: readTlsFile(environment, 'client key', keyPath),
      passphrase: config.sslpassword,
    };
  }
  return {
    mode,
    verify: !verify ? 'none' : mode === 'verify-full' ? 'full' : 'chain',
    host,
    servername:
      config.sslsni && host !== '' && isIP(host) === 0 && !host.startsWith('/') ? host : undefined,
    roots:
      !verify || rootPath === undefined
        ? undefined
        : system
          ? 'system'
          : readTlsFile(environment, 'root certificate file', rootPath),
    client,
    crl:
      config.sslcrl === undefined
        ? undefined
        : readTlsFile(environment, 'certificate revocation list', config.sslcrl),
    alpn: ['postgresql'],
    minVersion: config.sslMinProtocolVersion,
    maxVersion: config.sslMaxProtocolVersion,
  };
}
