import { afterEach, describe, expect, it } from 'vitest';
import { type Connection, ConnectionError, connect, ProtocolError } from '../../src/index.js';
import { FakeBackend, type FakeSession, textField } from '../support/fake-backend.js';
import { connectFailure } from '../support/server.js';

let backend: FakeBackend | undefined;

afterEach(async () => {
  await backend?.close();
  backend = undefined;
});

async function fake(script: (session: FakeSession) => Promise<void>): Promise<FakeBackend> {
  backend = await FakeBackend.start(script);
  return backend;
}

/** A fake server that completes startup and then runs `after`. */
async function ready(after: (session: FakeSession) => Promise<void>): Promise<Connection> {
  const server = await fake(async (session) => {
    await session.expect('StartupMessage');
    session.sendReady();
    await after(session);
  });
  return connect(server.url);
}

describe('authentication that a real server would not offer', () => {
  it('AuthenticationOk before the SCRAM exchange completed is refused', async () => {
    const server = await fake(async (session) => {
      await session.expect('StartupMessage');
      session.send({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] });
      await session.expect('PasswordMessage');
      session.sendReady();
    });
    const error = await connectFailure(server.url, { password: 'secret-pw' });
    expect(error.code).toBe('CONNECTION_AUTH');
    expect(error.address).toBe(`127.0.0.1:${server.port}`);
    expect(error.message).toMatch(/before the SCRAM exchange completed/);
    expect(error.message).not.toContain('secret-pw');
  });

  it('channel_binding=require refuses a server that skips authentication', async () => {
    const server = await fake(async (session) => {
      await session.expect('StartupMessage');
      session.sendReady();
    });
    const error = await connectFailure(server.url, { channelBinding: 'require' });
    expect(error.code).toBe('CONNECTION_AUTH');
  });

  it('GSSAPI is refused as not supported', async () => {
    const server = await fake(async (session) => {
      await session.expect('StartupMessage');
      session.send({ type: 'AuthenticationGSS' });
    });
    const error = await connectFailure(server.url);
    expect(error.code).toBe('CONNECTION_UNSUPPORTED');
    expect(error.message).toMatch(/GSS/);
    expect(error.address).toBe(`127.0.0.1:${server.port}`);
  });

  it('a 32-byte cancel key on protocol 3.0 is a protocol violation: CONNECTION_LOST', async () => {
    const server = await fake(async (session) => {
      await session.expect('StartupMessage');
      session.send(
        { type: 'AuthenticationOk' },
        { type: 'BackendKeyData', processId: 1, secretKey: new Uint8Array(32) },
        { type: 'ReadyForQuery', transactionStatus: 'I' },
      );
    });
    const error = await connectFailure(server.url);
    expect(error).toMatchObject({ code: 'CONNECTION_LOST', address: `127.0.0.1:${server.port}` });
    expect(error.message).toBe(
      `protocol violation by 127.0.0.1:${server.port}: a protocol 3.0 server sent a cancel key of 32 bytes, not 4`,
    );
    expect(error.cause).toBeUndefined();
  });
});

describe('protocol negotiation', () => {
  it('a server that offers less than min_protocol_version is refused clearly', async () => {
    const server = await fake(async (session) => {
      const startup = await session.expect('StartupMessage');
      expect(startup.protocolVersion).toEqual({ major: 3, minor: 2 });
      session.send({
        type: 'NegotiateProtocolVersion',
        newestMinorVersion: 0,
        unrecognizedOptions: [],
      });
      session.sendReady();
    });
    const error = await connectFailure(server.url, { minProtocolVersion: '3.2' });
    expect(error.code).toBe('CONNECTION_UNSUPPORTED');
    expect(error.message).toMatch(/3\.0 at most/);
  });

  it('a server that offers 3.0 to a 3.2 request goes on at 3.0', async () => {
    const server = await fake(async (session) => {
      await session.expect('StartupMessage');
      session.send({
        type: 'NegotiateProtocolVersion',
        newestMinorVersion: 0,
        unrecognizedOptions: [],
      });
      session.sendReady();
    });
    await using conn = await connect(server.url, { maxProtocolVersion: '3.2' });
    expect(conn.protocolVersion).toEqual({ major: 3, minor: 0 });
  });
});

describe('TLS negotiation', () => {
  it("bytes after the server's 'S' are refused before the handshake", async () => {
    const server = await fake(async (session) => {
      await session.expect('SSLRequest');
      session.sendBytes(new Uint8Array([0x53, 0x45, 0x00, 0x00]));
    });
    const error = await connectFailure(
      `postgres://fake@127.0.0.1:${server.port}/fake?sslmode=require`,
    );
    expect(error.code).toBe('CONNECTION_TLS');
    expect(error.message).toMatch(/unencrypted data after SSL response/);
  });

  it('an ErrorResponse in answer to SSLRequest is the server refusing, not a foreign server', async () => {
    const server = await fake(async (session) => {
      await session.expect('SSLRequest');
      session.send({
        type: 'ErrorResponse',
        fields: { severity: 'FATAL', code: '53300', message: 'sorry, too many clients already' },
      });
      session.end();
    });
    const error = await connectFailure(
      `postgres://fake@127.0.0.1:${server.port}/fake?sslmode=require`,
    );
    expect(error).toMatchObject({
      code: 'CONNECTION_REJECTED',
      sqlState: '53300',
      address: `127.0.0.1:${server.port}`,
    });
    expect(error.message).toBe(
      `127.0.0.1:${server.port}: the server sent an error response during SSL exchange: FATAL: sorry, too many clients already (SQLSTATE 53300)`,
    );
  });

  it("sslmode=require fails when the server answers 'N'", async () => {
    const server = await fake(async (session) => {
      await session.expect('SSLRequest');
      session.sendBytes(new Uint8Array([0x4e]));
    });
    const error = await connectFailure(
      `postgres://fake@127.0.0.1:${server.port}/fake?sslmode=require`,
    );
    expect(error.code).toBe('CONNECTION_TLS');
  });
});

