/**
 * The shapes of a resolved connection configuration and of the options object. The
 * resolution itself (precedence, defaults, checks) is resolveConfig in conninfo.ts.
 */
import type { TlsVersion } from '../socket/transport.js';

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
  /** Always 3. */
  major: 3;
  /** 0 or 2 (3.1 was never released). */
  minor: 0 | 2;
}

export type { TlsVersion };

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
  /** The TCP port, or the number in the Unix socket's file name. */
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
  /** The role to connect as. */
  user: string;
  /** The database to connect to. */
  dbname: string;
  /**
   * From the connection string, the options or PGPASSWORD only. When undefined, the
   * connection code looks up `passfile` for each host with lookupPassword.
   */
  password: PasswordSource | undefined;
  /**
   * PGPASSFILE / passfile, else ~/.pgpass (%APPDATA%\postgresql\pgpass.conf on Windows);
   * undefined when the home directory is unknown (none is looked up then, as in libpq).
   */
  passfile: string | undefined;
  /** application_name to send at startup, when given. */
  applicationName: string | undefined;
  /** application_name to send when `applicationName` is not given. */
  fallbackApplicationName: string | undefined;
  /** Command-line options for the server (`-c name=value …`). */
  options: string | undefined;
  /** client_encoding to send at startup; `auto` is resolved to UTF8. */
  clientEncoding: string | undefined;
  /** Seconds per host and address; 0 waits forever. libpq raises 1 to 2. */
  connectTimeout: number;
  /** TCP keepalives on. */
  keepalives: boolean;
  /** Seconds; 0 or undefined: the operating system's default. */
  keepalivesIdle?: number;
  /**
   * Seconds; 0 or undefined: the runtime's default. Applied only on a Node whose
   * setKeepAlive takes an interval (Node 26); older ones probe every 1 s, whatever is set,
   * and connect() says so through onWarning.
   */
  keepalivesInterval?: number;
  /**
   * Probes; 0 or undefined: the runtime's default. Applied only on a Node whose setKeepAlive
   * takes a count (Node 26); older ones send 10, and connect() says so through onWarning.
   */
  keepalivesCount?: number;
  /**
   * Milliseconds (TCP_USER_TIMEOUT). Never applied: Node has no API for it; connect() says so
   * through onWarning. A Listener's heartbeat bounds how long a dead peer goes unnoticed.
   */
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
  /** The passphrase of an encrypted client key. */
  sslpassword: string | undefined;
  /** A certificate revocation list file. */
  sslcrl: string | undefined;
  /** Send the host name as SNI (never for IP literals). */
  sslsni: boolean;
  /** `disable`: never send a client certificate; `allow`: send one if configured. */
  sslcertmode: 'disable' | 'allow';
  /** The oldest TLS version accepted. */
  sslMinProtocolVersion: TlsVersion;
  /** The newest TLS version used; undefined: no limit. */
  sslMaxProtocolVersion: TlsVersion | undefined;
  /** SCRAM channel binding: never, when the server offers it, or always. */
  channelBinding: 'disable' | 'prefer' | 'require';
  /** The authentication methods allowed; undefined: any. */
  requireAuth: RequireAuth | undefined;
  /** Which kind of server a connection must reach. */
  targetSessionAttrs: TargetSessionAttrs;
  /** `random`: hosts and their addresses are tried in random order. */
  loadBalanceHosts: 'disable' | 'random';
  /** The oldest protocol version accepted. */
  minProtocolVersion: ProtocolVersion;
  /** Defaults to 3.0, or to 3.2 when min_protocol_version asks for more than 3.0. */
  maxProtocolVersion: ProtocolVersion;
  /** pqnotify has no GSSAPI: `prefer` behaves as `disable`. */
  gssencmode: 'disable' | 'prefer';
  /**
   * `database`: a logical replication connection (a walsender that also runs SQL), which
   * durable notifications use; undefined for an ordinary connection.
   */
  replication: 'database' | undefined;
}

/** A numeric option: a number, or the decimal string libpq would take. */
export type IntOption = number | `${number}`;
/** A boolean option: a boolean, or libpq's "1" (on) and "0" (off). */
export type BoolOption = boolean | '0' | '1';

/** libpq's target_session_attrs values: which kind of server a connection must reach. */
export type TargetSessionAttrs =
  | 'any'
  | 'read-write'
  | 'read-only'
  | 'primary'
  | 'standby'
  | 'prefer-standby';

