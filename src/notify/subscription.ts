import type { Connection } from '../connection/connection.js';
import { ConnectionError } from '../connection/errors.js';
import type { QueryResult } from '../connection/types.js';

/**
 * What the LISTEN_LOST messages say about the likely cause and the fix: a pooler in
 * transaction or statement mode runs each transaction on whichever server connection is free,
 * so the LISTENs stay on a server connection other clients are given next.
 */
export const POOLER_HINT =
  'the likely cause is a connection pooler in transaction or statement mode (PgBouncer, ' +
  'Supavisor, ...), which hands the server connection holding the LISTENs to other clients; ' +
  'connect to PostgreSQL directly or through a pool in session mode';

/** Probe connections opened after a LISTEN when a pooler is suspected (see afterListen). */
export const POOLER_PROBES = 3;

/** How long the probes together, and each re-run check, may take before they prove nothing. */
export const POOLER_PROBE_TIMEOUT_MS = 2_000;

/**
 * The subscription check: the backend's pid and how many channels it listens on. A Listener
 * appends it to each batch of LISTENs (one implicit transaction, so it runs on the backend
 * that ran them, even through a transaction pooler) and hands the result to afterListen().
 */
export const SUBSCRIPTION_CHECK =
  'SELECT pg_backend_pid(), (SELECT count(*) FROM pg_listening_channels())';
const CHECK = SUBSCRIPTION_CHECK;

/**
 * What each probe runs: its backend's pid, then a short sleep that keeps the server connection
 * busy (one statement: no transaction, which a statement-mode pool would refuse) while the
 * other probes are given theirs.
 */
export const POOLER_PROBE = 'SELECT pg_backend_pid(), pg_sleep(0.1)';
const PROBE = POOLER_PROBE;

/**
 * Proves that a Listener's session is subscribed: the backend it talks to is the one that ran
 * its LISTENs (`pg_backend_pid()`), and that backend still listens on every channel the
 * Listener counts as listened (`pg_listening_channels()`). One instance per Listener; it
 * remembers the backend of the current connection and whether the previous connection was
 * lost the same way, so a loss that repeats on a fresh connection becomes final.
 */
export class SubscriptionCheck {
  private readonly openProbe: () => Promise<Connection>;
  private conn: Connection | undefined;
  /** pg_backend_pid() on `conn`, asked right after its first LISTEN committed. */
  private serverPid: number | undefined;
  /** Set by a lost subscription, cleared by a check that passes: a second loss in a row is final. */
  private lostBefore = false;
  private final: ConnectionError | undefined;

  /** `openProbe` opens a connection as the Listener does (same conninfo and options). */
  constructor(openProbe: () => Promise<Connection>) {
    this.openProbe = openProbe;
  }

  /**
   * The LISTEN_LOST error to give up with once the subscription cannot hold: a pooler found
   * at LISTEN time, or a subscription lost twice in a row; undefined until then.
   */
  get finalError(): ConnectionError | undefined {
    return this.final;
  }

  /**
   * Call with the result of a batch of LISTENs that ended with SUBSCRIPTION_CHECK, once it
   * has committed on `conn`. The first time per connection it records the backend's pid; a
   * pid other than BackendKeyData's means something sits between the Listener and PostgreSQL
   * (a pooler: PostgreSQL itself always sends its own pid), and then POOLER_PROBES new
   * connections are opened at once, each running POOLER_PROBE, whose sleep keeps its server
   * connection busy so that the others are given other ones; the check runs again on `conn`
   * before and after the probes. A fresh session that runs on the Listener's backend, or a
   * later batch (or a re-run check) answered by another backend, proves that server
   * connections are shared between clients (a fresh session that merely listens proves
   * nothing: a session pool without a reset query leaks LISTENs of departed clients): `conn`
   * is destroyed with a final LISTEN_LOST error and this rejects with it. Probes that cannot
   * connect or are not answered within POOLER_PROBE_TIMEOUT_MS (a full pool) prove nothing;
   * no proof found means LISTEN goes ahead (the heartbeat keeps checking).
   */
  async afterListen(conn: Connection, result: QueryResult): Promise<void> {
    const [pid] = readCheck(result);
    if (this.conn === conn) {
      if (pid !== this.serverPid)
        this.fail(
          conn,
          `these LISTENs ran on backend pid ${pid}, earlier ones on pid ${this.serverPid}`,
        );
      return;
    }
    this.conn = conn;
    this.serverPid = pid;
    if (pid === conn.backendPid) return;
    const seen = await this.probe(conn, pid);
    if (seen) this.fail(conn, `${seen} (backend pid ${pid} holds the LISTENs)`);
  }

