import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import {
  type BackendMessage,
  FrontendDecoder,
  type FrontendMessage,
  Writer,
  writeBackendMessage,
} from '../../src/protocol/index.js';

/** A RowDescription field of type text named `name`, for scripted query results. */
export function textField(name: string) {
  return {
    name,
    tableOid: 0,
    columnAttributeNumber: 0,
    dataTypeOid: 25,
    dataTypeSize: -1,
    typeModifier: -1,
    format: 0,
  };
}

/**
 * One client connection to the fake backend, driven step by step by a test script:
 * `receive()` the next frontend message, `send()` backend messages (encoded with pqnotify's
 * own encoders, all in one write), `sendBytes()` anything at all, `end()` to close.
 */
export class FakeSession {
  private readonly decoder = new FrontendDecoder();
  private readonly inbox: FrontendMessage[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  readonly socket: Socket;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      for (let message = this.decoder.next(); message; message = this.decoder.next()) {
        this.inbox.push(message);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** The next message from the client; rejects if the client closes first. */
  async receive(): Promise<FrontendMessage> {
    for (;;) {
      const message = this.inbox.shift();
      if (message) return message;
      if (this.ended) throw new Error('the client closed the connection');
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  /** Receives the next message and checks its type. */
  async expect<T extends FrontendMessage['type']>(
    type: T,
  ): Promise<Extract<FrontendMessage, { type: T }>> {
    const message = await this.receive();
    if (message.type !== type) throw new Error(`expected ${type}, got ${message.type}`);
    return message as Extract<FrontendMessage, { type: T }>;
  }

  /** Sends backend messages in one write. */
  send(...messages: BackendMessage[]): void {
    const writer = new Writer();
    for (const message of messages) writeBackendMessage(writer, message);
    this.socket.write(writer.toBytes());
  }

  /** Sends raw bytes as they are. */
  sendBytes(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The usual end of a successful startup: AuthenticationOk, a few reports, ReadyForQuery. */
  sendReady(processId = 4242): void {
    this.send(
      { type: 'AuthenticationOk' },
      { type: 'ParameterStatus', name: 'server_version', value: '18.0' },
      { type: 'ParameterStatus', name: 'client_encoding', value: 'UTF8' },
      { type: 'BackendKeyData', processId, secretKey: new Uint8Array([1, 2, 3, 4]) },
      { type: 'ReadyForQuery', transactionStatus: 'I' },
    );
  }

  /** Closes the connection from the server side. */
  end(): void {
    this.socket.end();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}

/**
 * A scripted fake PostgreSQL server on 127.0.0.1, for what a real server never does
 * (malformed bytes, odd timings, a man in the middle). Each accepted connection runs
 * `script`; its failures are collected in `errors` so the test can assert on them.
 */
export class FakeBackend {
  private readonly server: Server;
  readonly port: number;
  readonly errors: unknown[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(server: Server, port: number) {
    this.server = server;
    this.port = port;
  }

  /** Starts the fake server; `script` runs once per client connection. */
  static start(script: (session: FakeSession) => Promise<void>): Promise<FakeBackend> {
    return FakeBackend.raw((socket, backend) => {
      script(new FakeSession(socket)).catch((error: unknown) => backend.errors.push(error));
    });
  }

  /**
   * Starts a server that is not PostgreSQL at all: `onSocket` gets each raw client socket (to
   * send a banner, answer like HTTP, send noise). `server` may be any listening-capable
   * net.Server (an http.Server, say); a plain one is made when omitted.
   */
  static async raw(
    onSocket: (socket: Socket, backend: FakeBackend) => void,
    server: Server = createServer(),
  ): Promise<FakeBackend> {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (!address || typeof address !== 'object') throw new Error('no port');
    const backend = new FakeBackend(server, address.port);
    server.on('connection', (socket: Socket) => {
      backend.sockets.add(socket);
      socket.on('close', () => backend.sockets.delete(socket));
      socket.on('error', () => undefined);
      onSocket(socket, backend);
    });
    return backend;
  }

  /** conninfo for pqnotify, without TLS. */
  get url(): string {
    return `postgres://fake@127.0.0.1:${this.port}/fake?sslmode=disable`;
  }

  /** Stops the server and drops every connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
