/**
 * Three connections: 2 and 3 listen, 1 notifies, 2 and 3 each receive the notification
 * once; a fourth connection that starts listening after the NOTIFY receives nothing.
 * Run: `npx tsx examples/three-connections.ts [conninfo]` (or DATABASE_URL, PG*).
 */
import { type Connection, connect, type Notification } from '../src/index.js';

const conninfo = process.argv[2] ?? process.env.DATABASE_URL;
const channel = `three_${process.pid}`;

/** Everything that has arrived for `conn` so far, after one round trip to its server. */
async function arrived(conn: Connection): Promise<Notification[]> {
  await conn.exec('SELECT 1');
  conn.consumeInput();
  const list: Notification[] = [];
  for (let n = conn.notifies(); n !== null; n = conn.notifies()) list.push(n);
  return list;
}

async function first(conn: Connection): Promise<Notification> {
  for await (const n of conn.notifications()) return n;
  throw new Error('the connection ended before a notification arrived');
}

const [one, two, three] = await Promise.all([
  connect(conninfo),
  connect(conninfo),
  connect(conninfo),
]);
try {
  await two.listen(channel);
  await three.listen(channel);
  await one.notify(channel, 'hello from connection 1');
  const [atTwo, atThree] = await Promise.all([first(two), first(three)]);
  for (const [name, n] of [
    ['2', atTwo],
    ['3', atThree],
  ] as const) {
    console.log(
      `connection ${name} received "${n.payload}" on "${n.channel}" from pid ${n.processId}`,
    );
  }
  console.log(`the sender was connection 1, pid ${one.backendPid}`);

  await using four = await connect(conninfo);
  await four.listen(channel);
  await one.notify(channel, 'marker');
  const [late] = await Promise.all([first(four), first(two), first(three)]);
  console.log(`connection 4 (joined after the first NOTIFY) first received "${late.payload}"`);
  const extra = [...(await arrived(two)), ...(await arrived(three)), ...(await arrived(four))];
  console.log(`nothing else arrived anywhere: ${extra.length === 0}`);
} finally {
  await Promise.all([one.close(), two.close(), three.close()]);
}
