/**
 * libpq connection strings and their resolution.
 *
 * - parseConninfo splits `keyword=value` lists and `postgres://` URIs into keywords, as
 *   libpq's PQconninfoParse does.
 * - resolveConfig merges a connection string or options object, overrides and the PG*
 *   environment into a checked ConnectionConfig (types in config.ts).
 *
 * The rules follow libpq 18 (PostgreSQL docs, libpq-connect.html "Connection Strings" and
 * "Parameter Key Words", libpq-envars.html), quirks included, so that a string means the
 * same thing to pqnotify as to psql. No error message built here ever contains the value
 * of a secret keyword (password, sslpassword, ...), nor the whole input string.
 *
 * Files: resolveConfig stats a few default files (~/.postgresql/root.crt, postgresql.crt,
 * postgresql.key, /var/run/postgresql); it never reads the password file (see pgpass.ts).
 */
import { statSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir, networkInterfaces, userInfo } from 'node:os';
import { join } from 'node:path';
import type {
  ConnectionConfig,
  ConnectOptions,
  HostTarget,
  ProtocolVersion,
  RequireAuth,
  RequireAuthMethod,
  TlsVersion,
} from './config.js';
import { ConnectionError } from './errors.js';
import { excerpt, SECRET_KEYWORDS, type Span, secretSpans } from './redact.js';

/**
 * Every keyword libpq 18 accepts in a connection string, in libpq's order. Parsing accepts
 * all of them; `resolveConfig` rejects the ones pqnotify cannot honour.
 */
export const CONNINFO_KEYWORDS = [
  'service',
  'user',
  'password',
  'passfile',
  'channel_binding',
  'connect_timeout',
  'dbname',
  'host',
  'hostaddr',
  'port',
  'client_encoding',
  'options',
  'application_name',
  'fallback_application_name',
  'keepalives',
  'keepalives_idle',
  'keepalives_interval',
  'keepalives_count',
  'tcp_user_timeout',
  'sslmode',
  'sslnegotiation',
  'sslcompression',
  'sslcert',
  'sslkey',
  'sslkeylogfile',
  'sslcertmode',
  'sslpassword',
  'sslrootcert',
  'sslcrl',
  'sslcrldir',
  'sslsni',
  'requirepeer',
  'require_auth',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
  'min_protocol_version',
  'max_protocol_version',
  'gssencmode',
  'krbsrvname',
  'gsslib',
  'gssdelegation',
  'replication',
  'target_session_attrs',
  'load_balance_hosts',
  'scram_client_key',
  'scram_server_key',
  'oauth_issuer',
  'oauth_client_id',
  'oauth_client_secret',
  'oauth_scope',
] as const;

/** A libpq connection keyword. */
export type ConninfoKeyword = (typeof CONNINFO_KEYWORDS)[number];

const KEYWORDS: ReadonlySet<string> = new Set(CONNINFO_KEYWORDS);

/** True when `name` is a keyword libpq 18 knows. */
function isConninfoKeyword(name: string): name is ConninfoKeyword {
  return KEYWORDS.has(name);
}

const URI_PREFIXES = ['postgresql://', 'postgres://'] as const;

/** Length of the `postgresql://` or `postgres://` prefix (case-sensitive, as libpq), else 0. */
function uriPrefixLength(input: string): number {
  for (const prefix of URI_PREFIXES) {
    if (input.startsWith(prefix)) return prefix.length;
  }
  return 0;
}

/** True when libpq would read `input` as a URI rather than as keyword=value pairs. */
function isConninfoUri(input: string): boolean {
  return uriPrefixLength(input) !== 0;
}

/**
 * Parses a connection string in either syntax into its keywords and values, exactly as
 * libpq's PQconninfoParse does: no defaults, no environment, values not validated.
 *
 * - `keyword = value` pairs separated by whitespace; values may be single-quoted; a
 *   backslash escapes the next character inside and outside quotes.
 * - `postgresql://` or `postgres://` URIs: `user:password@host:port,host:port/dbname?k=v&…`,
 *   percent-decoded part by part, IPv6 literals in brackets, `ssl=true` meaning
 *   sslmode=require. Empty user, password, host, port or dbname parts are left out, so
 *   environment variables still apply to them.
 * - `requiressl=1` (or anything starting with 1) becomes sslmode=require, any other
 *   requiressl value sslmode=prefer, in both syntaxes.
 *
 * A keyword given twice keeps its last value. Throws a ConnectionError (CONNECTION_CONFIG)
 * naming the problem and its position; the message never contains a password.
 */
export function parseConninfo(input: string): Record<string, string> {
  const result: Record<string, string> = {};
  const store = (keyword: string, value: string): void => {
    if (keyword === 'requiressl') {
      result.sslmode = value.startsWith('1') ? 'require' : 'prefer';
    } else {
      result[keyword] = value;
    }
  };
  if (isConninfoUri(input)) {
    parseUri(input, store);
  } else {
    scanKeywordValue(input, (pair, previous) => {
      if (pair.keyword !== 'requiressl' && !KEYWORDS.has(pair.keyword)) {
        const where = `at position ${pair.keywordStart + 1}`;
        if (followsSecret(pair, previous)) {
          throw configError(
            `connection string: unknown keyword ${where}, which follows the ${previous?.keyword} value; quote values that contain spaces (${previous?.keyword}='...')`,
          );
        }
        const end = pair.keywordStart + pair.keyword.length;
        const shown = excerpt(input, secretSpans(input, 'input'), pair.keywordStart, end);
        throw configError(`connection string: unknown keyword "${shown}" ${where}`);
      }
      store(pair.keyword, pair.value);
    });
  }
  return result;
}

/**
 * Returns `input` with the values of secret keywords (password, sslpassword,
 * oauth_client_secret, ...) and the password of a URI replaced by `***`. Safe on malformed
 * strings: when the string cannot be read past a secret, everything after it is masked.
 * For log lines and error messages that must show a connection string.
 */
