/**
 * Node: a Listener with a handler, told about gaps through its 'gap' event. It reconnects by
 * itself (kill its backend with pg_terminate_backend to see a gap); Ctrl-C closes it.
 *
 *   node examples/node-listener.mjs [conninfo]      (or DATABASE_URL, PG*; channel: CHANNEL)
 *
 * It imports the package by its name, as a project that installed pqnotify does; inside this
 * repository that is the build in dist/ (npm install builds it).
 */
import { createListener } from 'pqnotify';

const conninfo = process.argv[2] ?? process.env.DATABASE_URL;
const channel = process.env.CHANNEL ?? 'events';

const listener = await createListener(conninfo);
listener.on('gap', (gap) => {
  console.log(
    `gap: reconnected as pid ${gap.processId} after ${gap.downtimeMs} ms (${gap.reason})`,
  );
});
await listener.listen(channel, (n) => {
  console.log(`"${n.channel}" from pid ${n.processId}: ${n.payload}`);
});
console.log(`listening on "${channel}" as pid ${listener.processId}; Ctrl-C stops`);
process.once('SIGINT', () => {
  void listener.close().then(() => console.log('closed'));
});
