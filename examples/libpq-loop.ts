/**
 * The classic libpq example (testlibpq2), in pqnotify: LISTEN, then loop: wait until the
 * socket is readable, consume input, print each notification with its sender's pid; stop
 * after four. Run: `npx tsx examples/libpq-loop.ts [conninfo]` (or DATABASE_URL, PG*), then
 * `NOTIFY tbl2` four times from psql, or let examples/three-connections.ts show the rest.
 */
import { connect } from '../src/index.js';

const conninfo = process.argv[2] ?? process.env.DATABASE_URL;
const channel = process.env.CHANNEL ?? 'tbl2';

await using conn = await connect(conninfo);
await conn.listen(channel);
console.log(`listening on "${channel}" as pid ${conn.backendPid}`);
process.send?.('listening');

let received = 0;
while (received < 4) {
  await conn.waitReadable();
  conn.consumeInput();
  for (let n = conn.notifies(); n !== null; n = conn.notifies()) {
    console.log(
      `ASYNC NOTIFY of "${n.channel}" received from backend PID ${n.processId}: "${n.payload}"`,
    );
    received += 1;
  }
}
console.log('Done.');