export function redactConninfo(input: string): string {
  return excerpt(input, inputSecretSpans(input));
}

/**
 * Where the secrets of a connection string are: what the parser of its syntax can see (the
 * secret keywords, a word that follows a secret value, a URI's password and secret query
 * parameters), plus what redact.ts's rules see without parsing.
 */
function inputSecretSpans(input: string): Span[] {
  if (isConninfoUri(input)) {
    const spans = secretSpans(input, 'input', false);
    redactUriSpans(input, spans);
    return spans;
  }
  const spans = secretSpans(input, 'input');
  let last: KeywordValuePair | undefined;
  try {
    scanKeywordValue(input, (pair, previous) => {
      last = pair;
      // A secret, or an unknown word right after one: probably the rest of a password
      // that should have been quoted.
      if (!KEYWORDS.has(pair.keyword) && followsSecret(pair, previous)) {
        spans.push([pair.keywordStart, pair.valueEnd]);
      } else if (SECRET_KEYWORDS.has(pair.keyword)) {
        spans.push([pair.valueStart, pair.valueEnd]);
      }
    });
  } catch (error) {
    if (!(error instanceof ScanError)) throw error;
    // An unterminated secret, or a stray word right after one (a password with a space
    // that should have been quoted): hide the rest of the string.
    const secretOpen = error.keyword !== undefined && SECRET_KEYWORDS.has(error.keyword);
    const afterSecret = last !== undefined && SECRET_KEYWORDS.has(last.keyword);
    if (secretOpen || (afterSecret && error.followsPrevious)) {
      spans.push([error.valueStart ?? error.position, input.length]);
    }
  }
  return spans;
}

/* ------------------------------------------------------------------------------------ */
/* keyword = value                                                                      */
/* ------------------------------------------------------------------------------------ */

/** One `keyword=value` pair with where it sits in the input (0-based, end exclusive). */
interface KeywordValuePair {
  keyword: string;
  value: string;
  keywordStart: number;
  valueStart: number;
  valueEnd: number;
  /** Only whitespace separates this pair from the previous pair's value. */
  followsPrevious: boolean;
}

/** True when `pair` sits right after a secret value, separated only by whitespace. */
function followsSecret(pair: KeywordValuePair, previous: KeywordValuePair | undefined): boolean {
  return pair.followsPrevious && previous !== undefined && SECRET_KEYWORDS.has(previous.keyword);
}

/** A syntax error found by scanKeywordValue, turned into a ConnectionError by parseConninfo. */
class ScanError extends ConnectionError {
  /** 0-based position the message refers to. */
  readonly position: number;
  /** The keyword whose value was being read, when the error is inside a value. */
  readonly keyword: string | undefined;
  /** Start of that value (the opening quote). */
  readonly valueStart: number | undefined;
  /** True when the offending word directly follows the previous pair's value. */
  readonly followsPrevious: boolean;

  constructor(
    message: string,
    position: number,
    detail: { keyword?: string; valueStart?: number; followsPrevious?: boolean } = {},
  ) {
    super('CONNECTION_CONFIG', message);
    this.position = position;
    this.keyword = detail.keyword;
    this.valueStart = detail.valueStart;
    this.followsPrevious = detail.followsPrevious ?? false;
  }
}

/** C's isspace() in the C locale, which is what libpq uses. */
function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';
}

/**
 * Walks a keyword=value string the way libpq's conninfo_parse does and hands each pair to
 * `onPair` as soon as it is complete (so an unknown keyword is reported before a later
 * syntax error, as in libpq). Throws ScanError on a missing "=" or an unterminated quote.
 */
function scanKeywordValue(
  input: string,
  onPair: (pair: KeywordValuePair, previous: KeywordValuePair | undefined) => void,
): void {
  const n = input.length;
  let i = 0;
  let previous: KeywordValuePair | undefined;
  while (i < n) {
    if (isSpace(input[i])) {
      i++;
      continue;
    }
    const keywordStart = i;
    while (i < n && input[i] !== '=' && !isSpace(input[i])) i++;
    const keyword = input.slice(keywordStart, i);
    const followsPrevious = previous !== undefined && previous.valueEnd <= keywordStart;
    while (i < n && isSpace(input[i])) i++;
    if (input[i] !== '=') {
      throw missingEquals(input, keywordStart, i, previous, followsPrevious);
    }
    i++;
    while (i < n && isSpace(input[i])) i++;
    const valueStart = i;
    let value = '';
    if (input[i] === "'") {
      i++;
      for (;;) {
        if (i >= n) {
          throw new ScanError(
            `connection string: unterminated quoted value for "${keyword}" (the quote opens at position ${valueStart + 1})`,
            valueStart,
            { keyword, valueStart },
          );
        }
        const ch = input[i] as string;
        if (ch === '\\') {
          i++;
          if (i < n) value += input[i++];
        } else if (ch === "'") {
          i++;
          break;
        } else {
          value += ch;
          i++;
        }
      }
    } else {
      while (i < n) {
        const ch = input[i] as string;
        if (isSpace(ch)) break;
        i++;
        if (ch === '\\') {
          if (i < n) value += input[i++];
        } else {
          value += ch;
        }
      }
    }
    const pair = { keyword, value, keywordStart, valueStart, valueEnd: i, followsPrevious };
    onPair(pair, previous);
    previous = pair;
  }
}

/**
 * The error for a word that is not followed by "=", careful not to quote a password: the
 * word is shown through redact.ts's excerpt, and a URL with another scheme is named as such.
 */
