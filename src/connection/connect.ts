import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Decoder, Writer, writeCancelRequest, writeSSLRequest } from '../protocol/index.js';
import { defaultDialer } from '../socket/default-dialer.js';
import { keepAliveTuning } from '../socket/socket.js';
import type {
  DialError,
  Dialer,
  DialOptions,
  DialTarget,
  Encryption,
  TlsSettings,
  Transport,
} from '../socket/transport.js';
import { Authenticator } from './authenticate.js';
import type { ConnectionConfig, ConnectOptions, HostTarget } from './config.js';
import { Connection } from './connection.js';
import { resolveConfig } from './conninfo.js';
import { Environment, type System } from './environment.js';
import { ConnectionError, ServerError } from './errors.js';
import { checkStartupAnswer, notPostgresql } from './first-answer.js';
import { lookupPassword } from './pgpass.js';
import { tlsSettings } from './tls.js';
import type { BackendKey, CancelSender } from './types.js';

/** Options of connect() that are not part of a conninfo string. */
export interface RuntimeOptions {
  /**
   * Opens the transport to a server (by default Node's sockets, dialSocket, or under the
   * package's `workerd` entry the Workers dialer); replace it to test over an in-memory
   * transport, or to go through a proxy (transportFromDuplex wraps a Duplex stream).
   */
  dialer?: Dialer;
  /**
   * Called with each warning about the environment: a .pgpass with loose permissions, a
   * setting the runtime would not let pqnotify read (Deno without --allow-env or
   * --allow-read, see the README's Deno notes), a TCP setting not applied. Default:
   * `process.emitWarning`.
   */
  onWarning?: (message: string) => void;
  /**
   * The environment variables PG* settings are read from, instead of `process.env`; `{}`
   * reads none (on Deno, no --allow-env is needed then).
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * How the home directory, the user name and files (.pgpass, TLS files) are read; Node's
   * node:os and node:fs by default. Replace it to test, or where there is no file system.
   */
  system?: System;
}

type SessionAttrs = ConnectionConfig['targetSessionAttrs'];

/**
 * libpq's PQconnectdb, asynchronously: resolves the conninfo (a URL or keyword/value
 * string, or an options object) with PG* environment variables and libpq's defaults, then
 * tries each host (and each address of a host name) in order until one suits
 * target_session_attrs. Rejects with ConnectionError (see ConnectionErrorCode): at once with
 * CONNECTION_CONFIG for bad settings and CONNECTION_AUTH for failed authentication; else, when
 * no host suits, with the last host's error, whose message lists why each one failed, `cause`
 * that last error and `address` its server. Never puts a password in a message.
 */
export async function connect(
  conninfo?: string | ConnectOptions,
  options: ConnectOptions & RuntimeOptions = {},
): Promise<Connection> {
  const { dialer = defaultDialer(), onWarning, env, system, ...overrides } = options;
  const environment = new Environment({
    ...(env === undefined ? {} : { variables: env }),
    ...(system === undefined ? {} : { system }),
    ...(onWarning === undefined ? {} : { warn: onWarning }),
  });
  const config = resolveConfig(conninfo, overrides, environment);
  warnUnapplied(config, onWarning);
  const hosts = config.loadBalanceHosts === 'random' ? shuffled(config.hosts) : config.hosts;
  const passes: SessionAttrs[] =
    config.targetSessionAttrs === 'prefer-standby'
      ? ['standby', 'any']
      : [config.targetSessionAttrs];
  const failures: ConnectionError[] = [];
  for (const wanted of passes) {
    for (const host of hosts) {
      let targets: DialTarget[];
      try {
        targets = await dialTargets(host, dialer);
      } catch (error) {
        failures.push(asConnectionError(error, `${host.host}:${host.port}`));
        continue;
      }
      for (const target of targets) {
        try {
          return await attempt(config, host, target, wanted, dialer, environment);
        } catch (error) {
          const failure = asConnectionError(error, target.label);
          if (failure.code === 'CONNECTION_AUTH' || failure.code === 'CONNECTION_CONFIG')
            throw failure;
          failures.push(failure);
        }
      }
    }
  }
  throw combine(failures);
}

