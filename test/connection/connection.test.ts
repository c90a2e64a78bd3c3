import { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Connection,
  ConnectionError,
  connect,
  dialSocket,
  type Notification,
  ProtocolError,
  ServerError,
  type Transport,
  transportFromDuplex,
} from '../../src/index.js';
import { type BackendMessage, Writer, writeBackendMessage } from '../../src/protocol/index.js';
import { concat, frame, i32, str } from '../protocol/support.js';
import { TcpProxy } from '../support/proxy.js';
import { connectTest, server, transports, waitUntilSleeping } from '../support/server.js';

describe.each(transports)('$name', ({ options }) => {
  describe('Connection against the real server', () => {
    let conn: Connection;

    beforeAll(async () => {
      conn = await connectTest(options);
    });

    afterAll(async () => {
      await conn.close();
    });

    it('reports status, backend pid, server version and parameters', async () => {
      expect(conn.status).toBe('ok');
      expect(conn.transactionStatus).toBe('idle');
      const result = await conn.exec(
        "SELECT pg_backend_pid()::text, current_setting('server_version_num'), current_setting('server_encoding')",
      );
      expect(result.rows[0]?.[0]).toBe(String(conn.backendPid));
      expect(conn.serverVersion).toBe(Number(result.rows[0]?.[1]));
      expect(conn.parameterStatus('client_encoding')).toBe('UTF8');
      expect(conn.parameterStatus('server_encoding')).toBe(result.rows[0]?.[2]);
      expect(conn.parameterStatus('no_such_parameter')).toBeUndefined();
    });

    it('exec returns the last statement, with fields, text rows, nulls and the command tag', async () => {
      const result = await conn.exec(
        "SELECT 1; SELECT x::text AS n, CASE WHEN x = 2 THEN NULL ELSE 'v' || x END AS v FROM generate_series(1, 3) x",
      );
      expect(result.command).toBe('SELECT 3');
      expect(result.rowCount).toBe(3);
      expect(result.fields.map((field) => field.name)).toEqual(['n', 'v']);
      expect(result.fields[0]?.dataTypeOid).toBe(25);
      expect(result.rows).toEqual([
        ['1', 'v1'],
        ['2', null],
        ['3', 'v3'],
      ]);
    });

    it('exec of an empty string gives an empty result', async () => {
      const result = await conn.exec('');
      expect(result).toEqual({ command: '', rowCount: null, fields: [], rows: [] });
    });

    it('decodes UTF-8 both ways', async () => {
      const text = 'żółw 🐢 café';
      const result = await conn.query('SELECT $1::text AS t, length($1) AS n', [text]);
      expect(result.rows).toEqual([[text, String([...text].length)]]);
    });

    it('a server error rejects with every field and leaves the connection usable', async () => {
      const error = await conn
        .exec('SELECT * FROM no_such_table')
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ServerError);
      const serverError = error as ServerError;
      expect(serverError.sqlState).toBe('42P01');
      expect(serverError.severity).toBe('ERROR');
      expect(serverError.position).toBe('15');
      expect(serverError.fields.message).toContain('no_such_table');
      expect(serverError.fields.routine).toBeTruthy();
      expect(serverError.message).toMatch(/^ERROR: .*no_such_table.* \(SQLSTATE 42P01\)$/);
      expect(conn.status).toBe('ok');
      expect((await conn.exec('SELECT 42')).rows).toEqual([['42']]);
    });

    it('query sends text parameters and null', async () => {
      const result = await conn.query('SELECT $1::int + 1 AS a, $2::text IS NULL AS b', [
        '41',
        null,
      ]);
      expect(result.rows).toEqual([['42', 't']]);
      const error = await conn.query('SELECT $1::int', ['nope']).catch((caught: unknown) => caught);
      expect((error as ServerError).sqlState).toBe('22P02');
      expect((await conn.query('SELECT 1')).rows).toEqual([['1']]);
    });

    it('tracks the transaction status', async () => {
      await conn.exec('BEGIN');
      expect(conn.transactionStatus).toBe('intrans');
      await conn.exec('SELECT 1/0').catch(() => undefined);
      expect(conn.transactionStatus).toBe('inerror');
      await conn.exec('ROLLBACK');
      expect(conn.transactionStatus).toBe('idle');
    });

    it('sendQuery / getResult / isBusy follow libpq', async () => {
      conn.sendQuery('SELECT 1 AS a; SELECT 2 AS b; SELECT 1/0; SELECT 4 AS d');
      expect(conn.transactionStatus).toBe('active');
      expect(() => conn.sendQuery('SELECT 5')).toThrow(ConnectionError);
      const first = await conn.getResult();
      expect(first?.rows).toEqual([['1']]);
      const second = await conn.getResult();
      expect(second?.fields[0]?.name).toBe('b');
      await expect(conn.getResult()).rejects.toMatchObject({ sqlState: '22012' });
      expect(await conn.getResult()).toBeNull();
      expect(conn.isBusy()).toBe(false);
      expect(await conn.getResult()).toBeNull();
    });

    it('isBusy turns false once consumeInput has taken the whole result', async () => {
      conn.sendQuery('SELECT 7');
      while (conn.isBusy()) {
        await conn.waitReadable();
        conn.consumeInput();
      }
      expect((await conn.getResult())?.rows).toEqual([['7']]);
      expect(await conn.getResult()).toBeNull();
    });

    it('overlapping exec calls run in call order', async () => {
      const results = await Promise.all([
        conn.exec('SELECT pg_sleep(0.05), 1'),
        conn.exec('SELECT 2'),
        conn.query('SELECT $1::text', ['3']),
      ]);
      expect(results.map((result) => result.rows[0]?.at(-1))).toEqual(['1', '2', '3']);
    });

    it('escapes identifiers and literals the way the server reads them', async () => {
      const tricky = `we'ird "name" \\ end`;
      const result = await conn.exec(
        `SELECT ${conn.escapeLiteral(tricky)} AS ${conn.escapeIdentifier(tricky)}`,
      );
      expect(result.fields[0]?.name).toBe(tricky);
      expect(result.rows).toEqual([[tricky]]);
      expect(() => conn.escapeLiteral('a\0b')).toThrow(TypeError);
    });

    it('cancel() stops a running pg_sleep(30)', async () => {
      const other = await connectTest(options);
      try {
        const sleeping = other.exec('SELECT pg_sleep(30)').catch((caught: unknown) => caught);
        await waitUntilSleeping(conn, other.backendPid);
        const started = performance.now();
        await other.cancel();
        const error = await sleeping;
        expect((error as ServerError).sqlState).toBe('57014');
        expect(performance.now() - started).toBeLessThan(10_000);
        expect((await other.exec('SELECT 1')).rows).toEqual([['1']]);
      } finally {
        await other.close();
      }
    });
  });
});