function missingEquals(
  input: string,
  start: number,
  end: number,
  previous: KeywordValuePair | undefined,
  followsPrevious: boolean,
): ScanError {
  const where = `at position ${start + 1}`;
  if (previous !== undefined && followsPrevious && SECRET_KEYWORDS.has(previous.keyword)) {
    return new ScanError(
      `connection string: missing "=" after the word ${where}, which follows the ${previous.keyword} value; quote values that contain spaces (${previous.keyword}='...')`,
      start,
      { followsPrevious },
    );
  }
  const spans = secretSpans(input, 'input');
  const wordEnds = input.slice(start).search(/[\s]/);
  const word = excerpt(input, spans, start, wordEnds === -1 ? input.length : start + wordEnds);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(input.slice(start, end));
  if (start === 0 && scheme !== null) {
    return new ScanError(
      `connection string: "${word}" is not a connection URI: the scheme must be postgresql:// or postgres://, not ${scheme[1]}://`,
      start,
      { followsPrevious },
    );
  }
  return new ScanError(`connection string: missing "=" after "${word}" ${where}`, start, {
    followsPrevious,
  });
}

/* ------------------------------------------------------------------------------------ */
/* URIs                                                                                 */
/* ------------------------------------------------------------------------------------ */

/** Where the user-info part of a URI ends: the first "@" before any "/", as libpq looks. */
function findCredentials(
  input: string,
  start: number,
): { at: number; colon: number | undefined } | undefined {
  let p = start;
  while (p < input.length && input[p] !== '@' && input[p] !== '/') p++;
  if (input[p] !== '@') return undefined;
  const colon = input.indexOf(':', start);
  return { at: p, colon: colon !== -1 && colon < p ? colon : undefined };
}

const HOST_END = new Set([':', '/', '?', ',']);
const PORT_END = new Set(['/', '?', ',']);

/**
 * Reads a URI the way libpq's conninfo_uri_parse_options does and calls `store` for each
 * keyword found, already percent-decoded.
 */
function parseUri(input: string, store: (keyword: string, value: string) => void): void {
  const n = input.length;
  let p = uriPrefixLength(input);

  const credentials = findCredentials(input, p);
  refuseStrayAt(input, p, credentials);
  if (credentials !== undefined) {
    const userEnd = credentials.colon ?? credentials.at;
    if (userEnd > p) store('user', uriDecode(input, p, userEnd, 'user name'));
    if (credentials.colon !== undefined && credentials.at > credentials.colon + 1) {
      store('password', uriDecode(input, credentials.colon + 1, credentials.at, 'password'));
    }
    p = credentials.at + 1;
  }

  // One or more netloc[:port], separated by commas. libpq joins the raw parts with commas
  // and decodes the joined list, so a %2C inside a host name adds a host: mirrored here.
  let hosts = '';
  let ports = '';
  let terminator: string | undefined;
  for (;;) {
    if (input[p] === '[') {
      const open = p;
      const close = input.indexOf(']', open + 1);
      if (close === -1) {
        throw configError(
          `connection URI: the IPv6 address that opens at position ${open + 1} has no closing "]"`,
        );
      }
      if (close === open + 1) {
        throw configError(`connection URI: empty IPv6 address "[]" at position ${open + 1}`);
      }
      hosts += input.slice(open + 1, close);
      p = close + 1;
      if (p < n && !HOST_END.has(input[p] as string)) {
        throw configError(
          `connection URI: unexpected character "${input[p]}" at position ${p + 1} after an IPv6 address (expected ":", "/", "?" or ",")`,
        );
      }
    } else {
      const start = p;
      while (p < n && !HOST_END.has(input[p] as string)) p++;
      hosts += input.slice(start, p);
    }
    terminator = input[p];
    if (terminator === ':') {
      const start = ++p;
      while (p < n && !PORT_END.has(input[p] as string)) p++;
      ports += input.slice(start, p);
      terminator = input[p];
    }
    if (terminator !== ',') break;
    p++;
    hosts += ',';
    ports += ',';
  }
  if (hosts !== '') store('host', decodeComponent(hosts, 'host list'));
  if (ports !== '') store('port', decodeComponent(ports, 'port list'));

  if (terminator === '/') {
    const start = ++p;
    while (p < n && input[p] !== '?') p++;
    if (p > start) store('dbname', uriDecode(input, start, p, 'database name'));
    terminator = input[p];
  }
  if (terminator === '?') parseUriQuery(input, p + 1, store);
}

/**
 * Refuses a URI whose password was probably cut short by an unescaped "@", "/" or "?" in it,
 * where libpq would read the rest of the password as a host, port, database or query:
 * another "@" in the host list (except one that starts a host, an abstract socket), or, with
 * no user info found but a ":" in the host part, an "@" before any "=" further on. A
 * difference from libpq, which accepts these and may then quote a piece of the password as a
 * host name or port in an error. The message never quotes the URI.
 */
function refuseStrayAt(
  input: string,
  start: number,
  credentials: { at: number } | undefined,
): void {
  const hint = 'percent-encode "@" as %40, "/" as %2F and "?" as %3F in the user name and password';
  if (credentials !== undefined) {
    const rest = input.slice(credentials.at + 1);
    const before = rest.indexOf('=');
    const stray = /[^,]@/.exec(before === -1 ? rest : rest.slice(0, before));
    if (stray !== null) {
      throw configError(
        `connection URI: a second "@" at position ${credentials.at + stray.index + 3}, after the user info; ${hint}`,
      );
    }
    return;
  }
  let end = start;
  while (end < input.length && input[end] !== '/' && input[end] !== '?') end++;
  if (!input.slice(start, end).includes(':')) return;
  const at = input.indexOf('@', end);
  if (at !== -1 && !input.slice(end, at).includes('=')) {
    throw configError(
      `connection URI: an "@" at position ${at + 1} after the host part; if it belongs to a password, ${hint}`,
    );
  }
}

