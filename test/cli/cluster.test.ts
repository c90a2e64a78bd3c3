import { chmod, cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cluster, startCluster } from '../support/cluster.js';
import { server } from '../support/server.js';

const isRoot = userInfo().uid === 0;

describe('Cluster', () => {
  let scratch: string;
  let savedTmpdir: string | undefined;
  let savedCache: string | undefined;

  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'pqnotify-cluster-test-'));
    await chmod(scratch, 0o755);
    savedTmpdir = process.env.TMPDIR;
    savedCache = process.env.PQNOTIFY_PG_CACHE;
    // Clusters and the binaries' cache go in a directory of this test's own, to be looked at.
    process.env.TMPDIR = join(scratch, 'tmp');
    process.env.PQNOTIFY_PG_CACHE = join(scratch, 'cache');
    await mkdir(process.env.TMPDIR, { mode: 0o755 });
  });

  afterEach(async () => {
    for (const [name, value] of [
      ['TMPDIR', savedTmpdir],
      ['PQNOTIFY_PG_CACHE', savedCache],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await rm(scratch, { recursive: true, force: true });
  });

  it('removes its directory when initdb fails, and says why', async () => {
    const bin = join(scratch, 'bin');
    await mkdir(bin, { mode: 0o755 });
    await writeFile(join(bin, 'postgres'), '#!/bin/sh\necho "postgres (PostgreSQL) 18.0"\n', {
      mode: 0o755,
    });
    await writeFile(
      join(bin, 'initdb'),
      '#!/bin/sh\necho "initdb: error: disk full" >&2\nexit 1\n',
      {
        mode: 0o755,
      },
    );
    await expect(Cluster.create({ password: 'x', binDir: bin })).rejects.toThrow(
      /initdb.*exited with 1: initdb: error: disk full/,
    );
    expect(await readdir(join(scratch, 'tmp'))).toEqual([]);
  });

  it.runIf(isRoot && server.managed && !process.env.PQNOTIFY_TEST_PGBIN)(
    'runs as root from binaries under a mode-0700 directory, through a copy made once',
    { timeout: 120_000 },
    async () => {
      const installDir = join(server.cluster?.binDir ?? '', '..');
      const hidden = join(scratch, 'private');
      await mkdir(hidden, { mode: 0o700 });
      await cp(installDir, join(hidden, 'pg'), { recursive: true, verbatimSymlinks: true });
      const binDir = join(hidden, 'pg', 'bin');

      const first = await startCluster({ binDir });
      try {
        expect(first.binDir.startsWith(join(scratch, 'cache'))).toBe(true);
        expect(await first.majorVersion()).toBe(server.cluster?.major);
      } finally {
        await first.destroy();
      }
      const second = await startCluster({ binDir });
      await second.destroy();
      expect(second.binDir).toBe(first.binDir);
      expect(await readdir(join(scratch, 'cache'))).toHaveLength(1);
      expect(await readdir(join(scratch, 'tmp'))).toEqual([]);
    },
  );
});
