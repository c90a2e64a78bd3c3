/**
 * The shapes of a resolved connection configuration and of the options object. The
 * resolution itself (precedence, defaults, checks) is resolveConfig in conninfo.ts.
 */

/** libpq's sslmode values, weakest first. */
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

/**
 * What require_auth can name (libpq 18): an authentication request of the server, or
 * `none` for a server that lets the client in without asking.
 */
export type RequireAuthMethod =
  | 'password'
  | 'md5'
  | 'gss'
  | 'sspi'
  | 'scram-sha-256'
  | 'oauth'
  | 'none';

/** A password, or a function called for it at each connection attempt. */
export type PasswordSource = string | (() => string | Promise<string>);

/**
 * The parsed require_auth setting (libpq 16+). `password,md5` allows only the listed
 * methods (and no authentication at all only if `none` is listed); `!password,!md5`
 * (negated) allows everything but the listed ones. A method the server uses is acceptable
 * when `methods.includes(method) !== negated`.
 */
export interface RequireAuth {
  /** The methods listed, without their "!" prefix; never a duplicate. */
  readonly methods: readonly RequireAuthMethod[];
  /** True when every method was written with "!". Mixing the two forms is an error. */
  readonly negated: boolean;
  /** The require_auth value as written, for error messages. */
  readonly source: string;
}

/** A frontend/backend protocol version. `latest` means 3.2. */
export interface ProtocolVersion {
  major: 3;
  minor: 0 | 2;
}

/** TLS protocol versions, as libpq's ssl_min/max_protocol_version and Node's tls take them. */
export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** One server to try, in the order the user listed them. */
export interface HostTarget {
  /**
   * The host as libpq's PQhost reports it: the host name or socket directory given for
   * this slot, else the hostaddr, else the default socket directory. This is the name to
   * look up in the password file, to send as SNI (unless it is an IP literal) and to check
   * the server certificate against.
   */
  host: string;
  /** The numeric address to connect to instead of resolving `host`, when given. */
  hostaddr: string | undefined;
  port: number;
  /**
   * For a Unix-domain socket (host starting with "/" or "@"): `${dir}/.s.PGSQL.${port}`,
   * ready for net.connect({ path }). An abstract socket "@name" becomes "\0name/…", the
   * form Node expects. Undefined for TCP.
   */
  socketPath: string | undefined;
  /**
   * True when the slot has a hostaddr and no host name: there is no name to check a
   * certificate against, so sslmode=verify-full fails this host when TLS starts (as libpq).
   */
  addressOnly?: boolean;
}