  /** Destroys `conn` with a final LISTEN_LOST error saying `what`, and throws that error. */
  private fail(conn: Connection, what: string): never {
    this.final = new ConnectionError(
      'LISTEN_LOST',
      `${conn.address} shares server connections between clients, so LISTEN cannot work ` +
        `there: ${what}; ${POOLER_HINT}`,
      { address: conn.address },
    );
    conn.destroy(this.final);
    throw this.final;
  }

  /**
   * The heartbeat: one statement that answers the backend's pid and how many channels it
   * listens on. Resolves when `conn` is still the backend that ran the LISTENs and listens on
   * every channel of `expected()` (read when the answer arrives, so LISTENs committed before
   * it count; channels are compared by number, and their names are read only when the backend
   * has fewer); otherwise destroys `conn` with a LISTEN_LOST error, final when the previous
   * connection ended the same way with no check passed since, and rejects with it. Rejects
   * with the connection's error when it breaks.
   */
  async verify(conn: Connection, expected: () => ReadonlySet<string>): Promise<void> {
    const [pid, count] = readCheck(await conn.exec(CHECK));
    const channels = expected();
    const wrongBackend =
      this.conn === conn && this.serverPid !== undefined && pid !== this.serverPid;
    let missing: string[] = [];
    if (!wrongBackend && count < channels.size) {
      const listed = new Set(
        (await conn.exec('SELECT pg_listening_channels()')).rows.map((row) => row[0]),
      );
      missing = [...expected()].filter((channel) => !listed.has(channel));
    }
    if (!wrongBackend && missing.length === 0) {
      this.lostBefore = false;
      return;
    }
    const what = wrongBackend
      ? `the heartbeat ran on backend pid ${pid}, not on pid ${this.serverPid} that holds the LISTENs`
      : `the backend no longer listens on ${missing.length} of ${channels.size} channels (${missing
          .slice(0, 3)
          .map((channel) => JSON.stringify(channel))
          .join(', ')}${missing.length > 3 ? ', ...' : ''})`;
    const again = this.lostBefore ? ', again on a fresh connection' : '';
    const error = new ConnectionError(
      'LISTEN_LOST',
      `subscription lost on ${conn.address}${again}: ${what}; ${POOLER_HINT}`,
      { address: conn.address },
    );
    if (this.lostBefore) this.final = error;
    this.lostBefore = true;
    conn.destroy(error);
    throw error;
  }

  /** What shows that server connections are shared (see afterListen), or undefined. */
  private async probe(conn: Connection, listenerPid: number): Promise<string | undefined> {
    const probes: Connection[] = [];
    let finished = false;
    const recheck = async () => {
      const answer = await withTimeout(conn.exec(CHECK).then(readCheck));
      return answer && answer[0] !== listenerPid
        ? `the listener's next query ran on backend pid ${answer[0]}`
        : undefined;
    };
    const probeOnce = async () => {
      const probe = await this.openProbe();
      probes.push(probe);
      if (finished) probe.destroy();
      return readCheck(await probe.exec(PROBE));
    };
    try {
      const first = await recheck();
      if (first) return first;
      const settled = await withTimeout(
        Promise.allSettled(Array.from({ length: POOLER_PROBES }, probeOnce)),
      );
      for (const outcome of settled ?? []) {
        if (outcome.status === 'fulfilled' && outcome.value[0] === listenerPid)
          return `a new session ran on the listener's backend`;
      }
      return await recheck();
    } catch {
      return undefined;
    } finally {
      finished = true;
      for (const probe of probes) probe.destroy();
    }
  }
}

/** The pid and channel count of a CHECK result (the pid alone of a PROBE result). */
function readCheck(result: QueryResult): [pid: number, count: number] {
  const row = result.rows[0];
  return [Number(row?.[0]), Number(row?.[1])];
}

/** `work`'s value, or undefined when it takes longer than POOLER_PROBE_TIMEOUT_MS. */
async function withTimeout<T>(work: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), POOLER_PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
