import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of the PEM files made for a test run. */
export interface TestCertificates {
  /** The certificate authority that signed everything below. */
  caCert: string;
  /** Server certificate for localhost, 127.0.0.1 and ::1. */
  serverCert: string;
  serverKey: string;
  /** Server certificate for another name (wrong.example), for verify-full failures. */
  otherCert: string;
  otherKey: string;
  /** Client certificate with CN=pqn_cert, for `cert` authentication. */
  clientCert: string;
  clientKey: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function issue(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
): Promise<void> {
  await openssl(dir, [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-subj',
    subject,
    '-out',
    `${name}.csr`,
  ]);
  await writeFile(join(dir, `${name}.ext`), `${extensions}\n`);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  ]);
}

/** Makes a CA, two server certificates and a client certificate with the openssl command. */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  await mkdir(dir, { recursive: true });
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'ca.key',
    '-subj',
    '/CN=pqnotify test CA',
    '-days',
    '2',
    '-sha256',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    'ca.crt',
  ]);
  await issue(
    dir,
    'server',
    '/CN=localhost',
    'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth',
  );
  await issue(
    dir,
    'other',
    '/CN=wrong.example',
    'subjectAltName=DNS:wrong.example\nextendedKeyUsage=serverAuth',
  );
  await issue(dir, 'client', '/CN=pqn_cert', 'extendedKeyUsage=clientAuth');
  const path = (file: string) => join(dir, file);
  return {
    caCert: path('ca.crt'),
    serverCert: path('server.crt'),
    serverKey: path('server.key'),
    otherCert: path('other.crt'),
    otherKey: path('other.key'),
    clientCert: path('client.crt'),
    clientKey: path('client.key'),
  };
}