describe('closing', () => {
  it('close() ends the session and later calls fail with CONNECTION_CLOSED', async () => {
    const conn = await connectTest();
    await conn.close();
    expect(conn.status).toBe('closed');
    await expect(conn.exec('SELECT 1')).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    expect(() => conn.consumeInput()).toThrow(ConnectionError);
    await expect(conn.waitReadable()).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    await conn.close();
  });

  async function viaProxy(): Promise<{ proxy: TcpProxy; conn: Connection }> {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: server.port });
    const url = new URL(server.url);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    return { proxy, conn: await connect(url.toString()) };
  }

  it('close() does not wait for a stalled peer to answer Terminate', async () => {
    const { proxy, conn } = await viaProxy();
    const pid = conn.backendPid;
    try {
      proxy.blackhole();
      await conn.close();
      expect(conn.status).toBe('closed');
      proxy.resume();
      await using admin = await connectTest();
      for (;;) {
        const result = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1::int', [
          String(pid),
        ]);
        if (result.rows.length === 0) break;
        await admin.exec('SELECT pg_sleep(0.01)');
      }
    } finally {
      await proxy.close();
    }
  });

  it('close() gives up on Terminate when a stalled peer leaves no room to send it', async () => {
    const { proxy, conn } = await viaProxy();
    try {
      proxy.blackhole();
      conn.sendQuery(`SELECT '${'x'.repeat(32 * 1024 * 1024)}'`);
      const closing = conn.close();
      const result = expect(conn.getResult()).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
      await closing;
      await result;
      expect(conn.status).toBe('closed');
    } finally {
      await proxy.close();
    }
  });

  it('await using closes at the end of the block', async () => {
    let outside: Connection | undefined;
    {
      await using conn = await connectTest();
      outside = conn;
      expect(conn.status).toBe('ok');
    }
    expect(outside.status).toBe('closed');
  });

  it('a backend terminated by the server turns the connection bad with the reason', async () => {
    const victim = await connectTest();
    const admin = await connectTest();
    try {
      const closed = new Promise<ConnectionError | undefined>((resolve) =>
        victim.once('close', resolve),
      );
      await admin.query('SELECT pg_terminate_backend($1::int)', [String(victim.backendPid)]);
      for (;;) {
        try {
          await victim.waitReadable();
          victim.consumeInput();
        } catch (error) {
          expect(error).toBeInstanceOf(ConnectionError);
          expect((error as ConnectionError).code).toBe('CONNECTION_LOST');
          break;
        }
      }
      expect(victim.status).toBe('bad');
      const reason = await closed;
      expect(reason?.code).toBe('CONNECTION_LOST');
      expect(reason?.sqlState).toBe('57P01');
    } finally {
      await admin.close();
      await victim.close();
    }
  });
});