/** Reads `k=v&k=v` from `start` to the end, as libpq's conninfo_uri_parse_params. */
function parseUriQuery(
  input: string,
  start: number,
  store: (keyword: string, value: string) => void,
): void {
  const n = input.length;
  let p = start;
  // A parameter right after a secret one may be the rest of that secret, cut at an
  // unescaped "&": its errors then quote nothing.
  let afterSecret = false;
  while (p < n) {
    const keyStart = p;
    const quoted = (text: string): string => (afterSecret ? '' : ` "${text}"`);
    const follows = afterSecret
      ? ', which follows a secret parameter (percent-encode "&" in a secret as %26)'
      : '';
    let keyEnd: number | undefined;
    while (p < n && input[p] !== '&') {
      if (input[p] === '=') {
        if (keyEnd !== undefined) {
          const key = input.slice(keyStart, keyEnd);
          throw configError(
            `connection URI: second "=" at position ${p + 1} in query parameter${quoted(key)}${follows} (write it as %3D)`,
          );
        }
        keyEnd = p;
      }
      p++;
    }
    const paramEnd = p;
    if (p < n) p++;
    if (keyEnd === undefined) {
      throw configError(
        `connection URI: query parameter${quoted(input.slice(keyStart, paramEnd))} at position ${keyStart + 1} has no "=value"${follows}`,
      );
    }
    let keyword = uriDecode(input, keyStart, keyEnd, 'query parameter name', afterSecret);
    const secret = SECRET_KEYWORDS.has(keyword);
    let value = uriDecode(
      input,
      keyEnd + 1,
      paramEnd,
      secret
        ? `${keyword} value`
        : afterSecret
          ? 'query parameter value'
          : `value of query parameter "${keyword}"`,
      secret || afterSecret,
    );
    if (keyword === 'ssl' && value === 'true') {
      keyword = 'sslmode';
      value = 'require';
    }
    if (keyword !== 'requiressl' && !KEYWORDS.has(keyword)) {
      throw configError(
        `connection URI: unknown query parameter${quoted(keyword)} at position ${keyStart + 1}${follows}`,
      );
    }
    store(keyword, value);
    afterSecret = secret;
  }
}

/** Percent-decodes `input[start, end)`, naming the part and its position on error. */
function uriDecode(
  input: string,
  start: number,
  end: number,
  part: string,
  secret = part === 'password',
): string {
  return decodeComponent(input.slice(start, end), part, start, secret);
}

/**
 * libpq 18's conninfo_uri_decode: spaces around the value are dropped, a space inside it is
 * an error (write %20), %XX must be two hex digits and not %00. The decoded bytes must be
 * UTF-8 (libpq passes bytes through unchecked; JS strings need text).
 */
function decodeComponent(raw: string, part: string, offset?: number, secret = false): string {
  const where = (i: number): string =>
    offset === undefined ? `in the ${part}` : `in the ${part} at position ${offset + i + 1}`;
  let i = 0;
  while (raw[i] === ' ') i++;
  let end = raw.length;
  while (end > i && raw[end - 1] === ' ') end--;
  let out = '';
  let bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length === 0) return;
    try {
      out += UTF8.decode(Uint8Array.from(bytes));
    } catch {
      throw configError(`connection URI: percent-encoded bytes ${where(i)} are not valid UTF-8`);
    }
    bytes = [];
  };
  while (i < end) {
    const ch = raw[i] as string;
    if (ch === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        const token = secret ? '' : ` "${raw.slice(i, i + 3)}"`;
        throw configError(`connection URI: invalid percent-encoding${token} ${where(i)}`);
      }
      const byte = Number.parseInt(hex, 16);
      if (byte === 0) throw configError(`connection URI: %00 is not allowed ${where(i)}`);
      bytes.push(byte);
      i += 3;
    } else if (ch === ' ') {
      throw configError(`connection URI: unexpected space ${where(i)}; write spaces as %20`);
    } else {
      flush();
      out += ch;
      i++;
    }
  }
  flush();
  return out;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Collects the spans of secrets in a URI for redactConninfo, without decoding anything. */
function redactUriSpans(input: string, spans: Span[]): void {
  const credentials = findCredentials(input, uriPrefixLength(input));
  let from = uriPrefixLength(input);
  if (credentials !== undefined) {
    if (credentials.colon !== undefined && credentials.at > credentials.colon + 1) {
      spans.push([credentials.colon + 1, credentials.at]);
    }
    from = credentials.at + 1;
  }
  const query = input.indexOf('?', from);
  if (query === -1) return;
  let p = query + 1;
  let afterSecret = false;
  while (p <= input.length) {
    let end = input.indexOf('&', p);
    if (end === -1) end = input.length;
    const eq = input.indexOf('=', p);
    let name: string | undefined;
    if (eq !== -1 && eq < end) {
      try {
        name = decodeComponent(input.slice(p, eq), 'name');
      } catch {
        name = input.slice(p, eq);
      }
    }
    if (afterSecret && (name === undefined || !KEYWORDS.has(name))) spans.push([p, end]);
    afterSecret = name !== undefined && SECRET_KEYWORDS.has(name);
    if (afterSecret) spans.push([(eq as number) + 1, end]);
    p = end + 1;
  }
}

/* ------------------------------------------------------------------------------------ */
/* Resolution                                                                           */
/* ------------------------------------------------------------------------------------ */

/** The environment variable libpq reads for each keyword (libpq-envars.html). */
const ENV_VARS: Partial<Record<ConninfoKeyword, string>> = {
  service: 'PGSERVICE',
  user: 'PGUSER',
  password: 'PGPASSWORD',
  passfile: 'PGPASSFILE',
  channel_binding: 'PGCHANNELBINDING',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  dbname: 'PGDATABASE',
  host: 'PGHOST',
  hostaddr: 'PGHOSTADDR',
  port: 'PGPORT',
  client_encoding: 'PGCLIENTENCODING',
  options: 'PGOPTIONS',
  application_name: 'PGAPPNAME',
  sslmode: 'PGSSLMODE',
  sslnegotiation: 'PGSSLNEGOTIATION',
  sslcompression: 'PGSSLCOMPRESSION',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  sslcertmode: 'PGSSLCERTMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcrl: 'PGSSLCRL',
  sslcrldir: 'PGSSLCRLDIR',
  sslsni: 'PGSSLSNI',
  requirepeer: 'PGREQUIREPEER',
  require_auth: 'PGREQUIREAUTH',
  ssl_min_protocol_version: 'PGSSLMINPROTOCOLVERSION',
  ssl_max_protocol_version: 'PGSSLMAXPROTOCOLVERSION',
  min_protocol_version: 'PGMINPROTOCOLVERSION',
  max_protocol_version: 'PGMAXPROTOCOLVERSION',
  gssencmode: 'PGGSSENCMODE',
  krbsrvname: 'PGKRBSRVNAME',
  gsslib: 'PGGSSLIB',
  gssdelegation: 'PGGSSDELEGATION',
  target_session_attrs: 'PGTARGETSESSIONATTRS',
  load_balance_hosts: 'PGLOADBALANCEHOSTS',
};

