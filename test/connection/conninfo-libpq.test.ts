/**
 * Compares parseConninfo with libpq's own PQconninfoParse on a table of strings, through
 * the small C program test/support/libpq-conninfo.c, compiled into a temporary directory.
 * Skipped when there is no C compiler, no libpq headers or no libpq to link.
 *
 * The table sticks to keywords that libpq 15 knows (the oldest libpq this runs against)
 * and leaves out the two places where pqnotify follows libpq 18 or Node on purpose:
 * spaces in URIs (libpq 18 trims them and rejects inner ones; older libpq keeps them) and
 * percent-encoded bytes that are not UTF-8 (pqnotify needs text and rejects them).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { CONNINFO_KEYWORDS, parseConninfo } from '../../src/connection/conninfo.js';
import { ConnectionError } from '../../src/connection/errors.js';
import { buildLibpqProgram } from '../support/libpq.js';

type Outcome = { ok: true; keywords: Record<string, string> } | { ok: false; message: string };

const fromHex = (hex: string): string => Buffer.from(hex, 'hex').toString('utf8');

/** Runs every string through libpq in one go. */
function libpqParse(binary: string, inputs: readonly string[]): Outcome[] {
  const stdin = Buffer.concat(inputs.map((input) => Buffer.from(`${input}\0`, 'utf8')));
  const run = spawnSync(binary, [], { input: stdin, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`libpq helper failed: ${run.stderr}`);
  const lines = run.stdout.split('\n').slice(0, -1);
  expect(lines).toHaveLength(inputs.length);
  return lines.map((line): Outcome => {
    const [status, ...fields] = line.split('\t');
    if (status === 'ERR') return { ok: false, message: fromHex(fields[0] ?? '') };
    const keywords: Record<string, string> = {};
    for (const field of fields) {
      const eq = field.indexOf('=');
      keywords[field.slice(0, eq)] = fromHex(field.slice(eq + 1));
    }
    return { ok: true, keywords };
  });
}

function pqnotifyParse(input: string): Outcome {
  try {
    return { ok: true, keywords: parseConninfo(input) };
  } catch (error) {
    if (!(error instanceof ConnectionError)) throw error;
    return { ok: false, message: error.message };
  }
}

/**
 * Strings libpq accepts and pqnotify refuses on purpose, each with its reason. The test checks
 * that they still differ exactly so.
 */
const PARSE_DIFFERENCES: ReadonlyArray<[input: string, reason: string]> = [
  [
    'postgresql://a:b@c@host',
    'a second "@" after the user info: libpq takes "c@host" as the host and may quote it, a piece of the password, in an error',
  ],
  [
    'postgresql://a:b/c@host/db',
    'an "@" after a "/" with a ":" in the host part: libpq takes "b" as the port and "c@host/db" as the database, both pieces of a password with a "/"',
  ],
];

/** Connection strings to compare; only keywords libpq 15 knows. */
const TABLE: readonly string[] = [
  // keyword=value
  '',
  '   ',
  'host=localhost',
  'host=/tmp port=5433 dbname=mydb user=me',
  'host = localhost   port\t=\t5432',
  'host\n=\nx',
  "dbname='my db'",
  "password='it\\'s'",
  "password='back\\\\slash'",
  'host=a\\ b',
  "user=\\'x",
  'user=a\\',
  "dbname=''",
  'host=',
  'host= port=5',
  "dbname='x'user=y",
  "host=\t'a b'\n",
  "options='-c search_path=public -c work_mem=4MB'",
  "application_name=it's",
  'dbname=a dbname=b',
  'requiressl=1',
  'requiressl=0',
  'requiressl=yes',
  'sslmode=verify-full sslrootcert=/etc/root.crt',
  'dbname=caf\u00e9',
  'user="a',
  'user="a b"',
  'host',
  'host=x foo',
  'foo=bar',
  'host=x Host=y',
  '=x',
  "a='x'b=c",
  "dbname='my db",
  "user='a\\",
  'password=abc def',
  'POSTGRES://h',
  'postgresql:/h',
  'host=a,b,c port=1,,3 hostaddr=192.0.2.1,,',
  'keepalives=1 keepalives_idle=30 keepalives_interval=10 keepalives_count=3 tcp_user_timeout=9',
  'sslcert=a sslkey=b sslpassword=c sslcrl=d sslcrldir=e sslsni=0 sslcompression=1',
  'ssl_min_protocol_version=TLSv1.2 ssl_max_protocol_version=TLSv1.3',
  'gssencmode=disable krbsrvname=postgres gsslib=gssapi replication=database',
  'target_session_attrs=read-write channel_binding=require passfile=/p requirepeer=pg',
  'client_encoding=UTF8 fallback_application_name=fb service=svc connect_timeout=10',
  "host='unterminated",
  "x='\\",
  // URIs
  'postgresql://',
  'postgres://',
  'postgresql://localhost',
  'postgresql://localhost:5433',
  'postgresql://localhost/mydb',
  'postgresql://user@localhost',
  'postgresql://user:secret@localhost',
  'postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp',
  'postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp',
  'postgresql://h1,h2/db',
  'postgresql://h1:1,h2/db',
  'postgresql://,h2',
  'postgresql://,',
  'postgresql://h,',
  'postgresql://:5432,:5433/db',
  'postgresql://[::1]:5432/db',
  'postgresql://[2001:db8::1234]/database',
  'postgresql://[::1],[::2]:5/db',
  'postgresql://[fe80::1%25eth0]/db',
  'postgresql://%2Fvar%2Frun%2Fpostgresql/db',
  'postgresql:///dbname?host=/var/lib/postgresql',
  'postgresql:///mydb?host=localhost&port=5433',
  'postgresql://a%2Cb/db',
  'postgresql://us%40er:p%40ss%3Aword@h/d%20b',
  'postgresql://h/caf%C3%A9',
  'postgresql://h/caf\u00e9',
  'postgresql://h/db?options=-c%20synchronous_commit%3Doff',
  'postgresql://h/db?application_name=a+b',
  'postgresql://h?ssl=true',
  'postgresql://h?ssl=false',
  'postgresql://h?requiressl=1',
  'postgresql://h?requiressl=0',
  'postgresql://h?sslmode=require&application_name=x',
  'postgresql://h/db?',
  'postgresql://h/db?port=1&',
  'postgresql://h/db?host=',
  'postgresql://h/db?dbname=x&dbname=y',
  'postgresql://h/db/extra',
  'postgresql://h/db#frag',
  'postgresql://h:5432:1/db',
  'postgresql://:pw@h',
  'postgresql://u:@h',
  'postgresql://@h/',
  'postgresql://u@',
  'postgresql://u:p@',
  'postgresql://host?application_name=a@b',
  'postgresql://a/b@c',
  'postgresql://u%3Ax:p@h',
  'postgresql://h:port/db',
  'postgresql://h/%64b',
  'postgresql://h/db?%68ost=x',
  'postgresql://h/db?host=%2Ftmp&port=%35%34%33%33',
  'postgresql://[::1]x',
  'postgresql://[]/db',
  'postgresql://[::1/db',
  'postgresql://[::1]:5432,[::2/db',
  'postgresql://h/db?&',
  'postgresql://h/db?&&',
  'postgresql://h/db?a',
  'postgresql://h/db?port=1=2',
  'postgresql://h/db?=x',
  'postgresql://h/db?foo=1',
  'postgresql://u%zz@h',
  'postgresql://u%2@h',
  'postgresql://u%@h',
  'postgresql://u%00@h',
  'postgresql://h/db?application_name=%',
  'postgresql://h/db?%zz=1',
  'postgresql://h%zz/db',
  'postgresql://h:%35432/db',
];

const helper = buildLibpqProgram('libpq-conninfo');
const reason = 'skip' in helper ? ` (skipped: ${helper.skip})` : '';

describe.skipIf('skip' in helper)(
  `parseConninfo agrees with libpq's PQconninfoParse${reason}`,
  () => {
    const binary = 'binary' in helper ? helper.binary : '';
    afterAll(() => {
      if ('dir' in helper) rmSync(helper.dir, { recursive: true, force: true });
    });

    it(`on ${TABLE.length} strings: same keywords and values, same strings refused`, () => {
      const libpq = libpqParse(binary, TABLE);
      const disagreements: string[] = [];
      TABLE.forEach((input, i) => {
        const theirs = libpq[i] as Outcome;
        const ours = pqnotifyParse(input);
        const same =
          theirs.ok === ours.ok &&
          (!theirs.ok ||
            (ours.ok &&
              JSON.stringify(sorted(theirs.keywords)) === JSON.stringify(sorted(ours.keywords))));
        if (!same) {
          disagreements.push(
            `${JSON.stringify(input)}: libpq ${show(theirs)}, pqnotify ${show(ours)}`,
          );
        }
      });
      expect(disagreements).toEqual([]);
      expect(libpq.filter((o) => !o.ok).length).toBeGreaterThan(20);
    });

    it(`differs on ${PARSE_DIFFERENCES.length} strings only as documented: libpq accepts, pqnotify refuses`, () => {
      const libpq = libpqParse(
        binary,
        PARSE_DIFFERENCES.map(([input]) => input),
      );
      PARSE_DIFFERENCES.forEach(([input], i) => {
        expect(libpq[i]?.ok, input).toBe(true);
        expect(pqnotifyParse(input).ok, input).toBe(false);
      });
    });

    it('knows every keyword the installed libpq knows', () => {
      const run = spawnSync(binary, ['--keywords'], { encoding: 'utf8' });
      const theirs = run.stdout.split('\n').filter((line) => line !== '');
      expect(theirs.length).toBeGreaterThan(30);
      expect(
        theirs.filter((keyword) => !(CONNINFO_KEYWORDS as readonly string[]).includes(keyword)),
      ).toEqual([]);
    });
  },
);

function sorted(keywords: Record<string, string>): Array<[string, string]> {
  return Object.entries(keywords).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function show(outcome: Outcome): string {
  return outcome.ok
    ? `accepts ${JSON.stringify(outcome.keywords)}`
    : `refuses (${outcome.message.trim()})`;
}
