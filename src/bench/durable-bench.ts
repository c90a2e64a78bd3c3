import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectOptions } from '../connection/config.js';
import { connect, type RuntimeOptions } from '../connection/connect.js';
import type { Connection } from '../connection/connection.js';
import { openDurableStream } from '../notify/durable.js';

/**
 * The durable-versus-NOTIFY comparison behind `pqnotify bench --mode durable`: M writer
 * connections commit one notification per transaction as fast as they can for a while, with
 * pg_notify() or with pg_logical_emit_message(), while one reader (a LISTEN connection, or a
 * DurableStream on a temporary slot) receives them. Every payload carries its writer, a
 * sequence number and the send time, so delivery is timed and checked for loss, duplicates and
 * order per writer.
 */

/** Options of runDurableBench(). */
export interface DurableBenchOptions {
  conninfo: string | ConnectOptions | undefined;
  connectOptions?: ConnectOptions & RuntimeOptions;
  mode: 'notify' | 'durable';
  /** Writer connections (default 1). */
  writers?: number;
  /** How long the writers commit (default 5 s). */
  durationMs?: number;
  /** Payload bytes, at least 40 and below 8000 (default 64). */
  payloadSize?: number;
  /** How long to wait for the reader to catch up after the writers stop (default 30 s). */
  drainTimeoutMs?: number;
}

/** The outcome of one run. */
export interface DurableBenchResult {
  mode: 'notify' | 'durable';
  writers: number;
  durationMs: number;
  payloadSize: number;
  /** Committed transactions, one notification each. */
  commits: number;
  commitsPerSecond: number;
  delivered: number;
  /** Delivered notifications per second, over the writing time plus the drain. */
  deliveredPerSecond: number;
  /** Commit to receipt, milliseconds (send time taken just before the statement). */
  latencyMs: { p50: number; p99: number; max: number } | null;
  /** Committed and never received (sequence numbers missing when the drain ended). */
  lost: number;
  duplicates: number;
  outOfOrder: number;
  drainMs: number;
}

/**
 * Runs one comparison round and resolves with its counts. Rejects with ConnectionError,
 * ServerError or ReplicationError when a connection or a statement fails. Takes about
 * `durationMs` plus the drain.
 */
export async function runDurableBench(options: DurableBenchOptions): Promise<DurableBenchResult> {
  const writers = options.writers ?? 1;
  const durationMs = options.durationMs ?? 5000;
  const payloadSize = options.payloadSize ?? 64;
  if (payloadSize < 40 || payloadSize >= 8000) {
    throw new RangeError('the payload size must be at least 40 and below 8000 bytes');
  }
  const open = () => connect(options.conninfo, options.connectOptions ?? {});
  const channel = `pqnotify_bench_${randomBytes(4).toString('hex')}`;
  const next = new Array<number>(writers).fill(0);
  const latencies: number[] = [];
  let delivered = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  const seen = Array.from({ length: writers }, () => new Set<number>());
  const receive = (payload: string) => {
    const [w, n, t] = payload.split(':');
    const writer = Number(w);
    const seq = Number(n);
    const set = seen[writer];
    if (!set) return;
    latencies.push(now() - Number(t));
    if (set.has(seq)) duplicates++;
    else {
      set.add(seq);
      delivered++;
    }
    if (seq < (next[writer] ?? 0)) outOfOrder++;
    next[writer] = seq + 1;
  };

  const reader = await startReader(options, channel, receive, open);
  const conns: Connection[] = [];
  try {
    for (let i = 0; i < writers; i++) conns.push(await open());
    const committed = new Array<number>(writers).fill(0);
    const pad = 'x'.repeat(payloadSize);
    const sql =
      options.mode === 'notify'
        ? 'SELECT pg_notify($1, $2)'
        : 'SELECT pg_logical_emit_message(true, $1, $2::text)';
    const target = options.mode === 'notify' ? channel : `pqnotify:${channel}`;
    const started = now();
    const deadline = started + durationMs;
    await Promise.all(
      conns.map(async (conn, w) => {
        for (let seq = 0; now() < deadline; seq++) {
          const head = `${w}:${seq}:${now().toFixed(3)}:`;
          await conn.query(sql, [target, head + pad.slice(head.length)]);
          committed[w] = seq + 1;
        }
      }),
    );
    const writing = now() - started;
    const commits = committed.reduce((a, b) => a + b, 0);
    const drainStart = now();
    const drainTimeout = options.drainTimeoutMs ?? 30_000;
    while (delivered < commits && now() - drainStart < drainTimeout) await sleep(5);
    const drainMs = Math.round(now() - drainStart);
    latencies.sort((a, b) => a - b);
    const at = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    return {
      mode: options.mode,
      writers,
      durationMs,
      payloadSize,
      commits,
      commitsPerSecond: Math.round((commits * 1000) / writing),
      delivered,
      deliveredPerSecond: Math.round((delivered * 1000) / (writing + drainMs)),
      latencyMs:
        latencies.length === 0
          ? null
          : {
              p50: round(at(0.5)),
              p99: round(at(0.99)),
              max: round(latencies[latencies.length - 1] ?? 0),
            },
      lost: commits - delivered,
      duplicates,
      outOfOrder,
      drainMs,
    };
  } finally {
    for (const conn of conns) await conn.close();
    await reader.close();
  }
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Starts the receiving side: a LISTEN connection, or a durable stream on a temporary slot. */
async function startReader(
  options: DurableBenchOptions,
  channel: string,
  receive: (payload: string) => void,
  open: () => Promise<Connection>,
): Promise<{ close(): Promise<void> }> {
  if (options.mode === 'notify') {
    const conn = await open();
    await conn.listen(channel);
    const loop = (async () => {
      try {
        for await (const notification of conn.notifications()) receive(notification.payload);
      } catch {
        // Closing the connection ends the loop.
      }
    })();
    return {
      async close() {
        await conn.close();
        await loop;
      },
    };
  }
  const stream = await openDurableStream(options.conninfo, {
    ...(options.connectOptions ?? {}),
    slot: channel,
    createSlot: 'temporary',
    channels: [channel],
    statusIntervalMs: 1000,
  });
  const loop = (async () => {
    try {
      for await (const item of stream) receive(item.payload);
    } catch {
      // Closing the stream ends the loop.
    }
  })();
  return {
    async close() {
      await stream.close();
      await loop;
    },
  };
}