describe('odd bytes and timings after startup', () => {
  it('a malformed frame makes the connection bad with a ProtocolError cause', async () => {
    const conn = await ready(async (session) => {
      await session.expect('Query');
      session.sendBytes(new Uint8Array([0x5a, 0, 0, 0, 2]));
    });
    const error = await conn.exec('SELECT 1').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).code).toBe('CONNECTION_LOST');
    expect((error as ConnectionError).cause).toBeInstanceOf(ProtocolError);
    expect(conn.status).toBe('bad');
  });

  it('consumeInput() throws CONNECTION_LOST with the ProtocolError as cause, as documented', async () => {
    const conn = await ready(async (session) => {
      session.sendBytes(new Uint8Array([0x41, 0, 0, 0, 2]));
    });
    await conn.waitReadable().catch(() => undefined);
    let thrown: unknown;
    try {
      conn.consumeInput();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConnectionError);
    expect(thrown).toMatchObject({ code: 'CONNECTION_LOST', address: conn.address });
    expect((thrown as ConnectionError).cause).toBeInstanceOf(ProtocolError);
  });

  it('a well-formed message that fits no state is a violation, not a ProtocolError', async () => {
    const conn = await ready(async (session) => {
      session.send({ type: 'CommandComplete', commandTag: 'SELECT 1' });
    });
    await conn.waitReadable().catch(() => undefined);
    let closed: ConnectionError | undefined;
    try {
      conn.consumeInput();
    } catch (error) {
      closed = error as ConnectionError;
    }
    expect(closed).toMatchObject({ code: 'CONNECTION_LOST', address: conn.address });
    expect(closed?.message).toBe(
      `protocol violation by ${conn.address}: unexpected CommandComplete while no command was running`,
    );
    expect(closed?.message).not.toContain('at byte');
    expect(closed?.cause).toBeUndefined();
  });

  it('1000 notifications in one write are all queued, in order', async () => {
    const conn = await ready(async (session) => {
      session.send(
        ...Array.from({ length: 1000 }, (_, i) => ({
          type: 'NotificationResponse' as const,
          processId: 77,
          channel: 'bulk',
          payload: String(i),
        })),
      );
    });
    const payloads: string[] = [];
    while (payloads.length < 1000) {
      await conn.waitReadable();
      conn.consumeInput();
      for (let n = conn.notifies(); n; n = conn.notifies()) payloads.push(n.payload);
    }
    expect(payloads).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));
    await conn.close();
  });

  it('a notification sent one byte at a time arrives whole', async () => {
    const conn = await ready(async (session) => {
      const frame = [0x41, 0, 0, 0, 15, 0, 0, 0, 9, 0x63, 0x68, 0, 0x70, 0x61, 0x79, 0];
      for (const byte of frame) {
        session.sendBytes(new Uint8Array([byte]));
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    let n: unknown;
    for await (n of conn.notifications()) break;
    expect(n).toEqual({ channel: 'ch', payload: 'pay', processId: 9 });
    await conn.close();
  });

  it('a notification in the middle of a result is queued and the result completes', async () => {
    const conn = await ready(async (session) => {
      await session.expect('Query');
      session.send(
        { type: 'RowDescription', fields: [textField('a')] },
        { type: 'NotificationResponse', processId: 5, channel: 'mid', payload: 'x' },
        { type: 'DataRow', values: [new Uint8Array([0x31])] },
        { type: 'NoticeResponse', fields: { severity: 'NOTICE', message: 'hello' } },
        { type: 'CommandComplete', commandTag: 'SELECT 1' },
        { type: 'ReadyForQuery', transactionStatus: 'I' },
      );
    });
    const notices: string[] = [];
    conn.on('notice', (fields) => notices.push(fields.message ?? ''));
    const result = await conn.exec('SELECT 1');
    expect(result.rows).toEqual([['1']]);
    expect(conn.notifies()).toEqual({ channel: 'mid', payload: 'x', processId: 5 });
    expect(notices).toEqual(['hello']);
    await conn.close();
  });

  it('the server closing half-way through a result rejects the command', async () => {
    const conn = await ready(async (session) => {
      await session.expect('Query');
      session.send({ type: 'RowDescription', fields: [textField('a')] });
      session.end();
    });
    await expect(conn.exec('SELECT 1')).rejects.toMatchObject({ code: 'CONNECTION_LOST' });
    expect(conn.status).toBe('bad');
  });
});
