/**
 * The Worker that test/runtime/workerd.test.ts runs in local workerd: each endpoint takes a
 * JSON body ({ url, channel? }), runs one check with the package as a Worker gets it (the
 * `workerd` export condition) against the test run's PostgreSQL, and answers JSON: what it saw,
 * or `{ error }` with the error's name, code and message. Bundled by the test; never run by Node.
 */
import { type Connection, connect, createListener, type ListenerItem } from 'pqnotify';

interface Check {
  url: string;
  channel: string;
}

/** An error as the test compares it. */
function described(error: unknown): { name: string; code?: string; message: string } {
  if (!(error instanceof Error)) return { name: 'unknown', message: String(error) };
  const code = (error as { code?: unknown }).code;
  return {
    name: error.name,
    ...(typeof code === 'string' ? { code } : {}),
    message: error.message,
  };
}

/** Whether the connection's own backend runs over TLS, as the server sees it. */
async function serverSideTls(conn: Connection): Promise<boolean> {
  const result = await conn.exec('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  return result.rows[0]?.[0] === 't';
}

const checks: Record<string, (check: Check) => Promise<unknown>> = {
  /** Connects, asks the server whether TLS is on, and closes. */
  async connect({ url }) {
    await using conn = await connect(url);
    return { pid: conn.backendPid, tls: await serverSideTls(conn) };
  },

  /** LISTEN, three NOTIFYs from a second connection, read with libpq's loop. */
  async loop({ url, channel }) {
    await using listener = await connect(url);
    await using sender = await connect(url);
    await listener.listen(channel);
    for (const payload of ['one', 'two', 'three']) await sender.notify(channel, payload);
    const received: { payload: string; processId: number }[] = [];
    while (received.length < 3) {
      await listener.waitReadable();
      listener.consumeInput();
      for (let n = listener.notifies(); n !== null; n = listener.notifies())
        received.push({ payload: n.payload, processId: n.processId });
    }
    return { received, senderPid: sender.backendPid };
  },

  /**
   * 20,000 notifications of 1 kB from one transaction (20 MB, far more than the transport reads
   * ahead): before anything is consumed, the listener's backend must end up blocked writing to
   * it (wait_event ClientWrite), the transport having stopped reading; then libpq's loop takes
   * them all. Answers whether the backend blocked, how many came, and whether in order.
   */
  async burst({ url, channel }) {
    await using listener = await connect(url);
    await using sender = await connect(url);
    await listener.listen(channel);
    const count = 20_000;
    await sender.query(
      "SELECT pg_notify($1, lpad(i::text, 1000, '.')) FROM generate_series(1, $2::int) i",
      [channel, String(count)],
    );
    let blocked = false;
    for (let polls = 0; polls < 5000 && !blocked; polls++) {
      const state = await sender.query('SELECT wait_event FROM pg_stat_activity WHERE pid = $1', [
        String(listener.backendPid),
      ]);
      blocked = state.rows[0]?.[0] === 'ClientWrite';
    }
    let received = 0;
    let inOrder = true;
    while (received < count) {
      await listener.waitReadable();
      listener.consumeInput();
      for (let n = listener.notifies(); n !== null; n = listener.notifies()) {
        received += 1;
        inOrder &&= n.payload === String(received).padStart(1000, '.');
      }
    }
    return { blocked, received, inOrder };
  },

  /** The same through the async iterator. */
  async iterator({ url, channel }) {
    await using listener = await connect(url);
    await using sender = await connect(url);
    await listener.listen(channel);
    for (const payload of ['a', 'b']) await sender.notify(channel, payload);
    const received: string[] = [];
    for await (const n of listener.notifications()) {
      received.push(n.payload);
      if (received.length === 2) break;
    }
    return { received };
  },

  /**
   * A Listener whose backend is ended with pg_terminate_backend: it reconnects, places its
   * gap marker, and delivers what is sent after it.
   */
  async listener({ url, channel }) {
    await using listener = await createListener(url, { reconnectInitialDelayMs: 10 });
    await using admin = await connect(url);
    await listener.listen(channel);
    const items = listener.stream();
    await admin.notify(channel, 'before');
    const first = (await items.next()).value as ListenerItem;
    const before = listener.processId;
    await admin.query('SELECT pg_terminate_backend($1::int)', [String(before)]);
    const gap = (await items.next()).value as ListenerItem;
    await admin.notify(channel, 'after');
    const after = (await items.next()).value as ListenerItem;
    return {
      first: first.type === 'notification' ? first.payload : first,
      gap:
        gap.type === 'gap'
          ? { previousProcessId: gap.previousProcessId, processId: gap.processId }
          : gap,
      after: after.type === 'notification' ? after.payload : after,
      before,
    };
  },
};

export default {
  async fetch(request: Request): Promise<Response> {
    const name = new URL(request.url).pathname.slice(1);
    const check = checks[name];
    if (!check)
      return Response.json({ error: { name: 'NotFound', message: name } }, { status: 404 });
    try {
      return Response.json({ result: await check((await request.json()) as Check) });
    } catch (error) {
      return Response.json({ error: described(error) });
    }
  },
};