/**
 * Tells onWarning about TCP settings the runtime cannot apply, rather than accepting them in
 * silence: TCP_USER_TIMEOUT has no Node API, and keepalive interval and count need
 * setKeepAlive's newer form (see keepAliveTuning).
 */
function warnUnapplied(
  config: ConnectionConfig,
  onWarning: ((message: string) => void) | undefined,
): void {
  if (!onWarning) return;
  if ((config.tcpUserTimeout ?? 0) > 0)
    onWarning('tcp_user_timeout is not applied: Node offers no way to set TCP_USER_TIMEOUT');
  if (config.keepalives && !keepAliveTuning) {
    if ((config.keepalivesInterval ?? 0) > 0)
      onWarning('keepalives_interval is not applied: this Node always probes every 1 s');
    if ((config.keepalivesCount ?? 0) > 0)
      onWarning('keepalives_count is not applied: this Node always sends 10 probes');
  }
}

function combine(failures: ConnectionError[]): ConnectionError {
  const last = failures[failures.length - 1];
  if (!last) return new ConnectionError('CONNECTION_CONFIG', 'no host to connect to');
  if (failures.length === 1) return last;
  return new ConnectionError(last.code, failures.map((failure) => failure.message).join('\n'), {
    cause: last,
    ...(last.sqlState === undefined ? {} : { sqlState: last.sqlState }),
    ...(last.address === undefined ? {} : { address: last.address }),
  });
}

/** Any failure of one attempt as a ConnectionError; `address` names the target tried. */
function asConnectionError(error: unknown, address: string): ConnectionError {
  if (error instanceof ConnectionError) {
    if (error.address !== undefined) return error;
    // Raised where the target is not known (authentication, TLS options): the same error,
    // with the address.
    return new ConnectionError(error.code, error.message, {
      ...(error.cause === undefined ? {} : { cause: error.cause }),
      ...(error.sqlState === undefined ? {} : { sqlState: error.sqlState }),
      address,
    });
  }
  if (error instanceof Error && error.name === 'DialError') {
    const dial = error as DialError;
    return new ConnectionError(
      dial.reason === 'timeout'
        ? 'CONNECTION_TIMEOUT'
        : dial.reason === 'unsupported'
          ? 'CONNECTION_CONFIG'
          : 'CONNECTION_REFUSED',
      dial.message,
      { cause: error, address },
    );
  }
  const text = error instanceof Error ? error.message : String(error);
  return new ConnectionError('CONNECTION_REFUSED', `${address}: ${text}`, {
    cause: error,
    address,
  });
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/**
 * Every address to try for one host: its socket, its hostaddr, or each DNS address (the name
 * itself for a dialer that resolves names: see Dialer.resolvesHostNames).
 */
async function dialTargets(host: HostTarget, dialer: Dialer): Promise<DialTarget[]> {
  if (host.socketPath !== undefined)
    return [{ kind: 'unix', path: host.socketPath, label: `socket "${host.socketPath}"` }];
  const label = (address: string) =>
    address === host.host ? `${host.host}:${host.port}` : `${host.host} (${address}):${host.port}`;
  if (host.hostaddr !== undefined) {
    return [{ kind: 'tcp', host: host.hostaddr, port: host.port, label: label(host.hostaddr) }];
  }
  if (isIP(host.host) !== 0 || dialer.resolvesHostNames)
    return [{ kind: 'tcp', host: host.host, port: host.port, label: label(host.host) }];
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host.host, { all: true });
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code;
    throw new ConnectionError(
      'CONNECTION_DNS',
      `could not translate host name "${host.host}" to address${reason === undefined ? '' : ` (${reason})`}`,
      { cause: error, address: `${host.host}:${host.port}` },
    );
  }
  return addresses.map(({ address }) => ({
    kind: 'tcp',
    host: address,
    port: host.port,
    label: label(address),
  }));
}

/** libpq's order of encryption tries for an sslmode: the first that works is used. */
function encryptionPlan(config: ConnectionConfig, target: DialTarget): Encryption[] {
  // libpq never encrypts Unix-domain socket connections, whatever the sslmode.
  if (target.kind === 'unix') return ['none'];
  const tls: Encryption = config.sslnegotiation === 'direct' ? 'direct' : 'starttls';
  switch (config.sslmode) {
    case 'disable':
      return ['none'];
    case 'allow':
      return ['none', tls];
    case 'prefer':
      return [tls, 'none'];
    default:
      return [tls];
  }
}

