import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { connect } from '../../src/index.js';
import { Cluster, startCluster } from './cluster.js';

const run = promisify(execFile);

/** A primary and a hot standby that streams from it; destroy() removes both. */
export interface ReplicatedPair {
  /** Accepts writes; stop it to fail over. */
  primary: Cluster;
  /** In recovery, streaming from the primary, until promote(). */
  standby: Cluster;
  /** Stops both servers and deletes their directories. */
  destroy(): Promise<void>;
}

/**
 * Makes a primary and a streaming hot standby from the binaries the test run uses (see
 * cluster.ts): the standby's data directory is a file copy of the primary's taken while the
 * primary is stopped, plus `standby.signal` and `primary_conninfo`. Resolves once the primary
 * reports the standby as `streaming` in pg_stat_replication. Both trust every connection.
 */
export async function startReplicatedPair(): Promise<ReplicatedPair> {
  const primary = await startCluster({
    hba: [
      'local all all trust',
      'host all all all trust',
      'local replication all trust',
      'host replication all all trust',
    ],
    settings: { wal_level: 'replica', max_wal_senders: '4', hot_standby: 'on' },
  });
  let standby: Cluster | undefined;
  try {
    standby = await Cluster.create({ password: 'unused', binDir: primary.binDir });
    await primary.stop('fast');
    await rm(standby.dataDir, { recursive: true, force: true });
    await run('cp', ['-a', primary.dataDir, standby.dataDir]);
    await primary.start();
    await standby.appendConf({
      port: String(standby.port),
      unix_socket_directories: standby.socketDir,
      primary_conninfo: `host=127.0.0.1 port=${primary.port} user=postgres application_name=standby`,
    });
    await standby.installFile('standby.signal', '', 0o600);
    await standby.start();
    await waitStreaming(primary);
  } catch (error) {
    const logs = `${await primary.log()}\n${(await standby?.log()) ?? ''}`;
    await standby?.destroy();
    await primary.destroy();
    throw new Error(`could not start a replicated pair: ${String(error)}\n${logs}`);
  }
  const pair = { primary, standby };
  return {
    ...pair,
    destroy: async () => {
      await pair.standby.destroy();
      await pair.primary.destroy();
    },
  };
}

/** Polls pg_stat_replication on `primary` until a standby streams from it. */
async function waitStreaming(primary: Cluster): Promise<void> {
  await using conn = await connect(primary.url);
  for (;;) {
    const result = await conn.exec("SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'");
    if (result.rows.length > 0) return;
    await delay(20);
  }
}
