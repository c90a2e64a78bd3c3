import { rmSync, writeFileSync } from 'node:fs';
import { posix } from 'node:path';
import { defineConfig, type Options } from 'tsup';

/** The library's entry points: one per subpath of package.json's "exports". */
const entry = {
  index: 'src/index.ts',
  'protocol/index': 'src/protocol/index.ts',
  'bench/index': 'src/bench/index.ts',
};

/**
 * The main entry as Cloudflare Workers and workerd get it (the `workerd` condition of "."):
 * ES module only, sharing every chunk with the others; `cloudflare:sockets` is the runtime's.
 */
const workerd = { workerd: 'src/workerd.ts' };

/**
 * What both configurations share. Splitting puts each module in one chunk that every entry
 * imports, so `PgClientError` and the other classes have one identity across `pqnotify`,
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

/**
 * The CommonJS entry points: one line each that hands `require()` the ES module itself
 * (Node 20.19+ and 22.12+ `require()` ES modules without a flag). One copy of the code, so a
 * program that both imports and requires pqnotify gets the same classes either way.
 */
function writeCjsWrappers(): void {
  for (const name of Object.keys(entry)) {
    const target = `./${posix.basename(name)}.js`;
    writeFileSync(
      `dist/${name}.cjs`,
      `'use strict';\n// The ES module itself: Node 20.19+ and 22.12+ require() ES modules.\nmodule.exports = require('${target}');\n`,
    );
  }
}

// One build writes dist/ afresh; the two configurations run side by side, so neither cleans.
rmSync('dist', { recursive: true, force: true });

export default defineConfig([
  // ESM: the library and the CLI in one build, so the CLI imports the library's chunks; then
  // the CommonJS entry points that require it.
  {
    ...common,
    entry: { ...entry, ...workerd, cli: 'src/cli/bin.ts' },
    format: ['esm'],
    external: ['cloudflare:sockets'],
    dts: { ...(common.dts as object), entry: { ...entry, ...workerd } },
    onSuccess: async () => writeCjsWrappers(),
  },
  // CJS: declarations only (.d.cts), for TypeScript's require() resolution; the JavaScript is
  // the wrappers above.
  { ...common, entry, format: ['cjs'], dts: { ...(common.dts as object), only: true } },
]);
