/**
 * A seeded property test: thousands of malformed (and some well-formed) connection strings
 * and URLs, each with a known secret in the password position, go through parseConninfo,
 * resolveConfig, connect() (with a dialer that fails), the CLI (in process, and a few through
 * the built binary) and the tracer. The secret, and every piece of it between the characters
 * that end a URL part ("@", "/", "?", ...), must appear nowhere in what comes out: message,
 * stack, each cause, String(error), JSON.stringify(error), CLI stderr, trace lines.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { connect } from '../../src/connection/connect.js';
import { redactConninfo, resolveConfig } from '../../src/connection/conninfo.js';
import { writePasswordMessage } from '../../src/protocol/frontend/password.js';
import { createTracer } from '../../src/protocol/trace.js';
import { Writer } from '../../src/protocol/writer.js';
import { DialError, type Dialer } from '../../src/socket/transport.js';
import { BIN, cleanEnv, runNode } from '../support/process.js';

/** mulberry32: a small seeded generator, so every run tries the same strings. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** Characters that cut a password short in one syntax or the other. */
const BREAKERS = ['@', '/', '?', ' ', "'", '#', ':', '&', '=', '%zz', '%', '\\', ',', '"'];

interface Case {
  input: string;
  /** The pieces of the password that must never be shown (each at least 6 characters). */
  pieces: string[];
}

function generate(count: number, seed: number): Case[] {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const word = (): string =>
    Array.from({ length: 6 + Math.floor(next() * 6) }, () => pick([...ALNUM])).join('');
  const password = (): Case['pieces'] & { text: string } => {
    const pieces = [word()];
    let text = pieces[0] as string;
    const breaks = Math.floor(next() * 3);
    for (let i = 0; i < breaks; i++) {
      const piece = word();
      text += pick(BREAKERS) + piece;
      pieces.push(piece);
    }
    return Object.assign(pieces, { text });
  };
  const schemes = [
    'postgres',
    'postgresql',
    'postgress',
    'http',
    'https',
    'pg',
    'mysql',
    'POSTGRES',
    'jdbc:postgresql',
  ];
  const hosts = ['127.0.0.1', '[::1]', 'h', 'db.example', '127.0.0.1,::1', ''];
  const tails = [
    '',
    '/db',
    ':5432/db',
    ':port/db',
    ':99999',
    '/db?sslmode=bogus',
    '/db?x',
    '?application_name=a b',
    '/db?connect_timeout=x&',
    '/d%zzb',
    ':1,:2,:3',
  ];
  const junk = ['', ' foo', ' port=x', ' sslmode=bogus', " dbname='x", ' =', ' host', " '"];
  const cases: Case[] = [];
  while (cases.length < count) {
    const pw = password();
    const user = pick(['u', 'postgres', '', 'us%zzer', 'a b']);
    let input: string;
    switch (Math.floor(next() * 8)) {
      case 0:
      case 1:
        input = `${pick(schemes)}://${user}:${pw.text}@${pick(hosts)}${pick(tails)}`;
        break;
      case 2:
        input = `${user || 'u'}:${pw.text}@${pick(hosts)}${pick(tails)}`;
        break;
      case 3: {
        const value = pick([pw.text, `'${pw.text}`, `'${pw.text}'`, `${pw.text}'`]);
        input = `${pick(['host=h ', '', 'user=u '])}${pick(['password', 'sslpassword'])}=${value}${pick(junk)}`;
        break;
      }
      case 4:
        input = `${pick(['host h ', 'host=h ', 'x '])}password = ${pw.text}${pick(junk)}`;
        break;
      case 5:
        input = `postgresql://${pick(hosts)}/db?${pick(['', 'sslmode=bogus&', 'a&'])}password=${pw.text}${pick(['', '&sslmode=bogus', '%zz', '&x', '&port=0'])}`;
        break;
      case 6:
        input = `postgresql://${user}:${pick(['%', '%z', '%zz', ''])}${pw.text}${pick(['%', '%zz', '%00', '%ff', ''])}@${pick(hosts)}${pick(tails)}`;
        break;
      default:
        input = `${pick(["'", '"', '', ' '])}${pick(schemes)}:/${pick(['', '/'])}${user}:${pw.text}@${pick(hosts)}${pick(tails)}${pick(junk)}`;
    }
    cases.push({ input, pieces: [...pw] });
  }
  return cases;
}

