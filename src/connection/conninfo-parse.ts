/**
 * Connection strings, as text: the keyword table, `keyword=value` lists and `postgres://`
 * URIs parsed into keywords as libpq's PQconninfoParse does, and their redaction.
 *
 * The rules follow libpq 18 (PostgreSQL docs, libpq-connect.html "Connection Strings" and
 * "Parameter Key Words"), quirks included, so that a string means the same thing to pqnotify
 * as to psql. No error message built here ever contains the value of a secret keyword
 * (password, sslpassword, ...), nor the whole input string. Pure: no environment, no files
 * (resolution is conninfo-resolve.ts).
 */
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
export function isConninfoKeyword(name: string): name is ConninfoKeyword {
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

/** A CONNECTION_CONFIG error. */
export function configError(message: string): ConnectionError {
  return new ConnectionError('CONNECTION_CONFIG', message);
}