/**
 * A Connection over an in-memory stream (through transportFromDuplex, so its bytes take the
 * one input path, the transport's sink), past startup: `deliver` makes bytes readable in one
 * piece, exactly when the test says; `onQuery` answers each message the client writes.
 */
function memoryConnection(onWrite: (deliver: (...m: BackendMessage[]) => void) => void = () => {}) {
  const stream = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      onWrite(deliver);
      callback();
    },
  });
  const deliverBytes = (bytes: Uint8Array) => stream.push(bytes);
  const deliver = (...messages: BackendMessage[]) => {
    const w = new Writer();
    for (const message of messages) writeBackendMessage(w, message);
    deliverBytes(w.toBytes());
  };
  const conn = new Connection({
    transport: transportFromDuplex(stream),
    tls: false,
    sendCancel: async () => {},
    address: 'memory',
  });
  return { conn, deliver, deliverBytes, end: () => stream.push(null) };
}

function notification(i: number): Notification {
  return { channel: 'c', payload: `p${i}`, processId: 7 };
}

function notifications(from: number, to: number): BackendMessage[] {
  return Array.from({ length: to - from }, (_, i) => ({
    type: 'NotificationResponse' as const,
    ...notification(from + i),
  }));
}

function takeAll(conn: Connection): Notification[] {
  const taken: Notification[] = [];
  for (let n = conn.notifies(); n !== null; n = conn.notifies()) taken.push(n);
  return taken;
}

describe('notifications the connection has not decoded yet', () => {
  it('are counted, announced once, and taken in order', async () => {
    const { conn, deliver } = memoryConnection();
    let announced = 0;
    conn.on('notification', () => announced++);
    deliver(...notifications(0, 500));
    await conn.waitReadable();
    conn.consumeInput();
    expect(conn.pendingNotifications).toBe(500);
    expect(announced).toBe(1);
    const taken = takeAll(conn);
    expect(taken).toEqual(notifications(0, 500).map((_, i) => notification(i)));
    expect(JSON.stringify(taken[0])).toBe('{"channel":"c","payload":"p0","processId":7}');
    expect(conn.pendingNotifications).toBe(0);
    conn.destroy();
  });

  it('do not hold back a notice that follows them, nor a command', async () => {
    const { conn, deliver } = memoryConnection((reply) =>
      reply(
        ...notifications(5, 6),
        { type: 'CommandComplete', commandTag: 'LISTEN' },
        { type: 'ReadyForQuery', transactionStatus: 'I' },
      ),
    );
    const noticed: number[] = [];
    conn.on('notice', () => noticed.push(conn.pendingNotifications));
    let announced = 0;
    conn.on('notification', () => announced++);
    deliver(
      ...notifications(0, 3),
      { type: 'NoticeResponse', fields: { severity: 'NOTICE', message: 'hi' } },
      ...notifications(3, 5),
    );
    await conn.waitReadable();
    conn.consumeInput();
    expect(noticed).toEqual([3]);
    expect(conn.pendingNotifications).toBe(5);
    expect(announced).toBe(1);
    await conn.exec('LISTEN c');
    expect(takeAll(conn)).toEqual(notifications(0, 6).map((_, i) => notification(i)));
    conn.destroy();
  });

  it('are still taken after the server closes the connection', async () => {
    const { conn, deliver, end } = memoryConnection();
    const closed = new Promise((resolve) => conn.once('close', resolve));
    deliver(...notifications(0, 3));
    end();
    await closed;
    expect(conn.status).toBe('bad');
    expect(() => conn.consumeInput()).toThrow(/the server closed the connection/);
    expect(conn.pendingNotifications).toBe(3);
    expect(takeAll(conn)).toEqual([notification(0), notification(1), notification(2)]);
  });

  it('a malformed body is found when taken, and ends the connection', async () => {
    const { conn, deliverBytes } = memoryConnection();
    const closed = new Promise<ConnectionError | undefined>((resolve) =>
      conn.once('close', resolve),
    );
    deliverBytes(
      concat(
        frame('A', i32(7), str('c'), str('p0')),
        frame('A', i32(7), str('c'), [0x70, 0x31]), // payload without its NUL
      ),
    );
    await conn.waitReadable();
    conn.consumeInput();
    expect(conn.pendingNotifications).toBe(2);
    expect(conn.notifies()).toEqual(notification(0));
    expect(conn.notifies()).toBeNull();
    expect(conn.pendingNotifications).toBe(0);
    expect(conn.status).toBe('bad');
    expect((await closed)?.cause).toBeInstanceOf(ProtocolError);
    expect(() => conn.consumeInput()).toThrow(ConnectionError);
  });

  it('a tracer sees them as they arrive', async () => {
    const { conn, deliver } = memoryConnection();
    const lines: string[] = [];
    conn.trace((line) => lines.push(line));
    deliver(...notifications(0, 2));
    await conn.waitReadable();
    conn.consumeInput();
    expect(lines.filter((line) => line.includes('NotificationResponse'))).toHaveLength(2);
    expect(takeAll(conn)).toEqual([notification(0), notification(1)]);
    conn.destroy();
  });
});

