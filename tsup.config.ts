import { rmSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

/** The library's entry points: one per subpath of package.json's "exports". */
const entry = {
  index: 'src/index.ts',
  'protocol/index': 'src/protocol/index.ts',
  'bench/index': 'src/bench/index.ts',
};

/**
 * What both formats share. Splitting puts each module in one chunk that every entry imports,
 * so `PgClientError` and the other classes have one identity per format across `pqnotify`,
 * `pqnotify/protocol`, `pqnotify/bench` and the CLI. No source maps: the output is plain,
 * unminified JavaScript whose stack traces read as they are, and maps would take a quarter
 * of the package. `node:` prefixes stay as written.
 */
const common: Options = {
  target: 'node20',
  splitting: true,
  removeNodeProtocol: false,
  dts: { compilerOptions: { stripInternal: true } },
};

// One build writes dist/ afresh; the two configurations run side by side, so neither cleans.
rmSync('dist', { recursive: true, force: true });

export default defineConfig([
  // ESM: the library and the CLI in one build, so the CLI imports the library's chunks.
  {
    ...common,
    entry: { ...entry, cli: 'src/cli/bin.ts' },
    format: ['esm'],
    dts: { ...(common.dts as object), entry },
  },
  // CJS: the library alone (the CLI is an ES module).
  { ...common, entry, format: ['cjs'] },
]);
