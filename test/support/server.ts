import { setTimeout as delay } from 'node:timers/promises';
import { expect, inject } from 'vitest';
import { type Connection, ConnectionError, connect, type Notification } from '../../src/index.js';
import type { TestServerInfo } from './global-setup.js';

/** The server of this test run (see global-setup.ts). */
export const server: TestServerInfo = inject('pg');

/** Connects as the superuser to the test server, TLS as sslmode=prefer negotiates it. */
export function connectTest(extra: Parameters<typeof connect>[1] = {}): Promise<Connection> {
  return connect(server.url, extra);
}

/**
 * The two ways the Node transport reads its socket, for suites that run under both: through
 * TLS when the server offers it (the TLS socket's `data` chunks; sslmode=prefer), and plain TCP
 * (read into the process's one shared buffer; sslmode=disable).
 */
export const transports = [
  { name: 'sslmode=prefer', plain: false, options: {}, url: server.url },
  {
    name: 'sslmode=disable',
    plain: true,
    options: { sslmode: 'disable' },
    url: withParameter(server.url, 'sslmode', 'disable'),
  },
] as const;

function withParameter(url: string, name: string, value: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set(name, value);
  return parsed.toString();
}

/**
 * The superuser over plain TCP (sslmode=disable) with no password, for tests that give the
 * password, or withhold it, some other way.
 */
export const superuserNoPassword = {
  host: server.host,
  port: server.port,
  dbname: server.database,
  user: server.user,
  sslmode: 'disable',
} as const;

/** The managed cluster's details, or a reason to skip when the run uses an outside server. */
export const managed = server.managed ? server : undefined;

/**
 * Connects and expects that to fail: resolves with the ConnectionError (a connection that
 * unexpectedly succeeds is closed and reported as a failed expectation).
 */
export async function connectFailure(
  ...args: Parameters<typeof connect>
): Promise<ConnectionError> {
  let conn: Connection;
  try {
    conn = await connect(...args);
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectionError);
    return error as ConnectionError;
  }
  await conn.close();
  throw new Error(`expected the connection to fail, but it reached ${conn.address}`);
}

/**
 * Polls pg_stat_activity (through `observer`) until the backend `pid` is inside pg_sleep,
 * so a test can act on a command that is really running.
 */
export async function waitUntilSleeping(observer: Connection, pid: number): Promise<void> {
  for (;;) {
    const result = await observer.query(
      "SELECT 1 FROM pg_stat_activity WHERE pid = $1::int AND wait_event = 'PgSleep'",
      [String(pid)],
    );
    if (result.rows.length > 0) return;
    await delay(5);
  }
}

/** Takes notifications with the libpq loop until `count` arrived (safety net: the test timeout). */
export async function receive(conn: Connection, count: number): Promise<Notification[]> {
  const received: Notification[] = [];
  while (received.length < count) {
    for (let n = conn.notifies(); n && received.length < count; n = conn.notifies())
      received.push(n);
    if (received.length >= count) break;
    await conn.waitReadable();
    conn.consumeInput();
  }
  return received;
}