describe("the one input path (the transport's sink)", () => {
  it('gives the same messages whatever offset the bytes are split at', async () => {
    const w = new Writer();
    for (const message of [
      ...notifications(0, 2),
      { type: 'ParameterStatus' as const, name: 'application_name', value: 'split' },
      ...notifications(2, 4),
    ]) {
      writeBackendMessage(w, message);
    }
    const bytes = w.toBytes();
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { conn, deliverBytes } = memoryConnection();
      deliverBytes(bytes.slice(0, cut));
      deliverBytes(bytes.slice(cut));
      const taken: Notification[] = [];
      while (taken.length < 4) {
        await conn.waitReadable();
        conn.consumeInput();
        taken.push(...takeAll(conn));
      }
      expect(taken).toEqual([0, 1, 2, 3].map(notification));
      expect(conn.parameterStatus('application_name')).toBe('split');
      expect(conn.receivedMessages).toBe(5);
      conn.destroy();
    }
  });
});

describe('the notification iterator', () => {
  it('answers next() calls in order when they overlap', async () => {
    const { conn, deliver } = memoryConnection();
    const iterator = conn.notifications();
    const first = iterator.next();
    const second = iterator.next();
    deliver(...notifications(0, 2));
    expect(await first).toEqual({ value: notification(0), done: false });
    expect(await second).toEqual({ value: notification(1), done: false });
    conn.destroy();
  });

  it('return() ends it at once; a next() still waiting then finishes as done', async () => {
    const { conn, deliver } = memoryConnection();
    const iterator = conn.notifications();
    const waiting = iterator.next();
    expect(await iterator.return()).toEqual({ value: undefined, done: true });
    deliver(...notifications(0, 1));
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(conn.notifies()).toEqual(notification(0));
    conn.destroy();
  });

  it('throw() rejects with the error and ends it', async () => {
    const { conn, deliver } = memoryConnection();
    const iterator = conn.notifications();
    const error = new Error('stop');
    await expect(iterator.throw(error)).rejects.toBe(error);
    deliver(...notifications(0, 1));
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    conn.destroy();
  });
});

describe('Command turns', () => {
  /** `inner` with `onWrite` called at each of its writes. */
  function watchedWrites(inner: Transport, onWrite: () => void): Transport {
    return new Proxy(inner, {
      get(target, key) {
        if (key === 'write') {
          return (bytes: Uint8Array) => {
            onWrite();
            target.write(bytes);
          };
        }
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  it('writes a command within the call when none is in progress, a queued one at its turn', async () => {
    let writes = 0;
    const conn = await connectTest({
      sslmode: 'disable',
      dialer: async (target, options) =>
        watchedWrites(await dialSocket(target, options), () => writes++),
    });
    try {
      const before = writes;
      const first = conn.query('SELECT $1::int AS n', ['1']);
      expect(writes).toBe(before + 1);
      const second = conn.exec('SELECT 2 AS n');
      expect(writes).toBe(before + 1);
      expect((await first).rows).toEqual([['1']]);
      expect((await second).rows).toEqual([['2']]);
      expect(writes).toBe(before + 2);
    } finally {
      await conn.close();
    }
  });
});