/** A frontend/backend protocol version as min/max_protocol_version take it (3.2 is `latest`). */
export type ProtocolVersionSetting = '3.0' | '3.2' | 'latest';

/**
 * The options-object form of a connection: libpq's keywords in camelCase. Unlike a
 * connection string (and like libpq's PQconnectdbParams), an empty string or undefined
 * means "not given", so lower layers (the connection string, PG* variables) still apply.
 * Each key names its libpq keyword and its default; "refused" means resolving the
 * configuration throws a ConnectionError with code CONNECTION_CONFIG.
 */
export interface ConnectOptions {
  /**
   * Host names, IP addresses or Unix socket directories (a leading "/" or "@"),
   * comma-separated; each is tried in turn. libpq `host`; default: the Unix socket directory
   * /var/run/postgresql when it exists, else /tmp.
   */
  host?: string;
  /**
   * Numeric IP addresses, comma-separated, one per host, used instead of resolving `host`
   * (which still names the server for TLS and the password file). libpq `hostaddr`; no default.
   */
  hostaddr?: string;
  /** One port for every host, or one per host, comma-separated. libpq `port`; default 5432. */
  port?: IntOption | string;
  /** The database to connect to. libpq `dbname`; default: the user name. */
  dbname?: string;
  /** The role to connect as. libpq `user`; default: the operating system user's name. */
  user?: string;
  /**
   * A password, or a function called for it at each connection attempt. libpq `password`;
   * default: none, then the password file (`passfile`) is looked up for each host.
   */
  password?: PasswordSource;
  /** The password file to look up. libpq `passfile`; default ~/.pgpass. */
  passfile?: string;
  /**
   * The authentication methods the server may use, comma-separated (`scram-sha-256`,
   * `password,md5`, or all but some: `!password,!md5`; `none` allows no authentication).
   * libpq `require_auth`; default: any method.
   */
  requireAuth?: string;
  /**
   * SCRAM channel binding: `require` fails unless SCRAM-SHA-256-PLUS over TLS is used,
   * `prefer` uses it when possible, `disable` never. libpq `channel_binding`; default `prefer`.
   */
  channelBinding?: 'disable' | 'prefer' | 'require';
  /**
   * Seconds to wait for each host and address to connect and start up; 0 waits forever, and
   * 1 counts as 2 (as in libpq). libpq `connect_timeout`; default 0.
   */
  connectTimeout?: IntOption;
  /** The client_encoding to send at startup; `auto` means UTF8. libpq `client_encoding`; default: the server's. */
  clientEncoding?: string;
  /** Command-line options for the server, such as `-c search_path=app`. libpq `options`; default none. */
  options?: string;
  /** The application_name the server shows for this session. libpq `application_name`; default none. */
  applicationName?: string;
  /**
   * The application_name to use when `applicationName` is not given anywhere.
   * libpq `fallback_application_name`; default none.
   */
  fallbackApplicationName?: string;
  /** TCP keepalives on (1) or off (0). libpq `keepalives`; default on. */
  keepalives?: BoolOption;
  /** Seconds of silence before the first keepalive probe. libpq `keepalives_idle`; default: the system's. */
  keepalivesIdle?: IntOption;
  /** Seconds between keepalive probes. libpq `keepalives_interval`; default: the system's. */
  keepalivesInterval?: IntOption;
  /** Unanswered probes before the connection counts as dead. libpq `keepalives_count`; default: the system's. */
  keepalivesCount?: IntOption;
  /**
   * Milliseconds unacknowledged data may wait before the connection is dropped
   * (TCP_USER_TIMEOUT). libpq `tcp_user_timeout`; default: the system's.
   */
  tcpUserTimeout?: IntOption;
  /**
   * Whether and how TLS is used: `disable`, `allow`, `prefer`, `require`, `verify-ca`
   * (checks the certificate chain), `verify-full` (and the host name). Unix sockets never
   * use TLS. libpq `sslmode`; default `prefer` (`verify-full` with sslrootcert=system).
   */
  sslmode?: SslMode;
  /**
   * `postgres` asks the server for TLS first (SSLRequest); `direct` starts TLS at once
   * (PostgreSQL 17+, needs sslmode require or stronger). libpq `sslnegotiation`; default `postgres`.
   */
  sslnegotiation?: 'postgres' | 'direct';
  /** Accepted and ignored: TLS compression is gone from libpq. libpq `sslcompression`; default off. */
  sslcompression?: BoolOption;
  /** The client certificate file. libpq `sslcert`; default ~/.postgresql/postgresql.crt if it exists. */
  sslcert?: string;
  /** The client key file. libpq `sslkey`; default ~/.postgresql/postgresql.key if it exists. */
  sslkey?: string;
  /** Not supported: refused. libpq `sslkeylogfile` (a file for TLS key logging). */
  sslkeylogfile?: string;
  /**
   * `allow` sends the client certificate when one is configured, `disable` never; libpq's
   * `require` is refused (Node cannot tell whether the server asked). libpq `sslcertmode`;
   * default `allow`.
   */
  sslcertmode?: 'disable' | 'allow';
  /** The passphrase of an encrypted `sslkey`. libpq `sslpassword`; default none. */
  sslpassword?: string;
  /**
   * The certificate authorities to trust: a file, or `system` for the system's roots.
   * libpq `sslrootcert`; default ~/.postgresql/root.crt if it exists.
   */
  sslrootcert?: string;
  /** A certificate revocation list file. libpq `sslcrl`; default none. */
  sslcrl?: string;
  /** Not supported: refused (use `sslcrl`). libpq `sslcrldir`. */
  sslcrldir?: string;
  /** Send the host name as TLS SNI (never for an IP address). libpq `sslsni`; default on. */
  sslsni?: BoolOption;
  /** Not supported: refused. libpq `requirepeer` (the OS user of a Unix-socket server). */
  requirepeer?: string;
  /** The oldest TLS version to accept. libpq `ssl_min_protocol_version`; default `TLSv1.2`. */
  sslMinProtocolVersion?: TlsVersion;
  /** The newest TLS version to use. libpq `ssl_max_protocol_version`; default: no limit. */
  sslMaxProtocolVersion?: TlsVersion;
  /** The oldest wire protocol version to accept. libpq `min_protocol_version`; default `3.0`. */
  minProtocolVersion?: ProtocolVersionSetting;
  /**
   * The wire protocol version to ask for. libpq `max_protocol_version`; default `3.0`, or
   * `latest` (3.2) when minProtocolVersion asks for more than 3.0.
   */
  maxProtocolVersion?: ProtocolVersionSetting;
  /**
   * GSSAPI encryption; pqnotify has no GSSAPI, so `prefer` behaves as `disable`, and libpq's
   * `require` is refused. libpq `gssencmode`; default `disable`.
   */
  gssencmode?: 'disable' | 'prefer';
  /** Accepted and unused (no GSSAPI). libpq `krbsrvname`; default `postgres`. */
  krbsrvname?: string;
  /** Accepted and unused (no GSSAPI). libpq `gsslib`; default: the platform's. */
  gsslib?: 'gssapi' | 'sspi';
  /** Accepted and unused (no GSSAPI). libpq `gssdelegation`; default off. */
  gssdelegation?: BoolOption;
  /**
   * `database` opens a logical replication connection (what durable notifications use: see
   * openDurableStream); physical replication is not supported, so the other accepted values
   * turn replication off. libpq `replication`; default off.
   */
  replication?: '0' | 'false' | 'off' | 'no' | 'database';
  /** Not supported: refused (give the settings directly). libpq `service` (pg_service.conf). */
  service?: string;
  /**
   * Which server of several to keep: `read-write` and `primary` want one that accepts
   * writes, `read-only` and `standby` one that does not, `prefer-standby` a standby if any.
   * libpq `target_session_attrs`; default `any`.
   */
  targetSessionAttrs?: TargetSessionAttrs;
  /** `random` tries the hosts (and their addresses) in random order. libpq `load_balance_hosts`; default `disable`. */
  loadBalanceHosts?: 'disable' | 'random';
  /** Not supported: refused. libpq `scram_client_key`. */
  scramClientKey?: string;
  /** Not supported: refused. libpq `scram_server_key`. */
  scramServerKey?: string;
  /** Not supported: refused (no OAuth). libpq `oauth_issuer`. */
  oauthIssuer?: string;
  /** Not supported: refused (no OAuth). libpq `oauth_client_id`. */
  oauthClientId?: string;
  /** Not supported: refused (no OAuth). libpq `oauth_client_secret`. */
  oauthClientSecret?: string;
  /** Not supported: refused (no OAuth). libpq `oauth_scope`. */
  oauthScope?: string;
}