/** libpq keyword → ConnectOptions key, and back. */
const OPTION_KEYS = new Map<string, ConninfoKeyword>(
  CONNINFO_KEYWORDS.map((keyword) => [
    keyword.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase()),
    keyword,
  ]),
);

const DEFAULT_PORT = 5432;

/**
 * The directory libpq looks in for the server's socket when no host is given: Debian's
 * libpq uses /var/run/postgresql, upstream libpq /tmp. pqnotify takes /var/run/postgresql
 * when that directory exists, else /tmp. On Windows there is none (libpq uses localhost).
 */
export function defaultSocketDir(): string {
  if (process.platform === 'win32') return '';
  return isDirectory('/var/run/postgresql') ? '/var/run/postgresql' : '/tmp';
}

/** A value and where it came from, for error messages. */
interface Setting {
  keyword: ConninfoKeyword;
  value: string;
  /** "PGSSLMODE", "the connection string", "options.sslmode", ... */
  source: string;
}

/**
 * Resolves a connection string or options object, plus overrides, plus the PG* environment,
 * into a checked ConnectionConfig. Precedence per keyword: `overrides` > `conninfo` >
 * environment > libpq's defaults.
 *
 * Semantics that follow libpq: a keyword set to '' in a connection string still hides the
 * environment variable (`host=''` means the default socket, even with PGHOST set); in an
 * options object '' means "not given". One deliberate difference: an environment variable
 * set to '' counts as unset (libpq would reject PGSSLMODE='' as an invalid sslmode).
 *
 * Throws ConnectionError CONNECTION_CONFIG for malformed or contradictory settings and for
 * libpq features pqnotify does not have (service files, replication, GSSAPI encryption,
 * requirepeer, sslcertmode=require, sslcrldir, sslkeylogfile, OAuth, SCRAM keys).
 * Synchronous; only stats a few default files (see the module comment).
 */
export function resolveConfig(
  conninfo?: string | ConnectOptions,
  overrides?: ConnectOptions,
  env: Record<string, string | undefined> = process.env,
): ConnectionConfig {
  const settings = new Map<ConninfoKeyword, Setting>();
  let passwordFn: (() => string | Promise<string>) | undefined;

  for (const keyword of CONNINFO_KEYWORDS) {
    const name = ENV_VARS[keyword];
    const value = name === undefined ? undefined : env[name];
    if (name !== undefined && value !== undefined && value !== '') {
      settings.set(keyword, { keyword, value, source: name });
    }
  }
  const requiressl = env.PGREQUIRESSL;
  if (!settings.has('sslmode') && requiressl?.startsWith('1')) {
    settings.set('sslmode', {
      keyword: 'sslmode',
      value: 'require',
      source: 'PGREQUIRESSL',
    });
  }

  const applyOptions = (options: ConnectOptions, what: string): void => {
    for (const [key, raw] of Object.entries(options) as Array<[string, unknown]>) {
      const keyword = OPTION_KEYS.get(key);
      if (keyword === undefined) throw unknownOption(key, what);
      if (raw === undefined || raw === '') continue;
      const source = `${what}.${key}`;
      if (keyword === 'password' && typeof raw === 'function') {
        passwordFn = raw as () => string | Promise<string>;
        settings.delete('password');
        continue;
      }
      if (keyword === 'password') passwordFn = undefined;
      settings.set(keyword, { keyword, value: optionString(raw, source), source });
    }
  };

  if (typeof conninfo === 'string') {
    for (const [name, value] of Object.entries(parseConninfo(conninfo))) {
      const keyword = name as ConninfoKeyword;
      if (keyword === 'password') passwordFn = undefined;
      settings.set(keyword, {
        keyword,
        value,
        source: 'the connection string',
      });
    }
  } else if (conninfo !== undefined) {
    applyOptions(conninfo, 'options');
  }
  if (overrides !== undefined) applyOptions(overrides, 'overrides');

  return interpret(settings, passwordFn, env);
}

