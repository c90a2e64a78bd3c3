/**
 * The replication stream against a scripted walsender, for what a real server does not do on
 * demand: an old server version, a keepalive that asks for a reply in the same write as the
 * CopyBothResponse, malformed data inside CopyData, and the server ending the copy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LogicalStream } from '../../src/connection/replication.js';
import {
  ConnectionError,
  connect,
  openDurableStream,
  ProtocolError,
  ReplicationError,
} from '../../src/index.js';
import {
  decodeStandbyStatusUpdate,
  encodePgoutputMessage,
  Writer,
  writeReplicationMessage,
} from '../../src/protocol/index.js';
import { FakeBackend, type FakeSession } from '../support/fake-backend.js';

let backend: FakeBackend | undefined;

afterEach(async () => {
  await backend?.close();
  backend = undefined;
});

/** A fake walsender: checks the replication=database startup, then runs `after`. */
async function walsender(
  after: (session: FakeSession) => Promise<void>,
  version = '18.0',
): Promise<FakeBackend> {
  backend = await FakeBackend.start(async (session) => {
    const startup = await session.expect('StartupMessage');
    expect(startup.parameters.replication).toBe('database');
    session.send(
      { type: 'AuthenticationOk' },
      { type: 'ParameterStatus', name: 'server_version', value: version },
      { type: 'BackendKeyData', processId: 7, secretKey: new Uint8Array([1, 2, 3, 4]) },
      { type: 'ReadyForQuery', transactionStatus: 'I' },
    );
    await after(session);
  });
  return backend;
}

/** Answers START_REPLICATION with CopyBothResponse followed by `then` in the same write. */
async function startCopy(session: FakeSession, then: Uint8Array = new Uint8Array(0)) {
  const query = await session.expect('Query');
  expect(query.query).toMatch(
    /^START_REPLICATION SLOT s LOGICAL 0\/0 \(proto_version '1', publication_names '"p"', messages 'true'\)$/,
  );
  const w = new Writer();
  w.beginMessage(0x57).uint8(0).int16(0).finishMessage(); // CopyBothResponse, text, 0 columns
  w.bytes(then);
  session.sendBytes(w.toBytes());
}

const options = { slot: 's', publications: ['p'], onMessage: () => undefined };

describe('replication against a scripted walsender', () => {
  it('a server older than 14 is refused with REPLICATION_SERVER_TOO_OLD', async () => {
    const server = await walsender(async () => undefined, '13.9');
    const error = await openDurableStream(server.url, { slot: 's' }).catch((e) => e);
    expect(error).toBeInstanceOf(ReplicationError);
    expect(error.code).toBe('REPLICATION_SERVER_TOO_OLD');
    expect(error.message).toMatch(/PostgreSQL 13\.9; durable notifications need PostgreSQL 14/);
  });

  it('answers a keepalive that arrives with the CopyBothResponse, and stops on CopyDone', async () => {
    const updates: ReturnType<typeof decodeStandbyStatusUpdate>[] = [];
    const server = await walsender(async (session) => {
      const w = new Writer();
      writeReplicationMessage(w, {
        type: 'PrimaryKeepalive',
        walEnd: 0x2_00000010n,
        sendTime: 1n,
        replyRequested: true,
      });
      await startCopy(session, w.toBytes());
      const reply = await session.expect('CopyData');
      updates.push(decodeStandbyStatusUpdate(reply.data));
      // The client's stop: a last status update, then CopyDone; the server ends the command.
      updates.push(decodeStandbyStatusUpdate((await session.expect('CopyData')).data));
      await session.expect('CopyDone');
      session.send(
        { type: 'CopyDone' },
        { type: 'CommandComplete', commandTag: 'START_REPLICATION' },
        { type: 'ReadyForQuery', transactionStatus: 'I' },
      );
    });
    const conn = await connect(`${server.url}&replication=database`);
    const stream = await LogicalStream.start(conn, options);
    await expect.poll(() => updates.length).toBe(1);
    expect(updates[0]).toMatchObject({
      written: 0x2_00000010n,
      flushed: 0n,
      replyRequested: false,
    });
    stream.confirm(0x2_00000008n);
    await stream.stop();
    expect(updates[1]).toMatchObject({ written: 0x2_00000010n, flushed: 0x2_00000008n });
    expect(conn.status).toBe('ok');
    await conn.close();
  });

  it('malformed pgoutput data inside CopyData tears the connection down as a protocol error', async () => {
    const server = await walsender(async (session) => {
      const w = new Writer();
      writeReplicationMessage(w, {
        type: 'XLogData',
        walStart: 1n,
        walEnd: 1n,
        sendTime: 0n,
        data: Uint8Array.of(0x5a), // no pgoutput message has tag 'Z'
      });
      await startCopy(session, w.toBytes());
      await session.receive().catch(() => undefined);
    });
    const conn = await connect(`${server.url}&replication=database`);
    const stream = await LogicalStream.start(conn, options).catch((e) => e);
    const error = stream instanceof LogicalStream ? await stream.done.catch((e) => e) : stream;
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.code).toBe('CONNECTION_LOST');
    expect(error.cause).toBeInstanceOf(ProtocolError);
    expect(error.message).toMatch(/unknown message tag 0x5a/);
    expect(conn.status).toBe('bad');
  });

  it('a copy the server ends by itself resolves done, and the messages before it arrive', async () => {
    const server = await walsender(async (session) => {
      const w = new Writer();
      writeReplicationMessage(w, {
        type: 'XLogData',
        walStart: 5n,
        walEnd: 5n,
        sendTime: 0n,
        data: encodePgoutputMessage({ type: 'Begin', finalLsn: 9n, commitTime: 0n, xid: 3 }),
      });
      w.beginMessage(0x63).finishMessage(); // CopyDone
      await startCopy(session, w.toBytes());
      session.send(
        { type: 'CommandComplete', commandTag: 'START_REPLICATION' },
        { type: 'ReadyForQuery', transactionStatus: 'I' },
      );
      await session.receive().catch(() => undefined);
    });
    const conn = await connect(`${server.url}&replication=database`);
    const seen: string[] = [];
    const stream = await LogicalStream.start(conn, {
      ...options,
      onMessage: (message) => seen.push(message.type),
    });
    await stream.done;
    expect(seen).toEqual(['Begin']);
    expect(stream.received).toBe(5n);
    expect(stream.sendStatus()).toBe(false);
    await conn.close();
  });
});
