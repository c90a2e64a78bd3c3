/**
 * Deno: one connection, its notifications as an async iterator that Ctrl-C ends (a Deno
 * signal listener aborts it). Deno runs it with the permissions pqnotify needs: network,
 * environment (PG* variables, HOME), reading files (~/.pgpass, TLS root certificates) and
 * the home directory (for ~/.postgresql/); add --allow-write for a Unix socket, and
 * --allow-sys=homedir,uid,gid,userInfo when no user is named (libpq's default is the OS user).
 *
 *   deno run --allow-net --allow-env --allow-read --allow-sys=homedir \
 *     examples/deno-notifications.mjs [conninfo]      (or DATABASE_URL, PG*; channel: CHANNEL)
 *
 * Inside this repository 'pqnotify' is the build in dist/; elsewhere import 'npm:pqnotify'
 * (or add it to deno.json or package.json and keep 'pqnotify').
 */
import { connect } from 'pqnotify';

const conninfo = Deno.args[0] ?? Deno.env.get('DATABASE_URL');
const channel = Deno.env.get('CHANNEL') ?? 'events';

const stop = new AbortController();
const onInterrupt = () => stop.abort();
Deno.addSignalListener('SIGINT', onInterrupt);

await using conn = await connect(conninfo);
await conn.listen(channel);
console.log(`listening on "${channel}" as pid ${conn.backendPid}; Ctrl-C stops`);
for await (const n of conn.notifications({ signal: stop.signal })) {
  console.log(`"${n.channel}" from pid ${n.processId}: ${n.payload}`);
}
Deno.removeSignalListener('SIGINT', onInterrupt);
console.log('stopped');