/** Turns the merged settings into a ConnectionConfig, checking every value. */
function interpret(
  settings: Map<ConninfoKeyword, Setting>,
  passwordFn: (() => string | Promise<string>) | undefined,
  env: Record<string, string | undefined>,
): ConnectionConfig {
  const get = (keyword: ConninfoKeyword): Setting | undefined => settings.get(keyword);
  const text = (keyword: ConninfoKeyword): string | undefined => {
    const value = get(keyword)?.value;
    return value === undefined || value === '' ? undefined : value;
  };

  rejectUnsupported(settings);

  const home = homeDirectory(env);
  const sslmodeSetting = get('sslmode');
  let sslmode = choice(sslmodeSetting, SSL_MODES, 'prefer');
  let sslrootcert = text('sslrootcert');
  if (sslrootcert === 'system') {
    if (sslmodeSetting === undefined) sslmode = 'verify-full';
    else if (sslmode !== 'verify-full') {
      throw configError(
        `sslmode "${sslmode}" (from ${sslmodeSetting.source}) may not be used with sslrootcert=system; use verify-full`,
      );
    }
  }
  const sslnegotiation = choice(get('sslnegotiation'), ['postgres', 'direct'], 'postgres');
  if (sslnegotiation === 'direct' && !['require', 'verify-ca', 'verify-full'].includes(sslmode)) {
    throw configError(
      `sslnegotiation=direct needs sslmode require, verify-ca or verify-full, not "${sslmode}"`,
    );
  }

  const hosts = resolveHosts(get('host'), get('hostaddr'), get('port'));

  const postgresDir = home === undefined ? undefined : join(home, '.postgresql');
  const defaultRoot = postgresDir === undefined ? undefined : join(postgresDir, 'root.crt');
  if (sslrootcert === undefined && defaultRoot !== undefined && isFile(defaultRoot)) {
    sslrootcert = defaultRoot;
  }

  const defaultFile = (keyword: 'sslcert' | 'sslkey', name: string): string | undefined => {
    const given = text(keyword);
    if (given !== undefined) return given;
    const path = postgresDir === undefined ? undefined : join(postgresDir, name);
    return path !== undefined && isFile(path) ? path : undefined;
  };

  const user = text('user') ?? osUser();
  const minProtocolVersion = protocolVersion(get('min_protocol_version')) ?? PROTOCOL_3_0;
  const maxProtocolVersion =
    protocolVersion(get('max_protocol_version')) ??
    (minProtocolVersion.minor > 0 ? PROTOCOL_LATEST : PROTOCOL_3_0);
  if (minProtocolVersion.minor > maxProtocolVersion.minor) {
    throw configError(
      `min_protocol_version 3.${minProtocolVersion.minor} is greater than max_protocol_version 3.${maxProtocolVersion.minor}`,
    );
  }
  const sslMinProtocolVersion = tlsVersion(get('ssl_min_protocol_version')) ?? 'TLSv1.2';
  const sslMaxProtocolVersion = tlsVersion(get('ssl_max_protocol_version'));
  if (
    sslMaxProtocolVersion !== undefined &&
    TLS_VERSIONS.indexOf(sslMinProtocolVersion) > TLS_VERSIONS.indexOf(sslMaxProtocolVersion)
  ) {
    throw configError(
      `invalid TLS protocol version range: ssl_min_protocol_version ${sslMinProtocolVersion} is above ssl_max_protocol_version ${sslMaxProtocolVersion}`,
    );
  }

  const connectTimeout = integer(get('connect_timeout')) ?? 0;
  const clientEncoding = text('client_encoding');

  const config: ConnectionConfig = {
    hosts,
    user,
    dbname: text('dbname') ?? user,
    password: passwordFn ?? text('password'),
    passfile: text('passfile') ?? defaultPassfile(home, env),
    applicationName: text('application_name'),
    fallbackApplicationName: text('fallback_application_name'),
    options: text('options'),
    clientEncoding: clientEncoding?.toLowerCase() === 'auto' ? 'UTF8' : clientEncoding,
    connectTimeout: connectTimeout <= 0 ? 0 : Math.max(connectTimeout, 2),
    keepalives: (integer(get('keepalives')) ?? 1) !== 0,
    sslmode,
    sslnegotiation,
    sslrootcert,
    sslcert: defaultFile('sslcert', 'postgresql.crt'),
    sslkey: defaultFile('sslkey', 'postgresql.key'),
    sslpassword: text('sslpassword'),
    sslcrl: text('sslcrl'),
    // libpq reads only the first character; any other value is accepted and means off.
    sslsni: get('sslsni')?.value.startsWith('1') ?? true,
    sslcertmode: choice(get('sslcertmode'), ['disable', 'allow'], 'allow'),
    sslMinProtocolVersion,
    sslMaxProtocolVersion,
    channelBinding: choice(get('channel_binding'), ['disable', 'prefer', 'require'], 'prefer'),
    requireAuth: requireAuth(get('require_auth')),
    targetSessionAttrs: choice(get('target_session_attrs'), TARGET_SESSION_ATTRS, 'any'),
    loadBalanceHosts: choice(get('load_balance_hosts'), ['disable', 'random'], 'disable'),
    minProtocolVersion,
    maxProtocolVersion,
    gssencmode: choice(get('gssencmode'), ['disable', 'prefer'], 'disable'),
  };
  // With keepalives on, Linux refuses 0 for these (libpq's setsockopt then fails); with
  // keepalives off, libpq never sets them but still reads them as integers.
  const keepaliveMin = config.keepalives ? 1 : undefined;
  for (const [keyword, field] of [
    ['keepalives_idle', 'keepalivesIdle'],
    ['keepalives_interval', 'keepalivesInterval'],
    ['keepalives_count', 'keepalivesCount'],
  ] as const) {
    const value = integer(get(keyword), keepaliveMin);
    if (value !== undefined) config[field] = value;
  }
  // libpq takes a negative tcp_user_timeout as 0, the system's default.
  const tcpUserTimeout = integer(get('tcp_user_timeout'));
  if (tcpUserTimeout !== undefined) config.tcpUserTimeout = Math.max(tcpUserTimeout, 0);
  // sslcompression and gssdelegation are not checked by libpq either, and mean nothing here.
  return config;
}

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
const TARGET_SESSION_ATTRS = [
  'any',
  'read-write',
  'read-only',
  'primary',
  'standby',
  'prefer-standby',
] as const;
const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const PROTOCOL_3_0: ProtocolVersion = { major: 3, minor: 0 };
const PROTOCOL_LATEST: ProtocolVersion = { major: 3, minor: 2 };
const AUTH_METHODS: readonly RequireAuthMethod[] = [
  'password',
  'md5',
  'gss',
  'sspi',
  'scram-sha-256',
  'oauth',
  'none',
];

const EMPTY_REFUSED: ReadonlySet<ConninfoKeyword> = new Set([
  'service',
  'scram_client_key',
  'scram_server_key',
]);