/** Everything an error can show: message, stack, String(), JSON, and the same for causes. */
function exposed(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    parts.push(String(current), JSON.stringify(current) ?? '');
    if (current instanceof Error) {
      parts.push(current.message, current.stack ?? '');
      current = current.cause;
    } else {
      current = undefined;
    }
  }
  return parts.join('\n');
}

function leaked(text: string, pieces: readonly string[]): string[] {
  return pieces.filter((piece) => text.includes(piece));
}

const refusingDialer: Dialer = async (target) => {
  throw new DialError('refused', `could not connect to ${target.label}: refused`);
};

const COUNT = 5000;
const CASES = generate(COUNT, 0x5ec12e7);

describe(`no secret leaves pqnotify (${COUNT} generated strings, seeded)`, () => {
  it('resolveConfig and redactConninfo never show the password, whatever the string', () => {
    const env = { HOME: '/nonexistent', PGUSER: 'u' };
    const failures: string[] = [];
    let refused = 0;
    for (const { input, pieces } of CASES) {
      const redacted = redactConninfo(input);
      if (leaked(redacted, pieces).length > 0)
        failures.push(`redactConninfo(${input}) = ${redacted}`);
      try {
        resolveConfig(input, undefined, env);
      } catch (error) {
        refused++;
        const shown = leaked(exposed(error), pieces);
        if (shown.length > 0) failures.push(`${JSON.stringify(input)} shows ${shown.join(', ')}`);
      }
    }
    expect(failures).toEqual([]);
    // Most strings are malformed on purpose; the rest reach connect() below.
    expect(refused).toBeGreaterThan(COUNT / 2);
  });

  it('connect() errors never show it (a dialer that refuses; names that do not resolve)', async () => {
    const failures: string[] = [];
    for (const { input, pieces } of CASES.filter((_, i) => i % 5 === 0)) {
      const error = await connect(input, { dialer: refusingDialer, connectTimeout: 2 }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(Error);
      const shown = leaked(exposed(error), pieces);
      if (shown.length > 0) failures.push(`${JSON.stringify(input)} shows ${shown.join(', ')}`);
    }
    expect(failures).toEqual([]);
  });

  it('the CLI never prints it on stderr (in process)', async () => {
    const failures: string[] = [];
    for (const { input, pieces } of CASES.filter((_, i) => i % 25 === 0)) {
      const stderr = new PassThrough();
      const stdout = new PassThrough();
      let text = '';
      stderr.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
      });
      const code = await runCli(['notify', 'ch', 'x', '--url', input], {
        stdout,
        stderr,
        stdin: new PassThrough(),
        env: { HOME: '/nonexistent', PGCONNECT_TIMEOUT: '2', PGPORT: '1' },
        signal: new AbortController().signal,
      });
      expect(code).not.toBe(0);
      const shown = leaked(text, pieces);
      if (shown.length > 0) failures.push(`${JSON.stringify(input)} printed ${text}`);
    }
    expect(failures).toEqual([]);
  });

  it('the built binary never prints it on stderr (a sample)', async () => {
    for (const { input, pieces } of CASES.filter((_, i) => i % 1000 === 7)) {
      const result = await runNode([BIN, 'notify', 'ch', 'x', '--url', input], {
        env: cleanEnv({ PGCONNECT_TIMEOUT: '2', PGPORT: '1' }),
      });
      expect(result.code).not.toBe(0);
      expect(leaked(result.stderr, pieces), result.stderr).toEqual([]);
    }
  });

  it('the tracer never writes it (PasswordMessage after a password request)', () => {
    for (const { pieces } of CASES.filter((_, i) => i % 10 === 0)) {
      const lines: string[] = [];
      const tracer = createTracer((line) => lines.push(line));
      tracer.backend({ type: 'AuthenticationCleartextPassword' });
      const writer = new Writer();
      writePasswordMessage(writer, pieces.join('@'));
      tracer.frontend(writer.toBytes());
      expect(lines.length).toBeGreaterThan(0);
      expect(leaked(lines.join('\n'), pieces)).toEqual([]);
    }
  });
});