/** Everything needed to connect, resolved and checked by resolveConfig. */
export interface ConnectionConfig {
  /** Servers to try, as listed (to be shuffled per attempt when loadBalanceHosts is random). */
  hosts: HostTarget[];
  user: string;
  dbname: string;
  /**
   * From the connection string, the options or PGPASSWORD only. When undefined, the
   * connection code looks up `passfile` for each host with lookupPassword.
   */
  password: PasswordSource | undefined;
  /** PGPASSFILE / passfile, else ~/.pgpass (%APPDATA%\postgresql\pgpass.conf on Windows). */
  passfile: string;
  applicationName: string | undefined;
  fallbackApplicationName: string | undefined;
  /** Command-line options for the server (`-c name=value …`). */
  options: string | undefined;
  /** client_encoding to send at startup; `auto` is resolved to UTF8. */
  clientEncoding: string | undefined;
  /** Seconds per host and address; 0 waits forever. libpq raises 1 to 2. */
  connectTimeout: number;
  keepalives: boolean;
  /** Seconds; 0 or undefined: the operating system's default. */
  keepalivesIdle?: number;
  /** Seconds; 0 or undefined: the operating system's default. */
  keepalivesInterval?: number;
  /** Probes; 0 or undefined: the operating system's default. */
  keepalivesCount?: number;
  /** Milliseconds (TCP_USER_TIMEOUT); 0 or undefined: the operating system's default. */
  tcpUserTimeout?: number;
  /**
   * As given (default `prefer`; `verify-full` when sslrootcert=system and sslmode is not
   * set). Two libpq rules the connection code applies per host: `require` must be treated
   * as `verify-ca` when the root certificate file (sslrootcert) exists, as libpq does "for
   * backwards compatibility" (libpq-ssl.html); and no TLS is ever used over a Unix-domain
   * socket (socketPath set), whatever the mode: libpq considers those connections secure.
   */
  sslmode: SslMode;
  /** `direct` only with sslmode require, verify-ca or verify-full. */
  sslnegotiation: 'postgres' | 'direct';
  /**
   * A file path, or `system` (the system's trusted roots). Defaults to
   * ~/.postgresql/root.crt when that file exists, else undefined.
   */
  sslrootcert: string | undefined;
  /** Client certificate; default ~/.postgresql/postgresql.crt if it exists. */
  sslcert: string | undefined;
  /** Client key; default ~/.postgresql/postgresql.key if it exists. */
  sslkey: string | undefined;
  sslpassword: string | undefined;
  sslcrl: string | undefined;
  /** Send the host name as SNI (never for IP literals). */
  sslsni: boolean;
  /** `disable`: never send a client certificate; `allow`: send one if configured. */
  sslcertmode: 'disable' | 'allow';
  sslMinProtocolVersion: TlsVersion;
  sslMaxProtocolVersion: TlsVersion | undefined;
  channelBinding: 'disable' | 'prefer' | 'require';
  requireAuth: RequireAuth | undefined;
  targetSessionAttrs: 'any' | 'read-write' | 'read-only' | 'primary' | 'standby' | 'prefer-standby';
  loadBalanceHosts: 'disable' | 'random';
  minProtocolVersion: ProtocolVersion;
  /** Defaults to 3.0, or to 3.2 when min_protocol_version asks for more than 3.0. */
  maxProtocolVersion: ProtocolVersion;
  /** pqnotify has no GSSAPI: `prefer` behaves as `disable`. */
  gssencmode: 'disable' | 'prefer';
}

/** A numeric option: a number, or the decimal string libpq would take. */
type IntOption = number | string;
/** A boolean option: a boolean, or libpq's "0"/"1". */
type BoolOption = boolean | string;

/**
 * The options-object form of a connection: libpq's keywords in camelCase. Unlike a
 * connection string (and like libpq's PQconnectdbParams), an empty string or undefined
 * means "not given", so lower layers (the connection string, PG* variables) still apply.
 */
export interface ConnectOptions {
  /** Host names, IP addresses or Unix socket directories, comma-separated. */
  host?: string;
  /** Numeric IP addresses, comma-separated, used instead of resolving `host`. */
  hostaddr?: string;
  /** One port for every host, or one per host, comma-separated. */
  port?: IntOption;
  dbname?: string;
  user?: string;
  /** A password, or a function called for it at each connection attempt. */
  password?: PasswordSource;
  passfile?: string;
  /** Comma-separated methods, e.g. `scram-sha-256` or `!password,!md5`. */
  requireAuth?: string;
  channelBinding?: string;
  /** Seconds. */
  connectTimeout?: IntOption;
  clientEncoding?: string;
  options?: string;
  applicationName?: string;
  fallbackApplicationName?: string;
  keepalives?: BoolOption;
  keepalivesIdle?: IntOption;
  keepalivesInterval?: IntOption;
  keepalivesCount?: IntOption;
  tcpUserTimeout?: IntOption;
  sslmode?: string;
  sslnegotiation?: string;
  sslcompression?: BoolOption;
  sslcert?: string;
  sslkey?: string;
  sslkeylogfile?: string;
  sslcertmode?: string;
  sslpassword?: string;
  sslrootcert?: string;
  sslcrl?: string;
  sslcrldir?: string;
  sslsni?: BoolOption;
  requirepeer?: string;
  sslMinProtocolVersion?: string;
  sslMaxProtocolVersion?: string;
  minProtocolVersion?: string;
  maxProtocolVersion?: string;
  gssencmode?: string;
  krbsrvname?: string;
  gsslib?: string;
  gssdelegation?: BoolOption;
  replication?: string;
  service?: string;
  targetSessionAttrs?: string;
  loadBalanceHosts?: string;
  scramClientKey?: string;
  scramServerKey?: string;
  oauthIssuer?: string;
  oauthClientId?: string;
  oauthClientSecret?: string;
  oauthScope?: string;
}