/** Refuses settings for libpq features pqnotify does not implement. */
function rejectUnsupported(settings: Map<ConninfoKeyword, Setting>): void {
  const notSupported = (setting: Setting, what: string): ConnectionError =>
    configError(`${what} (from ${setting.source}) is not supported by pqnotify`);
  for (const [keyword, setting] of settings) {
    // An empty value is no request for the feature, except where libpq refuses it too (no
    // service named "", a SCRAM key of length 0).
    if (setting.value === '' && !EMPTY_REFUSED.has(keyword)) continue;
    switch (keyword) {
      case 'service':
        throw notSupported(
          setting,
          'service (connection service files, pg_service.conf); give the parameters directly',
        );
      case 'replication':
        if (!['0', 'false', 'off', 'no'].includes(setting.value.toLowerCase())) {
          throw notSupported(setting, `replication=${setting.value}`);
        }
        break;
      case 'gssencmode':
        if (setting.value === 'require') {
          throw notSupported(setting, 'gssencmode=require (GSSAPI encryption)');
        }
        break;
      case 'sslcertmode':
        if (setting.value === 'require') {
          throw notSupported(
            setting,
            'sslcertmode=require (Node cannot tell whether the server asked for a certificate)',
          );
        }
        break;
      case 'requirepeer':
        throw notSupported(setting, 'requirepeer (checking the peer of a Unix socket)');
      case 'sslcrldir':
        throw notSupported(setting, 'sslcrldir; use sslcrl with a single file');
      case 'sslkeylogfile':
        throw notSupported(setting, 'sslkeylogfile');
      case 'scram_client_key':
      case 'scram_server_key':
        throw notSupported(setting, keyword);
      case 'oauth_issuer':
      case 'oauth_client_id':
      case 'oauth_client_secret':
      case 'oauth_scope':
        throw notSupported(setting, `${keyword} (OAuth authentication)`);
    }
  }
}

/**
 * Splits host/hostaddr/port lists into one HostTarget per server, as libpq's
 * connectOptions2. A slot with a hostaddr and no host name is marked `addressOnly`.
 */
function resolveHosts(
  host: Setting | undefined,
  hostaddr: Setting | undefined,
  port: Setting | undefined,
): HostTarget[] {
  const names = host !== undefined && host.value !== '' ? host.value.split(',') : undefined;
  const addrs =
    hostaddr !== undefined && hostaddr.value !== '' ? hostaddr.value.split(',') : undefined;
  const count = addrs?.length ?? names?.length ?? 1;
  if (names !== undefined && addrs !== undefined && names.length !== addrs.length) {
    throw configError(
      `could not match ${names.length} host names (from ${host?.source}) to ${addrs.length} hostaddr values (from ${hostaddr?.source})`,
    );
  }
  const ports = port !== undefined && port.value !== '' ? port.value.split(',') : undefined;
  if (ports !== undefined && ports.length !== 1 && ports.length !== count) {
    throw configError(
      `could not match ${ports.length} port numbers (from ${port?.source}) to ${count} hosts`,
    );
  }
  const targets: HostTarget[] = [];
  for (let i = 0; i < count; i++) {
    const portText = ports === undefined ? '' : ((ports.length === 1 ? ports[0] : ports[i]) ?? '');
    const portNumber = portText === '' ? DEFAULT_PORT : parsePort(portText, port);
    const addr = addrs?.[i] ?? '';
    let name = names?.[i] ?? '';
    if (addr !== '') {
      const numeric = numericAddress(addr);
      if (numeric === undefined) {
        throw configError(
          `invalid hostaddr "${addr}" (from ${hostaddr?.source}): not a numeric IPv4 or IPv6 address`,
        );
      }
      targets.push({
        host: name || addr,
        hostaddr: numeric,
        port: portNumber,
        socketPath: undefined,
        ...(name === '' ? { addressOnly: true } : {}),
      });
      continue;
    }
    if (name === '') name = defaultSocketDir() || 'localhost';
    const isSocket = name.startsWith('/') || name.startsWith('@');
    targets.push({
      host: name,
      hostaddr: undefined,
      port: portNumber,
      socketPath: isSocket ? socketPath(name, portNumber) : undefined,
    });
  }
  return targets;
}

/**
 * A hostaddr as the platform's numeric address parser reads it (libpq's getaddrinfo with
 * AI_NUMERICHOST, glibc's rules), in the form Node dials: IPv4 in inet_aton's forms (1 to 4
 * parts, each decimal, octal with a leading 0 or hex with 0x, the last filling the remaining
 * bytes: "127.1", "0x7f000001") as a dotted quad; IPv6 as it is, with a numeric zone
 * ("::1%1") or an interface name on a link-local address ("fe80::1%eth0"). Else undefined.
 */
function numericAddress(text: string): string | undefined {
  const zoneAt = text.indexOf('%');
  if (zoneAt !== -1) {
    const address = text.slice(0, zoneAt);
    const zone = text.slice(zoneAt + 1);
    if (isIP(address) !== 6 || zone === '') return undefined;
    if (/^\d+$/.test(zone)) return text;
    const linkLocal = /^fe[89ab][0-9a-f]:/i.test(address);
    return linkLocal && networkInterfaces()[zone] !== undefined ? text : undefined;
  }
  if (isIP(text) === 6) return text;
  const parts = text.split('.');
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    const value = /^0[xX][0-9a-fA-F]+$/.test(part)
      ? Number.parseInt(part.slice(2), 16)
      : /^0[0-7]*$/.test(part)
        ? Number.parseInt(part, 8)
        : /^[1-9]\d*$/.test(part)
          ? Number(part)
          : Number.NaN;
    if (Number.isNaN(value)) return undefined;
    values.push(value);
  }
  const last = values.pop() as number;
  if (values.some((value) => value > 255)) return undefined;
  const lastBytes = 4 - values.length;
  if (last >= 2 ** (8 * lastBytes)) return undefined;
  const bytes = [...values];
  for (let i = lastBytes - 1; i >= 0; i--) bytes.push(Math.floor(last / 2 ** (8 * i)) % 256);
  return bytes.join('.');
}

/** The socket file of a server in `dir`; abstract "@name" sockets get Node's "\0" prefix. */
function socketPath(dir: string, port: number): string {
  const path = `${dir}/.s.PGSQL.${port}`;
  return path.startsWith('@') ? `\0${path.slice(1)}` : path;
}

