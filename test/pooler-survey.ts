/**
 * How often the Listener finds a pooler at LISTEN time (the numbers in the README's "Running
 * with HA and poolers"): for each pool size and number of busy clients, a fresh PgBouncer in
 * front of a throwaway cluster, then 10 Listeners one after the other, each LISTENing once.
 * Prints how many failed with LISTEN_LOST and how long after the listen() call. Not part of
 * the suite (a few minutes); needs /usr/sbin/pgbouncer.
 *
 *   node --import tsx test/pooler-survey.ts transaction   # or statement, session
 */
import { type Connection, ConnectionError, connect, createListener } from '../src/index.js';
import { startCluster } from './support/cluster.js';
import { PgBouncer, type PoolMode } from './support/pgbouncer.js';

const mode = (process.argv[2] ?? 'transaction') as PoolMode;
const poolSizes = mode === 'session' ? [8, 20] : [1, 2, 4, 20];
const loads = mode === 'session' ? [0, 3] : [0, 3, 10];
const tries = 10;

const cluster = await startCluster();
try {
  for (const poolSize of poolSizes) {
    for (const load of loads) {
      const pool = await PgBouncer.start({ serverPort: cluster.port, poolMode: mode, poolSize });
      const busy: Connection[] = await Promise.all(
        Array.from({ length: load }, () => connect(pool.url)),
      );
      let stop = false;
      const loops = busy.map(async (conn) => {
        while (!stop) await conn.exec('SELECT pg_sleep(0.005)');
      });
      const found: number[] = [];
      for (let n = 0; n < tries; n++) {
        const listener = await createListener(pool.url);
        listener.on('error', () => undefined);
        const started = performance.now();
        try {
          await listener.listen(`survey_${n}`);
        } catch (error) {
          if (!(error instanceof ConnectionError) || error.code !== 'LISTEN_LOST') throw error;
          found.push(Math.round(performance.now() - started));
        }
        await listener.close();
      }
      stop = true;
      await Promise.all(loops);
      for (const conn of busy) await conn.close();
      await pool.stop();
      console.log(
        `${mode} pool ${poolSize}, ${load} busy clients: found ${found.length}/${tries}` +
          (found.length > 0 ? `, after ${Math.min(...found)}-${Math.max(...found)} ms` : ''),
      );
    }
  }
} finally {
  await cluster.destroy();
}
