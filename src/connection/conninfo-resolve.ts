/**
 * Resolution of connection settings: a connection string or options object, overrides, the
 * PG* environment and libpq's defaults (default files, host lists, target addresses) merged
 * into a checked ConnectionConfig (types in config.ts).
 *
 * The rules follow libpq 18 (PostgreSQL docs, libpq-connect.html "Parameter Key Words",
 * libpq-envars.html), quirks included. No error message built here ever contains the value of
 * a secret keyword.
 *
 * Files: resolveConfig stats a few default files (~/.postgresql/root.crt, postgresql.crt,
 * postgresql.key, /var/run/postgresql); it never reads the password file (see pgpass.ts).
 * Environment variables, the home directory, the user name and files are read through
 * environment.ts, which decides what a missing runtime permission (Deno) means.
 */
import { isIP } from 'node:net';
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
import {
  CONNINFO_KEYWORDS,
  type ConninfoKeyword,
  configError,
  isConninfoKeyword,
  parseConninfo,
} from './conninfo-parse.js';
import { Environment } from './environment.js';
import type { ConnectionError } from './errors.js';

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

/**
 * Every environment variable a connect() on `platform` (`process.platform`) reads: the PG*
 * variables of libpq-envars.html, PGREQUIRESSL, and the home directory's variable (HOME, or
 * APPDATA on Windows; see Environment.home), so that one read, and one warning, covers them all.
 * A record with these names, given as connect()'s `env`, leaves nothing to read elsewhere.
 */
export function libpqVariables(platform: string): string[] {
  return [...Object.values(ENV_VARS), 'PGREQUIRESSL', platform === 'win32' ? 'APPDATA' : 'HOME'];
}

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
export function defaultSocketDir(environment: Environment = new Environment()): string {
  if (environment.system.platform === 'win32') return '';
  const debian = '/var/run/postgresql';
  return environment.stat(debian)?.kind === 'directory' ? debian : '/tmp';
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
 * `environment` gives the variables (process.env by default; a plain record is read as the
 * variables) and the files, home directory and user name; what a runtime refuses to give
 * (Deno without --allow-env, --allow-read or --allow-sys) is handled as environment.ts says:
 * unreadable variables count as unset and absent files as absent, with warnings.
 *
 * Throws ConnectionError CONNECTION_CONFIG for malformed or contradictory settings, for
 * libpq features pqnotify does not have (service files, physical replication, GSSAPI encryption,
 * requirepeer, sslcertmode=require, sslcrldir, sslkeylogfile, OAuth, SCRAM keys), and when
 * no user is given and the operating system user name cannot be read.
 * Synchronous; only stats a few default files (see the module comment).
 */
export function resolveConfig(
  conninfo?: string | ConnectOptions,
  overrides?: ConnectOptions,
  environment: Environment | Readonly<Record<string, string | undefined>> = new Environment(),
): ConnectionConfig {
  const surroundings =
    environment instanceof Environment ? environment : new Environment({ variables: environment });
  const settings = new Map<ConninfoKeyword, Setting>();
  let passwordFn: (() => string | Promise<string>) | undefined;

  const env = surroundings.variables(libpqVariables(surroundings.system.platform));
  for (const keyword of CONNINFO_KEYWORDS) {
    const name = ENV_VARS[keyword];
    const value = name === undefined ? undefined : env[name];
    if (name !== undefined && value !== undefined) {
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

  return interpret(settings, passwordFn, surroundings);
}

/** Turns the merged settings into a ConnectionConfig, checking every value. */
function interpret(
  settings: Map<ConninfoKeyword, Setting>,
  passwordFn: (() => string | Promise<string>) | undefined,
  environment: Environment,
): ConnectionConfig {
  const get = (keyword: ConninfoKeyword): Setting | undefined => settings.get(keyword);
  const text = (keyword: ConninfoKeyword): string | undefined => {
    const value = get(keyword)?.value;
    return value === undefined || value === '' ? undefined : value;
  };

  rejectUnsupported(settings);

  const home = environment.home();
  const isFile = (path: string): boolean => environment.stat(path)?.kind === 'file';
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

  const hosts = resolveHosts(get('host'), get('hostaddr'), get('port'), environment);

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

  const user = text('user') ?? environment.userName();
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
    passfile: text('passfile') ?? defaultPassfile(home, environment.system.platform),
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
    replication: get('replication')?.value.toLowerCase() === 'database' ? 'database' : undefined,
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
        // Logical replication (replication=database) is what durable notifications use;
        // physical replication is not supported.
        if (!['0', 'false', 'off', 'no', 'database'].includes(setting.value.toLowerCase())) {
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
  environment: Environment,
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
      const numeric = numericAddress(addr, environment);
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
    if (name === '') name = defaultSocketDir(environment) || 'localhost';
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
function numericAddress(text: string, environment: Environment): string | undefined {
  const zoneAt = text.indexOf('%');
  if (zoneAt !== -1) {
    const address = text.slice(0, zoneAt);
    const zone = text.slice(zoneAt + 1);
    if (isIP(address) !== 6 || zone === '') return undefined;
    if (/^\d+$/.test(zone)) return text;
    const linkLocal = /^fe[89ab][0-9a-f]:/i.test(address);
    return linkLocal && environment.networkInterfaceNames().includes(zone) ? text : undefined;
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

/**
 * The password file in the home directory (see Environment.home): ~/.pgpass, or
 * %APPDATA%\postgresql\pgpass.conf on Windows; none when the home directory is unknown.
 */
function defaultPassfile(home: string | undefined, platform: string): string | undefined {
  if (home === undefined) return undefined;
  return join(home, platform === 'win32' ? 'pgpass.conf' : '.pgpass');
}