async function attempt(
  config: ConnectionConfig,
  host: HostTarget,
  target: DialTarget,
  wanted: SessionAttrs,
  dialer: Dialer,
  environment: Environment,
): Promise<Connection> {
  const plan = encryptionPlan(config, target);
  let lastError: ConnectionError | undefined;
  for (const [index, encryption] of plan.entries()) {
    const isLast = index === plan.length - 1;
    try {
      return await startSession(config, host, target, wanted, encryption, dialer, environment);
    } catch (error) {
      const failure = asConnectionError(error, target.label);
      lastError = failure;
      const retryable =
        failure.code === 'CONNECTION_TLS' ||
        failure.code === 'CONNECTION_REJECTED' ||
        (failure.code === 'CONNECTION_LOST' && encryption !== 'none');
      if (isLast || !retryable) throw failure;
    }
  }
  throw lastError ?? new ConnectionError('CONNECTION_CONFIG', 'no encryption mode to try');
}

async function startSession(
  config: ConnectionConfig,
  host: HostTarget,
  target: DialTarget,
  wanted: SessionAttrs,
  encryption: Encryption,
  dialer: Dialer,
  environment: Environment,
): Promise<Connection> {
  const timeoutMs = connectTimeoutMs(config, 0);
  const abort = new AbortController();
  const timer = timeoutMs > 0 ? setTimeout(() => abort.abort(), timeoutMs) : undefined;
  let transport: Transport | undefined;
  try {
    const work = (async () => {
      const route: Route = {
        dialer,
        target,
        options: {
          timeoutMs,
          keepAlive: config.keepalives,
          keepAliveInitialDelayMs: (config.keepalivesIdle ?? 0) * 1000,
          keepAliveIntervalMs: (config.keepalivesInterval ?? 0) * 1000,
          keepAliveCount: config.keepalivesCount ?? 0,
          encryption,
        },
      };
      let settings: TlsSettings | undefined;
      transport = await open(route, abort.signal, () => {
        settings = hostTlsSettings(config, host, target, environment);
        return settings;
      });
      const tls = encryption !== 'none';
      const peerCertificate = transport.peerCertificate();
      const connection = new Connection({
        transport,
        decoder: new Decoder(),
        tls,
        address: target.label,
        sendCancel: cancelSender(route, settings, connectTimeoutMs(config, 10_000)),
      });
      const authenticator = new Authenticator(config, {
        tls,
        peerCertificate,
        password: () => passwordFor(config, host, environment),
      });
      await connection.startup(
        startupParameters(config),
        config.maxProtocolVersion,
        config.minProtocolVersion,
        authenticator,
      );
      await checkSessionAttrs(connection, wanted);
      return connection;
    })();
    const timedOut = new Promise<never>((_, reject) => {
      abort.signal.addEventListener(
        'abort',
        () => {
          transport?.destroy();
          reject(
            new ConnectionError(
              'CONNECTION_TIMEOUT',
              `timeout expired connecting to ${target.label}`,
              { address: target.label },
            ),
          );
        },
        { once: true },
      );
    });
    return await Promise.race([work, timedOut]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Where and how one server is dialed: by a connection attempt, then by each cancel request of
 * the connection it made (so this holds nothing else).
 */
interface Route {
  dialer: Dialer;
  target: DialTarget;
  /** Everything but the signal, which is each dial's own; the encryption always set. */
  options: Omit<DialOptions, 'signal'> & { encryption: Encryption };
}

/**
 * The TLS settings for `host`, read when the server has agreed to TLS (before dialing, for
 * direct TLS); throws ConnectionError (CONNECTION_TLS) when verify-full has no host name to
 * check (only a hostaddr), or as tlsSettings() does.
 */
function hostTlsSettings(
  config: ConnectionConfig,
  host: HostTarget,
  target: DialTarget,
  environment: Environment,
): TlsSettings {
  if (config.sslmode === 'verify-full' && host.addressOnly) {
    throw new ConnectionError(
      'CONNECTION_TLS',
      `${target.label}: host name must be specified for a verified SSL connection (sslmode=verify-full), but only hostaddr ${host.hostaddr} is given`,
      { address: target.label },
    );
  }
  return tlsSettings(config, host.host, environment);
}

/**
 * Dials `route` and sets up its encryption; resolves with the transport the protocol runs over.
 * `settings` is called once the server has agreed to TLS (never for `'none'`); what it throws
 * fails the dial.
 */
async function open(
  route: Route,
  signal: AbortSignal,
  settings: () => TlsSettings,
): Promise<Transport> {
  const { target, options } = route;
  const encryption = options.encryption;
  // Direct TLS may start as the dialer connects (DialOptions.tls): its settings come first.
  const direct = encryption === 'direct' ? settings() : undefined;
  const transport = await route.dialer(target, { ...options, signal, tls: direct });
  if (encryption === 'none') return transport;
  const address = target.label;
  // The deadline covers the SSL answer and the handshake too: a peer that never answers
  // leaves no socket behind.
  const onAbort = () => transport.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (encryption === 'starttls') {
      const writer = new Writer();
      writeSSLRequest(writer);
      transport.write(writer.toBytes());
      const answer = await transport.read(1);
      if (answer.length === 0) {
        throw new ConnectionError(
          'CONNECTION_TLS',
          `${address}: the server closed the connection in answer to SSL negotiation`,
          { address },
        );
      }
      if (answer[0] === 0x4e) {
        throw new ConnectionError(
          'CONNECTION_TLS',
          `${address}: the server does not support SSL, but SSL was required`,
          { address },
        );
      }
      if (answer[0] !== 0x53) {
        let bytes = new Uint8Array([...answer, ...(await transport.read(transport.unread))]);
        if (bytes[0] === 0x45 && bytes.length < 5) {
          // An ErrorResponse's header may come in a later segment; the server closes after it.
          bytes = new Uint8Array([...bytes, ...(await transport.read(5 - bytes.length))]);
        }
        if (checkStartupAnswer(bytes) !== 'ok' || bytes[0] !== 0x45) {
          throw notPostgresql(address, "expected 'S' or 'N' in answer to SSL negotiation", bytes);
        }
        throw errorDuringSsl(address, bytes);
      }
      if (transport.unread > 0) {
        throw new ConnectionError(
          'CONNECTION_TLS',
          `${address}: received unencrypted data after SSL response`,
          { address },
        );
      }
    }
    return await transport.upgrade(direct ?? settings());
  } catch (error) {
    transport.destroy();
    if (signal.aborted)
      throw new ConnectionError(
        'CONNECTION_TIMEOUT',
        `timeout expired connecting to ${target.label}`,
      );
    // A ConnectionError, or a DialError (the transport refused a setting: see asConnectionError).
    if (error instanceof ConnectionError || (error as Error).name === 'DialError') throw error;
    throw new ConnectionError(
      'CONNECTION_TLS',
      `${address}: SSL error: ${(error as Error).message}`,
      {
        cause: error,
        address,
      },
    );
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * A PostgreSQL server may answer SSLRequest with an ErrorResponse (it cannot start a backend,
 * say), as libpq's "server sent an error response during SSL exchange": CONNECTION_REJECTED,
 * with the server's error when the whole message arrived.
 */
function errorDuringSsl(address: string, bytes: Uint8Array): ConnectionError {
  const decoder = new Decoder();
  decoder.push(bytes);
  let message: ReturnType<Decoder['next']> = null;
  try {
    message = decoder.next();
  } catch {
    // A plausible header with a malformed body: reported without the server's words.
  }
  if (message?.type !== 'ErrorResponse') {
    return new ConnectionError(
      'CONNECTION_REJECTED',
      `${address}: the server sent an error response during SSL exchange`,
      { address },
    );
  }
  const error = new ServerError(message.fields);
  return new ConnectionError(
    'CONNECTION_REJECTED',
    `${address}: the server sent an error response during SSL exchange: ${error.message}`,
    { cause: error, sqlState: error.sqlState, address },
  );
}

function startupParameters(config: ConnectionConfig): Record<string, string> {
  const parameters: Record<string, string> = {
    user: config.user,
    database: config.dbname,
    client_encoding: config.clientEncoding ?? 'UTF8',
  };
  const applicationName = config.applicationName ?? config.fallbackApplicationName;
  if (applicationName !== undefined) parameters.application_name = applicationName;
  if (config.options !== undefined) parameters.options = config.options;
  if (config.replication !== undefined) parameters.replication = config.replication;
  return parameters;
}

async function passwordFor(
  config: ConnectionConfig,
  host: HostTarget,
  environment: Environment,
): Promise<string | undefined> {
  const given = config.password;
  if (typeof given === 'function') return given();
  if (given !== undefined) return given;
  if (config.passfile === undefined) {
    environment.warnHomeUnknown('~/.pgpass');
    return undefined;
  }
  return lookupPassword(
    config.passfile,
    { host: host.host, port: host.port, dbname: config.dbname, user: config.user },
    environment,
  );
}

/**
 * Checks target_session_attrs as libpq does: from the in_hot_standby and
 * default_transaction_read_only reports (PostgreSQL 14+), or by asking older servers.
 */
async function checkSessionAttrs(connection: Connection, wanted: SessionAttrs): Promise<void> {
  if (wanted === 'any' || wanted === 'prefer-standby') return;
  const value = async (sql: string) => (await connection.exec(sql)).rows[0]?.[0] ?? null;
  const hot = connection.parameterStatus('in_hot_standby');
  const standby =
    hot !== undefined
      ? hot === 'on'
      : (await value('SELECT pg_catalog.pg_is_in_recovery()')) === 't';
  let suits: boolean;
  if (wanted === 'primary' || wanted === 'standby') {
    suits = (wanted === 'standby') === standby;
  } else {
    const defaultReadOnly = connection.parameterStatus('default_transaction_read_only');
    const readOnly =
      hot !== undefined && defaultReadOnly !== undefined
        ? standby || defaultReadOnly === 'on'
        : (await value('SHOW transaction_read_only')) === 'on';
    suits = (wanted === 'read-only') === readOnly;
  }
  if (suits) return;
  await connection.close();
  const state =
    wanted === 'primary' || wanted === 'standby'
      ? standby
        ? 'a standby'
        : 'a primary'
      : 'not suitable';
  throw new ConnectionError(
    'CONNECTION_REJECTED',
    `${connection.address}: server is ${state} for target_session_attrs=${wanted}`,
    { address: connection.address },
  );
}

/**
 * connect_timeout in milliseconds (at least 2 s, as libpq), or `otherwise` when it is not set:
 * 0 (no limit) for a connection attempt, 10 s for a cancel request.
 */
function connectTimeoutMs(config: ConnectionConfig, otherwise: number): number {
  return config.connectTimeout > 0 ? Math.max(config.connectTimeout, 2) * 1000 : otherwise;
}

/**
 * The connection's CancelSender, made out here so that it holds only what a cancel request
 * needs (the route and the TLS settings the connection was made with), not the connection
 * attempt, its configuration or its environment, for as long as the connection lives.
 */
function cancelSender(
  route: Route,
  settings: TlsSettings | undefined,
  timeoutMs: number,
): CancelSender {
  return (key) => sendCancel(route, settings, timeoutMs, key);
}

/**
 * Sends a CancelRequest on a new connection to the same address, encrypted like the original,
 * with the TLS settings it was made with (files are not read again).
 */
async function sendCancel(
  route: Route,
  settings: TlsSettings | undefined,
  timeoutMs: number,
  key: BackendKey,
): Promise<void> {
  const transport = await open(
    { ...route, options: { ...route.options, timeoutMs } },
    AbortSignal.timeout(timeoutMs),
    () => {
      // Only a connection made without TLS has none, and its route never asks.
      if (settings === undefined)
        throw new ConnectionError('CONNECTION_TLS', `${route.target.label}: no TLS settings`);
      return settings;
    },
  );
  const writer = new Writer();
  writeCancelRequest(writer, key.processId, key.secretKey);
  // As libpq, waits for the server to close the connection: the request was then taken.
  await new Promise<void>((resolve) => {
    transport.start(
      () => undefined,
      () => resolve(),
    );
    transport.write(writer.toBytes());
  });
  transport.destroy();
}
