/**
 * The replication connection against a real server with wal_level = logical (a throwaway
 * cluster of this file): IDENTIFY_SYSTEM, slot creation and drop, START_REPLICATION with
 * pgoutput messages, keepalive replies and standby status updates that move the slot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkLogicalReplication,
  createReplicationSlot,
  dropReplicationSlot,
  identifySystem,
  LogicalStream,
  ReplicationError,
} from '../../src/connection/replication.js';
import { type Connection, connect } from '../../src/index.js';
import { type PgoutputMessageUnion, parseLsn } from '../../src/protocol/index.js';
import { type Cluster, startCluster } from '../support/cluster.js';

let cluster: Cluster;
let sql: Connection;

beforeAll(async () => {
  cluster = await startCluster({
    settings: { wal_level: 'logical', max_replication_slots: '8', max_wal_senders: '8' },
  });
  sql = await connect(cluster.url);
  await sql.exec('CREATE PUBLICATION pqn_test');
});

afterAll(async () => {
  await sql?.close();
  await cluster?.destroy();
});

function replication(): Promise<Connection> {
  return connect(`${cluster.url}?replication=database`);
}

/** Collects pgoutput messages until `until` says stop; resolves with them. */
function collector(until: (messages: PgoutputMessageUnion[]) => boolean) {
  const messages: PgoutputMessageUnion[] = [];
  let resolve: () => void = () => undefined;
  const finished = new Promise<void>((r) => {
    resolve = r;
  });
  return {
    messages,
    finished,
    onMessage(message: PgoutputMessageUnion) {
      messages.push(message);
      if (until(messages)) resolve();
    },
  };
}

describe('replication=database connection', () => {
  it('answers IDENTIFY_SYSTEM and passes the wal_level check', async () => {
    await using conn = await replication();
    const identity = await identifySystem(conn);
    expect(identity.dbname).toBe('postgres');
    expect(identity.timeline).toBe(1);
    expect(identity.xlogPos).toBeGreaterThan(0n);
    expect(identity.systemId).toMatch(/^\d+$/);
    await checkLogicalReplication(conn);
  });

  it('streams committed messages in commit order, never rolled-back ones, and resumes after the confirmed position', async () => {
    await using conn = await replication();
    const slot = await createReplicationSlot(conn, 'pqn_stream');
    expect(slot.slotName).toBe('pqn_stream');
    await sql.exec(`BEGIN; SELECT pg_logical_emit_message(true, 'p:a', 'one');
      SELECT pg_logical_emit_message(true, 'p:b', '\\x00ff'::bytea); COMMIT`);
    await sql.exec(`BEGIN; SELECT pg_logical_emit_message(true, 'p:a', 'never'); ROLLBACK`);
    await sql.exec(`SELECT pg_logical_emit_message(true, 'p:a', 'two')`);
    const got = collector((m) => m.filter((x) => x.type === 'Commit').length === 2);
    const stream = await LogicalStream.start(conn, {
      slot: 'pqn_stream',
      publications: ['pqn_test'],
      onMessage: got.onMessage,
    });
    await got.finished;
    const summary = got.messages.map((m) =>
      m.type === 'Message' ? `M ${m.prefix} ${Buffer.from(m.content).toString('hex')}` : m.type,
    );
    expect(summary).toEqual([
      'Begin',
      `M p:a ${Buffer.from('one').toString('hex')}`,
      'M p:b 00ff',
      'Commit',
      'Begin',
      `M p:a ${Buffer.from('two').toString('hex')}`,
      'Commit',
    ]);
    const begin = got.messages[0];
    const commit = got.messages[3];
    if (begin?.type !== 'Begin' || commit?.type !== 'Commit') throw new Error('unexpected order');
    expect(begin.finalLsn).toBe(commit.commitLsn);
    expect(begin.xid).toBeGreaterThan(0);
    // Confirm the first transaction only, then stop: the slot remembers exactly that.
    stream.confirm(commit.endLsn);
    await stream.stop();
    const confirmed = await sql.query(
      "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'pqn_stream'",
    );
    expect(parseLsn(confirmed.rows[0]?.[0] ?? '')).toBe(commit.endLsn);
    // The connection is usable again after the copy (a walsender streams only once per
    // session, so resume on a new connection): it resumes after the first transaction.
    expect((await conn.exec('IDENTIFY_SYSTEM')).rows.length).toBe(1);
    await using resumeConn = await replication();
    const again = collector((m) => m.some((x) => x.type === 'Commit'));
    const resumed = await LogicalStream.start(resumeConn, {
      slot: 'pqn_stream',
      publications: ['pqn_test'],
      onMessage: again.onMessage,
    });
    await again.finished;
    expect(
      again.messages
        .filter((m) => m.type === 'Message')
        .map((m) => m.type === 'Message' && Buffer.from(m.content).toString()),
    ).toEqual(['two']);
    await resumed.stop();
    await dropReplicationSlot(conn, 'pqn_stream');
    const left = await sql.exec(
      "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pqn_stream'",
    );
    expect(left.rows[0]?.[0]).toBe('0');
  });

  it('answers a keepalive that asks for a reply with a standby status update', async () => {
    await using conn = await replication();
    await createReplicationSlot(conn, 'pqn_keepalive', { temporary: true });
    let keepalives = 0;
    const stream = await LogicalStream.start(conn, {
      slot: 'pqn_keepalive',
      publications: ['pqn_test'],
      onMessage: () => undefined,
      onKeepalive: () => {
        keepalives++;
      },
    });
    // Ask for a keepalive ourselves: the server answers a status update that requests one.
    stream.sendStatus(true);
    await expect.poll(() => keepalives, { timeout: 10_000 }).toBeGreaterThan(0);
    // The walsender saw our reply: pg_stat_replication has a reply time.
    await expect
      .poll(
        async () =>
          (await sql.exec('SELECT reply_time IS NOT NULL FROM pg_stat_replication')).rows[0]?.[0],
        { timeout: 10_000 },
      )
      .toBe('t');
    await stream.stop();
  });

  it('names a missing slot in a ServerError and stays usable', async () => {
    await using conn = await replication();
    await expect(
      LogicalStream.start(conn, {
        slot: 'pqn_nope',
        publications: ['pqn_test'],
        onMessage: () => undefined,
      }),
    ).rejects.toThrow(/replication slot "pqn_nope" does not exist/);
    expect((await conn.exec('IDENTIFY_SYSTEM')).rows.length).toBe(1);
  });

  it('rejects slot names the server would refuse, before sending anything', async () => {
    await using conn = await replication();
    await expect(createReplicationSlot(conn, 'Bad-Name')).rejects.toThrow(RangeError);
  });

  it('reports exhausted slots as REPLICATION_SLOTS_EXHAUSTED', async () => {
    await using conn = await replication();
    const made: string[] = [];
    let failure: unknown;
    for (let i = 0; i < 9 && failure === undefined; i++) {
      try {
        await createReplicationSlot(conn, `pqn_fill_${i}`, { temporary: true });
        made.push(`pqn_fill_${i}`);
      } catch (error) {
        failure = error;
      }
    }
    expect(failure).toBeInstanceOf(ReplicationError);
    expect((failure as ReplicationError).code).toBe('REPLICATION_SLOTS_EXHAUSTED');
    expect((failure as ReplicationError).message).toMatch(/max_replication_slots/);
    expect(made.length).toBeGreaterThan(0);
  });
});