/** A port number 1..65535, with libpq's integer syntax. */
function parsePort(text: string, setting: Setting | undefined): number {
  const value = parseInteger(text);
  if (value === undefined || value < 1 || value > 65535) {
    throw configError(`invalid port number "${text}" (from ${setting?.source})`);
  }
  return value;
}

/** libpq's pqParseIntParam: optional spaces, a sign, decimal digits, a 32-bit int. */
function parseInteger(text: string): number | undefined {
  if (!/^[ \t\n\v\f\r]*[+-]?\d+[ \t\n\v\f\r]*$/.test(text)) return undefined;
  const value = Number.parseInt(text.trim(), 10);
  return value >= -2147483648 && value <= 2147483647 ? value : undefined;
}

/** An integer setting, undefined when not given; below `min` is an error. */
function integer(setting: Setting | undefined, min?: number): number | undefined {
  if (setting === undefined) return undefined;
  const keyword = setting.keyword;
  const value = parseInteger(setting.value);
  if (value === undefined) {
    throw configError(
      `invalid integer value "${setting.value}" for ${keyword} (from ${setting.source})`,
    );
  }
  if (min !== undefined && value < min) {
    throw configError(`${keyword} must be at least ${min}, not ${value} (from ${setting.source})`);
  }
  return value;
}

/** An enumerated setting: one of `allowed`, else `fallback` when not given. */
function choice<const T extends string>(
  setting: Setting | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (setting === undefined) return fallback;
  const value = setting.value;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw configError(
    `invalid ${setting.keyword} value "${value}" (from ${setting.source}); expected one of: ${allowed.join(', ')}`,
  );
}

/** min/max_protocol_version: "3.0", "3.2" or "latest"; '' is refused, as by libpq 18. */
function protocolVersion(setting: Setting | undefined): ProtocolVersion | undefined {
  if (setting === undefined) return undefined;
  switch (setting.value) {
    case '3.0':
      return PROTOCOL_3_0;
    case '3.2':
    case 'latest':
      return PROTOCOL_LATEST;
  }
  throw configError(
    `invalid ${setting.keyword} value "${setting.value}" (from ${setting.source}); expected 3.0, 3.2 or latest`,
  );
}

/** ssl_min/max_protocol_version: TLSv1 … TLSv1.3, any case; '' means not set (libpq). */
function tlsVersion(setting: Setting | undefined): TlsVersion | undefined {
  if (setting === undefined || setting.value === '') return undefined;
  const found = TLS_VERSIONS.find((v) => v.toLowerCase() === setting.value.toLowerCase());
  if (found !== undefined) return found;
  throw configError(
    `invalid ${setting.keyword} value "${setting.value}" (from ${setting.source}); expected one of: ${TLS_VERSIONS.join(', ')}`,
  );
}

/** Parses require_auth as libpq 18 does; '' means no requirement. */
function requireAuth(setting: Setting | undefined): RequireAuth | undefined {
  if (setting === undefined || setting.value === '') return undefined;
  const parts = setting.value.split(',');
  const negated = parts[0]?.startsWith('!') ?? false;
  const methods: RequireAuthMethod[] = [];
  for (const part of parts) {
    const isNegated = part.startsWith('!');
    const method = isNegated ? part.slice(1) : part;
    if (isNegated !== negated) {
      throw configError(
        isNegated
          ? `require_auth: negative method "${method}" cannot be mixed with non-negative methods (from ${setting.source})`
          : `require_auth: method "${method}" cannot be mixed with negative methods (from ${setting.source})`,
      );
    }
    const known = AUTH_METHODS.find((m) => m === method);
    if (known === undefined) {
      throw configError(
        `invalid require_auth method "${method}" (from ${setting.source}); expected ${AUTH_METHODS.join(', ')}, each optionally prefixed with "!"`,
      );
    }
    if (methods.includes(known)) {
      throw configError(
        `require_auth method "${part}" is specified more than once (from ${setting.source})`,
      );
    }
    methods.push(known);
  }
  return { methods, negated, source: setting.value };
}

/**
 * Turns an options-object value into the string libpq would have received: numbers in
 * decimal, booleans as "1"/"0".
 */
function optionString(value: unknown, source: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw configError(`${source} must be a finite number`);
    return String(value);
  }
  throw configError(`${source} must be a string, number or boolean, not ${typeof value}`);
}

/** The error for a key of an options object that is not a libpq keyword in camelCase. */
function unknownOption(key: string, what: string): ConnectionError {
  const camel = key.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());
  const hint = isConninfoKeyword(key) && OPTION_KEYS.has(camel) ? `; did you mean ${camel}?` : '';
  return configError(`unknown connection option ${what}.${key}${hint}`);
}

/** The user's home directory: $HOME, else the passwd entry (as libpq's pqGetHomeDirectory). */
function homeDirectory(env: Record<string, string | undefined>): string | undefined {
  if (process.platform === 'win32')
    return env.APPDATA ? join(env.APPDATA, 'postgresql') : undefined;
  if (env.HOME) return env.HOME;
  try {
    return userInfo().homedir || homedir();
  } catch {
    return undefined;
  }
}

/** ~/.pgpass, or %APPDATA%\postgresql\pgpass.conf on Windows. */
function defaultPassfile(
  home: string | undefined,
  env: Record<string, string | undefined>,
): string {
  if (process.platform === 'win32') {
    return join(env.APPDATA ?? homedir(), 'postgresql', 'pgpass.conf');
  }
  return join(home ?? homedir(), '.pgpass');
}

/** The operating system user name, libpq's default user. */
function osUser(): string {
  try {
    return userInfo().username;
  } catch (cause) {
    throw new ConnectionError(
      'CONNECTION_CONFIG',
      'could not determine the operating system user name; set user or PGUSER',
      { cause },
    );
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A CONNECTION_CONFIG error. */
function configError(message: string): ConnectionError {
  return new ConnectionError('CONNECTION_CONFIG', message);
}
