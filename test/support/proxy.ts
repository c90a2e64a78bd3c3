import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
}

/**
 * A TCP proxy on 127.0.0.1 between a client and a real server, for fault tests: `cut()`
 * breaks every open connection, `stall()` stops forwarding without closing anything (a
 * half-open network: both sockets stay up, bytes stay in the kernel), `refuse()` turns new
 * connections away, `delayMs` slows each forwarded chunk. Counts what it accepted.
 */
export class TcpProxy {
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private stalled = false;
  private refusing = false;
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

  /** Number of client connections currently open through the proxy. */
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
      pair.upstream.destroy();
    }
    this.pairs.clear();
  }

  /** Stops forwarding in both directions without closing anything, until resume(). */
  stall(): void {
    this.stalled = true;
    for (const { client, upstream } of this.pairs) {
      client.pause();
      upstream.pause();
    }
  }

  /** Forwards again after stall(). */
  resume(): void {
    this.stalled = false;
    for (const { client, upstream } of this.pairs) {
      client.resume();
      upstream.resume();
    }
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
    const upstream = connect(this.target);
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    this.forward(client, upstream);
    this.forward(upstream, client);
    if (!this.stalled) client.resume();
    else upstream.pause();
  }

  private forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.delayMs > 0) setTimeout(() => to.write(chunk), this.delayMs);
      else to.write(chunk);
    });
  }
}
