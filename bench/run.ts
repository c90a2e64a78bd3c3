/**
 * Benchmark entry point: `npm run bench` runs every benchmark, `npm run bench -- decode`
 * only the named ones. Each benchmark module exports a `main()` that prints its own table.
 * Options come after the names (`npm run bench -- notify --quick`); each benchmark reads
 * the ones it knows from process.argv.
 */
const benchmarks: Record<string, () => Promise<{ main: () => Promise<void> }>> = {
  decode: () => import('./decode.js'),
  notify: () => import('./notify.js'),
};

const args = process.argv.slice(2);
const firstOption = args.findIndex((arg) => arg.startsWith('--'));
const wanted = firstOption < 0 ? args : args.slice(0, firstOption);
const unknown = wanted.filter((name) => !(name in benchmarks));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark: ${unknown.join(', ')} (known: ${Object.keys(benchmarks).join(', ')})`,
  );
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : Object.keys(benchmarks)) {
  const load = benchmarks[name];
  if (load) await (await load()).main();
}
