import {
  type Cluster,
  type StartClusterOptions,
  startCluster as start,
} from '../../src/cli/cluster.js';

export { Cluster, freePort } from '../../src/cli/cluster.js';

/**
 * A throwaway cluster for one test file (see src/cli/cluster.ts), on the binaries in
 * PQNOTIFY_TEST_PGBIN when set (CI points it at an older major version). Call destroy() after.
 */
export function startCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  return start({ binDir: process.env.PQNOTIFY_TEST_PGBIN || undefined, ...options });
}
