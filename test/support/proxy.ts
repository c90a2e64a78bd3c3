import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** What a held client sent before it was linked (see blackholeNew). */
  held: Buffer[];
  /** The 'data' listener that keeps a held client's bytes. */
  hold?: (chunk: Buffer) => void;
}

/** A byte to change in what the server sends: see TcpProxy.corrupt(). */
interface Corruption {
  /** Bytes still to forward before the one to change. */
  skip: number;
  xor: number;
}

/**
 * A TCP proxy on 127.0.0.1 between a client and a real server, for fault tests. Faults:
 * - `cut()` breaks every open connection, both sides;
 * - `blackhole()` stops forwarding both ways without closing anything (a half-open network:
 *   sockets stay up, bytes stay in the kernel) until `resume()`;
 * - `blackholeNew(true)` accepts new connections and never answers them (a balancer whose
 *   backend is gone), until `blackholeNew(false)` releases them to the server;
 * - `drip(ms)` forwards what the server sends one byte at a time, `ms` apart;
 * - `corrupt(n, xor)` changes the n-th byte (from 0) the server sends from now on;
 * - `refuse(true)` accepts new connections and closes them at once (a host that is down).
 * Counts what it accepted.
 */
export class TcpProxy {
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private stalled = false;
  private holdingNew = false;
  private refusing = false;
  private dripMs = 0;
  private corruption: Corruption | undefined;
  /** Delay before each chunk is forwarded, in milliseconds (0: forward at once). */
  delayMs = 0;
  /** Connections accepted so far. */
  accepted = 0;
  readonly port: number;
  private target: { host: string; port: number };

  private constructor(server: Server, port: number, target: { host: string; port: number }) {
    this.server = server;
    this.port = port;
    this.target = target;
    server.on('connection', (client) => this.accept(client));
  }

  /** Starts a proxy to `target` on a free port of 127.0.0.1. */
  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = createServer({ pauseOnConnect: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (!address || typeof address !== 'object') throw new Error('the proxy has no port');
    return new TcpProxy(server, address.port, target);
  }

  /** Number of client connections currently open through the proxy (held ones included). */
  get open(): number {
    return this.pairs.size;
  }

  /** Points new connections at another server (existing ones are left alone). */
  retarget(target: { host: string; port: number }): void {
    this.target = target;
  }

  /** Breaks every open connection at once, both sides. */
  cut(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    this.pairs.clear();
  }

  /** Stops forwarding in both directions without closing anything, until resume(). */
  blackhole(): void {
    this.stalled = true;
    for (const { client, upstream } of this.pairs) {
      client.pause();
      upstream?.pause();
    }
  }

  /** Forwards again after blackhole(). */
  resume(): void {
    this.stalled = false;
    for (const { client, upstream } of this.pairs) {
      if (!upstream) continue;
      client.resume();
      upstream.resume();
    }
  }

  /**
   * While on, new connections are accepted and left unanswered: nothing reaches the server.
   * Turning it off connects the held ones to the server, as if the network came back.
   */
  blackholeNew(on: boolean): void {
    this.holdingNew = on;
    if (on) return;
    for (const pair of this.pairs) if (!pair.upstream) this.link(pair);
  }

  /** Forwards what the server sends one byte at a time, `ms` apart; 0 turns it off. */
  drip(ms: number): void {
    this.dripMs = ms;
  }

  /** XORs the byte at `offset` (0: the next one) of what the server sends from now on. */
  corrupt(offset: number, xor: number): void {
    this.corruption = { skip: offset, xor };
  }

  /** While on, new connections are accepted and closed at once (a host that is down). */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  /** Closes the proxy and every connection through it. */
  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: Socket): void {
    this.accepted += 1;
    if (this.refusing) {
      client.destroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined, held: [] };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', drop);
    client.on('close', drop);
    if (!this.holdingNew) {
      this.link(pair);
      return;
    }
    // Read (so that a client that gives up is seen to go) but never answer.
    pair.hold = (chunk) => pair.held.push(chunk);
    client.on('data', pair.hold);
    client.resume();
  }

  /** Connects a client to the server and forwards both ways. */
  private link(pair: Pair): void {
    const { client } = pair;
    const upstream = connect(this.target);
    pair.upstream = upstream;
    if (pair.hold) client.off('data', pair.hold);
    for (const chunk of pair.held.splice(0)) upstream.write(chunk);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', drop);
    upstream.on('close', drop);
    this.forward(client, upstream, false);
    this.forward(upstream, client, true);
    if (!this.stalled) client.resume();
    else upstream.pause();
  }

  private forward(from: Socket, to: Socket, fromServer: boolean): void {
    let dripping = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (fromServer) this.applyCorruption(chunk);
      if (fromServer && this.dripMs > 0) {
        const ms = this.dripMs;
        for (const byte of chunk) {
          dripping = dripping.then(
            () =>
              new Promise<void>((resolve) =>
                setTimeout(() => {
                  if (!to.destroyed) to.write(Uint8Array.of(byte));
                  resolve();
                }, ms),
              ),
          );
        }
      } else if (this.delayMs > 0) setTimeout(() => to.write(chunk), this.delayMs);
      else to.write(chunk);
    });
  }

  private applyCorruption(chunk: Buffer): void {
    const corruption = this.corruption;
    if (!corruption) return;
    if (corruption.skip >= chunk.length) {
      corruption.skip -= chunk.length;
      return;
    }
    chunk[corruption.skip] = (chunk[corruption.skip] ?? 0) ^ corruption.xor;
    this.corruption = undefined;
  }
}
