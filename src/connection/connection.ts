import { EventEmitter } from 'node:events';
import {
  type BackendMessage,
  Decoder,
  type OtherBackendMessage,
  ProtocolError,
  Writer,
  writeBind,
  writeCopyDone,
  writeDescribe,
  writeExecute,
  writeParse,
  writeQuery,
  writeStartupMessage,
  writeSync,
  writeTerminate,
} from '../protocol/index.js';
import { createTracer, type TraceOptions, type Tracer } from '../protocol/trace.js';
import type { Transport } from '../socket/transport.js';
import type { Authenticator } from './authenticate.js';
import { checkChannel, checkPayload } from './channels.js';
import { Command } from './command.js';
import { type DurableNotifyOptions, durableNotifyStatement } from './emit.js';
import { ConnectionError, protocolViolation, ServerError } from './errors.js';
import { escapeIdentifier, escapeLiteral } from './escape.js';
import { Fifo } from './fifo.js';
import { checkStartupAnswer, notPostgresql, shownBytes } from './first-answer.js';
import { ServerParameters } from './parameters.js';
import { PullIterator } from './pull-iterator.js';
import { startupHandler } from './startup.js';
import type {
  BackendKey,
  CancelSender,
  ConnectionEvents,
  ConnectionInit,
  ConnectionStatus,
  CopyBoth,
  Notification,
  QueryResult,
  TransactionStatus,
} from './types.js';
import { Waiters } from './waiters.js';

/** How long close() lets Terminate wait for room in a full socket buffer before giving up on it. */
const CLOSE_FLUSH_TIMEOUT_MS = 2000;

/**
 * One connection to a PostgreSQL server, made by `connect()`. Commands run one at a time:
 * `exec` and `query` wait their turn in order; `sendQuery` refuses with CONNECTION_BUSY
 * while another command (or its unread results) is in progress, as libpq does.
 * Asynchronous messages (notifications, notices, parameter reports) are handled whenever
 * they arrive, and notifications are queued, never dropped. While no command runs, input
 * is read ahead only up to about 128 KiB (see readAheadBytes), and handled only when
 * consumeInput() or a notification iterator takes it; the rest waits in the kernel.
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  /** Every byte from the server comes through its sink, onBytes. */
  private readonly transport: Transport;
  private readonly decoder: Decoder;
  private readonly writer = new Writer(64);
  private readonly queue = new Fifo<Notification>();
  /**
   * Notifications that pump() counted but left in the decoder, undecoded (see pump); they
   * follow the queue, and come first in the decoder.
   */
  private undecoded = 0;
  /** Where the count of `undecoded` stopped in the decoder's stream (see countUndecoded). */
  private undecodedEnd = 0;
  /** Whole messages received so far (see receivedMessages). */
  private messages = 0;
  private parameters = ServerParameters.none;
  private readonly sendCancel: CancelSender;
  private readonly turns = new Fifo<() => void>();
  private locked = false;
  /** Set by holdInput(): input waits in the socket even while a command runs. */
  private held = false;
  private current: Command | undefined;
  private startupHandler: ((message: BackendMessage) => void) | undefined;
  /**
   * The first bytes received (shownBytes and one more), kept until startup() has checked that they
   * open a PostgreSQL answer; undefined once checked.
   */
  private head: Uint8Array | undefined = new Uint8Array(0);
  /** True from startup() until the first bytes of the answer were found to be PostgreSQL's. */
  private checkingHead = false;
  /** The pending waitReadable() calls: woken by input, failed by the teardown. */
  private readonly readers = new Waiters();
  private failure: ConnectionError | undefined;
  private txStatus: TransactionStatus = 'unknown';
  /** The server process of the cancel key (BackendKeyData); 0 before startup. */
  private keyProcessId = 0;
  /**
   * The secret of the cancel key: a 4-byte one (every server before protocol 3.2) as its Int32,
   * so that an idle connection keeps no array for it; a longer one as the bytes decoded.
   */
  private keySecret: number | Uint8Array | undefined;
  private tracer: Tracer | undefined;
  private closing: Promise<void> | undefined;
  /** The address of the server, as `host:port` or a socket path. */
  readonly address: string;
  /** True when the connection is encrypted with TLS. */
  readonly tls: boolean;
  /** The protocol version in use, after startup. */
  protocolVersion = { major: 3, minor: 0 };
  /** Options the server did not recognise (NegotiateProtocolVersion), for diagnostics. */
  unrecognizedProtocolOptions: string[] = [];

  /**
   * Wraps a connected transport and starts it; use connect() rather than this.
   * @internal
   */
  constructor(init: ConnectionInit) {
    super();
    this.transport = init.transport;
    this.decoder = init.decoder ?? new Decoder();
    this.tls = init.tls;
    this.sendCancel = init.sendCancel;
    this.address = init.address;
    this.transport.start(this.onBytes, this.onClosed);
  }

  /** libpq's PQstatus. */
  get status(): ConnectionStatus {
    if (!this.failure) return 'ok';
    return this.failure.code === 'CONNECTION_CLOSED' ? 'closed' : 'bad';
  }

  private closedByUser(): boolean {
    return this.failure?.code === 'CONNECTION_CLOSED';
  }

  /** libpq's PQbackendPID: the server process serving this connection. */
  get backendPid(): number {
    return this.keyProcessId;
  }

  /**
   * The cancel key the server gave (BackendKeyData), or undefined before startup: a new object
   * each time, with a copy of the secret the caller owns.
   */
  get backendKey(): BackendKey | undefined {
    const secret = this.keySecret;
    if (secret === undefined) return undefined;
    if (typeof secret !== 'number')
      return { processId: this.keyProcessId, secretKey: secret.slice() };
    const secretKey = new Uint8Array(4);
    new DataView(secretKey.buffer).setInt32(0, secret);
    return { processId: this.keyProcessId, secretKey };
  }

  /** libpq's PQserverVersion: 180004 for 18.4, 150018 for 15.18; 0 if unknown. */
  get serverVersion(): number {
    const text = this.parameters.get('server_version');
    const match = text ? /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text) : null;
    if (!match) return 0;
    const major = Number(match[1]);
    const minor = Number(match[2] ?? 0);
    return major >= 10
      ? major * 10000 + minor
      : major * 10000 + minor * 100 + Number(match[3] ?? 0);
  }

  /** libpq's PQtransactionStatus. */
  get transactionStatus(): TransactionStatus {
    if (this.failure) return 'unknown';
    if (this.current && !this.current.finished) return 'active';
    return this.txStatus;
  }

  /** libpq's PQparameterStatus: the last value the server reported for `name`. */
  parameterStatus(name: string): string | undefined {
    return this.parameters.get(name);
  }

  /**
   * Whole messages received from the server so far: decoded, or counted whole and left for
   * notifies(). A frame still arriving counts only once its last byte is in, so this, not the
   * byte count, shows that the server is making progress (the Listener's heartbeat uses it).
   * Grows only when input is handled: by consumeInput(), or while a command runs.
   */
  get receivedMessages(): number {
    return this.messages;
  }

  /** The number of notifications queued and not yet taken with notifies(). */
  get pendingNotifications(): number {
    return this.queue.length + this.undecoded;
  }

  /**
   * libpq's PQnotifies: takes the oldest queued notification off the queue, or returns
   * null. Never reads the socket: call consumeInput() first. A notification that
   * consumeInput() left undecoded (see there) is decoded now; if its body turns out to be
   * malformed, the connection is torn down (CONNECTION_LOST, the ProtocolError as `cause`,
   * thrown by the next consumeInput()) and this returns null.
   */
  notifies(): Notification | null {
    const queued = this.queue.shift();
    if (queued !== undefined) return queued;
    if (this.undecoded === 0) return null;
    // Decoded here rather than in a method of its own: each function on this path that turns
    // hot is compiled with everything it calls inlined, so one level less is one large
    // compilation less in a listener's first burst.
    this.undecoded--;
    let notification: Notification | null;
    try {
      notification = this.decoder.nextNotification();
    } catch (error) {
      this.undecoded = 0;
      this.teardown(this.lostWith(error));
      return null;
    }
    if (notification === null) this.undecoded = 0;
    else this.tracer?.backend({ type: 'NotificationResponse', ...notification });
    return notification;
  }

  /** What notifies() would return until null, in a new array; null when that is none. */
  private takeNotifications(): Notification[] | null {
    if (this.pendingNotifications === 0) return null;
    const batch = this.queue.drain();
    for (let next = this.notifies(); next !== null; next = this.notifies()) batch.push(next);
    return batch.length === 0 ? null : batch;
  }

  /**
   * libpq's PQconsumeInput: takes every byte the socket has delivered so far, without
   * waiting, handles every whole message and queues notifications (while no command runs,
   * those that end the input are queued undecoded, for notifies() to decode one by one).
   * Throws ConnectionError when the connection is lost or closed (notifications that
   * arrived before are still queued). It never throws ProtocolError: malformed bytes from
   * the server end the connection with CONNECTION_LOST, whose `cause` is the decoder's
   * ProtocolError (with its byte offset).
   */
  consumeInput(): void {
    if (!this.failure) this.pump();
    if (this.failure) throw this.failure;
  }

  /**
   * The select() of the libpq loop: resolves true as soon as there is input for
   * consumeInput() (bytes the transport has handed over), false when
   * `timeout` milliseconds pass first. Rejects with the connection's ConnectionError when it
   * is or becomes unusable (CONNECTION_LOST, CONNECTION_CLOSED), or with the signal's reason
   * when it aborts. Without a timeout, no timer is set at all. Unlike select(), it
   * also resolves at once while notifications wait in the queue (taken during a command, for
   * instance), so a loop must drain notifies() after each wake-up or it never waits.
   */
  waitReadable(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<boolean> {
    if (this.failure) return Promise.reject(this.failure);
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this.unreadBytes() > 0 || this.pendingNotifications > 0) return Promise.resolve(true);
    return this.readers.wait(options);
  }

  /** Bytes the transport handed over, not yet taken by consumeInput() (Transport.unread). */
  private unreadBytes(): number {
    return this.transport.unread;
  }

  /**
   * libpq's PQexec: runs one or more SQL statements with the simple query protocol and
   * resolves with the result of the last one. Rejects with ServerError if any statement
   * failed (the connection stays usable), with ConnectionError (CONNECTION_LOST or
   * CONNECTION_CLOSED) if the connection is or becomes unusable. Waits for earlier commands
   * to finish first; when there are none, the query is written before exec() returns.
   */
  exec(sql: string): Promise<QueryResult> {
    return this.run((w) => writeQuery(w, sql));
  }

  /**
   * Runs one statement with the extended query protocol and text parameters, as
   * PQexecParams: `query('SELECT pg_notify($1, $2)', [channel, payload])`. A null
   * parameter is SQL NULL. Waits for earlier commands to finish first; when there are none,
   * the messages are written before query() returns.
   */
  query(sql: string, params: readonly (string | null)[] = []): Promise<QueryResult> {
    return this.run((w) => {
      writeParse(w, { query: sql });
      writeBind(w, { parameters: [...params] });
      writeDescribe(w, 'P');
      writeExecute(w);
      writeSync(w);
    });
  }

  /**
   * libpq's PQsendQuery: sends SQL without waiting; read the results with getResult()
   * until it returns null. Throws ConnectionError: CONNECTION_BUSY while another command is
   * in progress, CONNECTION_LOST or CONNECTION_CLOSED when the connection is unusable.
   */
  sendQuery(sql: string): void {
    this.assertUsable();
    if (this.locked) {
      throw new ConnectionError('CONNECTION_BUSY', 'another command is already in progress', {
        address: this.address,
      });
    }
    this.locked = true;
    this.start((w) => writeQuery(w, sql));
  }

  /**
   * libpq's PQgetResult: the next result of the command in progress, waiting for it;
   * null once every result was returned. A failed statement rejects with ServerError,
   * and the following call goes on with the remaining results; a lost or closed connection
   * rejects with ConnectionError.
   */
  async getResult(): Promise<QueryResult | null> {
    const command = this.current;
    if (!command) return null;
    for (;;) {
      const result = this.takeResult(command);
      if (result instanceof ServerError) throw result;
      if (result !== undefined) return result;
      await this.resultChange(command);
    }
  }

  /**
   * The next result of `command` without waiting: a result or a ServerError; null once every
   * result was taken and the command finished (its turn is then released); undefined while
   * the server has not sent more.
   */
  private takeResult(command: Command): QueryResult | ServerError | null | undefined {
    const result = command.results.shift();
    if (result !== undefined || !command.finished) return result;
    this.current = undefined;
    this.releaseTurn();
    return null;
  }

  /**
   * Resolves when `command` may have changed (a result for takeResult(), its copy started, its
   * end), taking any input that arrived meanwhile; throws the connection's ConnectionError when
   * it is unusable.
   */
  private resultChange(command: Command): Promise<boolean> {
    if (this.failure) throw this.failure;
    const changed = command.changed();
    this.pumpSoon();
    return changed;
  }

  /**
   * Runs a command that answers with CopyBothResponse (START_REPLICATION on a
   * `replication=database` connection) and resolves once the server has sent it. From then
   * on every CopyData body the server sends is passed to `onData` from the read loop, as it
   * arrives: `onData` owns the bytes, and must not block; if it throws, the stream is out of
   * step and the connection is torn down (CONNECTION_LOST). Rejects with ServerError when the
   * server refuses the command (the connection stays usable), with ConnectionError when the
   * connection is lost, and with ProtocolError if the command ends without starting a copy.
   * Waits for earlier commands to finish first.
   */
  async copyBoth(sql: string, onData: (data: Uint8Array) => void): Promise<CopyBoth> {
    const turn = this.takeTurn();
    if (turn !== undefined) await turn;
    const command = this.start((w) => writeQuery(w, sql));
    command.onCopyData = onData;
    while (!command.copyStarted) {
      if (command.finished || this.failure) {
        await this.collect(command);
        throw new ProtocolError(`"${sql.slice(0, 40)}" ended without starting a copy`, 0);
      }
      await this.resultChange(command);
    }
    const done = this.collect(command).then(() => undefined);
    done.catch(() => undefined);
    let ended = false;
    return {
      done,
      send: (write) => {
        this.assertUsable();
        if (ended || command.finished) {
          throw new ConnectionError('CONNECTION_CLOSED', 'the copy has ended');
        }
        write(this.writer);
        this.flush();
      },
      end: () => {
        if (!ended && !command.finished && !this.failure) {
          ended = true;
          writeCopyDone(this.writer);
          this.flush();
        }
        return done;
      },
    };
  }

  /**
   * Stops (`true`) or restarts (`false`) taking input while a command runs: for a copyBoth()
   * consumer with more on its hands than it can handle. Unread bytes then wait in the socket
   * (at most 128 KiB are read ahead) and TCP flow control holds the server back; asynchronous
   * messages wait with them. Writing goes on. Never blocks.
   */
  holdInput(hold: boolean): void {
    this.held = hold;
    if (!hold) this.pumpSoon();
  }

  /**
   * libpq's PQisBusy: true when getResult() would have to wait for the server. Reads
   * nothing; call consumeInput() to take what has arrived.
   */
  isBusy(): boolean {
    const command = this.current;
    return command !== undefined && command.results.length === 0 && !command.finished;
  }

  /**
   * LISTEN on a channel, named verbatim (case, spaces, quotes and non-ASCII are kept: the
   * name is quoted with escapeIdentifier). Resolves once the server has run it; inside a
   * transaction block it takes effect at commit. Invalid names throw before anything is sent.
   */
  async listen(channel: string): Promise<void> {
    checkChannel(channel);
    await this.exec(`LISTEN ${escapeIdentifier(channel)}`);
  }

  /** UNLISTEN one channel (named verbatim), or every channel when none is given. */
  async unlisten(channel?: string): Promise<void> {
    if (channel === undefined) {
      await this.exec('UNLISTEN *');
      return;
    }
    checkChannel(channel);
    await this.exec(`UNLISTEN ${escapeIdentifier(channel)}`);
  }

  /**
   * NOTIFY through `pg_notify($1, $2)` with parameters, so the channel is taken verbatim
   * and the payload needs no quoting. Outside a transaction block it is delivered when this
   * resolves. A channel over 63 bytes or a payload of 8000 bytes or more throws RangeError
   * before anything is sent; otherwise it rejects as exec() does.
   */
  async notify(channel: string, payload = ''): Promise<void> {
    checkChannel(channel);
    checkPayload(payload);
    await this.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  /**
   * Sends a durable notification (see durableNotifyStatement and openDurableStream): inside a
   * transaction block it is delivered only if that transaction commits. Resolves with the
   * message's LSN (`16/B374D848`). Any wal_level accepts it, but only a logical slot (which
   * needs wal_level = logical) ever reads it back. Waits for earlier commands to finish first;
   * rejects with ServerError or ConnectionError; throws as durableNotifyStatement does.
   */
  async notifyDurable(
    channel: string,
    payload: string | Uint8Array = '',
    options: DurableNotifyOptions = {},
  ): Promise<string> {
    const statement = durableNotifyStatement(channel, payload, options);
    const result = await this.query(statement.text, statement.values);
    return result.rows[0]?.[0] ?? '';
  }

  /**
   * The notifications of this connection as an async iterator: it drains the queue first,
   * then waits for the socket to be readable and consumes input, as the libpq loop does.
   * It ends without error on `break` (return()), when the signal aborts, when close() is
   * called, or when `idleTimeout` milliseconds pass with nothing to read; it throws
   * ConnectionError when the connection is lost. A queued notification is handed out at
   * once; only an empty queue makes next() wait. See notificationBatches() for the same in
   * batches, which costs one `for await` step per batch instead of one per notification.
   */
  notifications(
    options: { signal?: AbortSignal; idleTimeout?: number } = {},
  ): AsyncGenerator<Notification, void, undefined> {
    return new PullIterator(() => this.notifies(), this.inputWait(options));
  }

  /**
   * The notifications of this connection in batches, as an async iterator: each next()
   * yields every notification queued at that moment (at least one, oldest first, in a new
   * array the caller owns), waiting for input as notifications() does when none is queued.
   * It ends, and throws, as notifications() does. A burst then costs one `for await` step
   * per socket read rather than one per notification.
   */
  notificationBatches(
    options: { signal?: AbortSignal; idleTimeout?: number } = {},
  ): AsyncGenerator<Notification[], void, undefined> {
    return new PullIterator(() => this.takeNotifications(), this.inputWait(options));
  }

  /**
   * The wait of the notification iterators: waits for the socket to be readable and consumes
   * the input; false when the iteration should end (aborted, closed, or idle for
   * `idleTimeout` ms), and rejects with the ConnectionError when the connection is lost.
   */
  private inputWait(options: {
    signal?: AbortSignal;
    idleTimeout?: number;
  }): () => Promise<boolean> {
    const { signal, idleTimeout } = options;
    const waitOptions = { timeout: idleTimeout, signal };
    return async () => {
      if (signal?.aborted || this.closedByUser()) return false;
      let ready: boolean;
      try {
        ready = await this.waitReadable(waitOptions);
      } catch (error) {
        if (signal?.aborted || this.closedByUser()) return false;
        throw error;
      }
      if (ready && !this.failure) this.pump();
      return ready;
    };
  }

  /**
   * libpq's PQcancel: asks the server, over a new connection, to cancel the command in
   * progress. Resolves when the request was delivered; whether anything was cancelled
   * shows in the command's own outcome (SQLSTATE 57014).
   */
  async cancel(): Promise<void> {
    const key = this.backendKey;
    if (!key)
      throw new ConnectionError(
        'CONNECTION_CLOSED',
        'no cancel key: the connection was not started',
        {
          address: this.address,
        },
      );
    await this.sendCancel(key);
  }

  /**
   * libpq's PQfinish: sends Terminate and closes the socket. Pending commands and waits
   * reject with CONNECTION_CLOSED. Safe to call more than once. Resolves once the socket is
   * closed: as soon as Terminate is handed to the operating system (the server's reply is
   * not awaited), or after CLOSE_FLUSH_TIMEOUT_MS when a stalled peer keeps it from being sent.
   */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = new Promise<void>((resolve) => {
        if (this.failure) {
          resolve();
          return;
        }
        this.writer.reset();
        writeTerminate(this.writer);
        const bytes = this.writer.takeBytes();
        this.teardown(
          new ConnectionError('CONNECTION_CLOSED', 'the connection was closed', {
            address: this.address,
          }),
        );
        this.tracer?.frontend(bytes);
        void this.transport.end(bytes, CLOSE_FLUSH_TIMEOUT_MS).then(resolve);
      });
    }
    return this.closing;
  }

  /**
   * Abandons the connection at once: no Terminate, the socket is destroyed, everything
   * pending rejects with `reason` (CONNECTION_LOST by default). For a connection that went
   * silent (a stalled network) where close() would wait on the socket.
   */
  destroy(reason?: ConnectionError): void {
    this.teardown(
      reason ??
        new ConnectionError('CONNECTION_LOST', `connection to ${this.address} abandoned`, {
          address: this.address,
        }),
    );
    this.transport.destroy();
  }

  /** libpq's PQescapeIdentifier: see escapeIdentifier(). */
  escapeIdentifier(value: string): string {
    return escapeIdentifier(value);
  }

  /** libpq's PQescapeLiteral: see escapeLiteral(). */
  escapeLiteral(value: string): string {
    return escapeLiteral(value);
  }

  /** `await using conn = await connect(...)` closes the connection at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * libpq's PQtrace: from now on every message both ways is reported to `tracer`; pass
   * undefined to stop. Passwords and SASL secrets are never traced in clear.
   */
  setTracer(tracer: Tracer | undefined): void {
    this.tracer = tracer;
  }

  /**
   * libpq's PQtrace: from now on every message both ways is passed to `write` as one record
   * in libpq's trace format (`F`/`B`, length, message name, fields; see createTracer), with
   * no trailing newline; timestamps only with `{ timestamps: true }`. Passwords and SASL
   * data are masked. Replaces any tracer set before; the returned function (PQuntrace)
   * stops this trace.
   */
  trace(write: (line: string) => void, options?: TraceOptions): () => void {
    const tracer = createTracer(write, options);
    this.setTracer(tracer);
    return () => {
      if (this.tracer === tracer) this.setTracer(undefined);
    };
  }

  /**
   * Runs the startup exchange (StartupMessage, authentication, parameter reports, cancel
   * key) and resolves at the first ReadyForQuery. Used by connect().
   * @internal
   */
  startup(
    parameters: Record<string, string>,
    protocol: { major: 3; minor: 0 | 2 },
    minimum: { major: 3; minor: 0 | 2 },
    authenticator: Authenticator,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const finish = (outcome: Error | 'I' | 'T' | 'E') => {
        this.startupHandler = undefined;
        this.off('close', onClose);
        if (outcome instanceof Error) {
          const failure = outcome instanceof ConnectionError ? outcome : this.lostWith(outcome);
          this.teardown(failure);
          reject(failure);
        } else {
          this.txStatus = transactionStatusOf(outcome);
          resolve();
        }
      };
      const onClose = (error: ConnectionError | undefined) =>
        finish(
          error ??
            new ConnectionError('CONNECTION_CLOSED', 'the connection was closed', {
              address: this.address,
            }),
        );
      this.once('close', onClose);
      this.protocolVersion = protocol;
      this.checkingHead = true;
      this.startupHandler = startupHandler({
        address: this.address,
        writer: this.writer,
        requested: protocol,
        minimum,
        authenticator,
        protocolVersion: () => this.protocolVersion,
        negotiated: (version, unrecognizedOptions) => {
          this.protocolVersion = version;
          this.unrecognizedProtocolOptions = unrecognizedOptions;
        },
        flush: () => this.flush(),
        keyReceived: (key) => {
          const secret = key.secretKey;
          this.keyProcessId = key.processId;
          this.keySecret =
            secret.length === 4
              ? new DataView(secret.buffer, secret.byteOffset, 4).getInt32(0)
              : secret;
        },
        finish,
      });
      writeStartupMessage(this.writer, { protocolVersion: protocol, parameters });
      this.flush();
      this.pumpSoon();
    });
  }

  /** Sends whatever was written into the connection's writer. */
  private flush(): void {
    if (this.writer.length === 0) return;
    const bytes = this.writer.takeBytes();
    this.tracer?.frontend(bytes);
    this.transport.write(bytes);
  }

  private start(write: (writer: Writer) => void): Command {
    this.assertUsable();
    const command = new Command();
    this.current = command;
    write(this.writer);
    this.txStatus = 'unknown';
    this.flush();
    this.pumpSoon();
    return command;
  }

  /**
   * Runs a command as exec() and query() do: takes its turn, writes it with `write` (in the
   * call itself when no command is in progress) and collects its results.
   */
  private run(write: (writer: Writer) => void): Promise<QueryResult> {
    let turn: Promise<void> | undefined;
    try {
      turn = this.takeTurn();
    } catch (error) {
      return Promise.reject(error);
    }
    if (turn === undefined) return this.collect(this.start(write));
    return turn.then(() => this.collect(this.start(write)));
  }

  /**
   * Takes every result of `command` until it finishes; resolves with the last, or rejects with
   * the first ServerError once the command finished, or with ConnectionError. Waits only when
   * nothing has arrived: a reply read at once is taken in one go, without a step per result.
   */
  private async collect(command: Command): Promise<QueryResult> {
    let last: QueryResult | undefined;
    let error: ServerError | undefined;
    for (;;) {
      const result = this.takeResult(command);
      if (result === null) break;
      if (result === undefined) await this.resultChange(command);
      else if (result instanceof ServerError) error ??= result;
      else last = result;
    }
    if (error) throw error;
    return last ?? { command: '', rowCount: null, fields: [], rows: [] };
  }

  /**
   * Takes the connection for a command, in call order: at once when no command is in progress
   * (undefined: the caller goes on without an await, so its first bytes are written in the
   * call itself, a microtask sooner), else a promise that resolves at this command's turn.
   * Throws ConnectionError when the connection is unusable.
   */
  private takeTurn(): Promise<void> | undefined {
    this.assertUsable();
    if (!this.locked) {
      this.locked = true;
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      this.turns.push(() => {
        if (this.failure) reject(this.failure);
        else resolve();
      });
    });
  }

  /** Hands the connection to the next waiting command, or unlocks it. */
  private releaseTurn(): void {
    const next = this.turns.shift();
    if (next) next();
    else this.locked = false;
  }

  private assertUsable(): void {
    if (this.failure) throw this.failure;
  }

  /** The transport's sink: `bytes` are valid only during the call, so the decoder copies them. */
  private readonly onBytes = (bytes: Uint8Array): void => {
    if (this.failure) return;
    this.record(bytes);
    this.decoder.pushCopy(bytes);
    if (this.wantsInput()) this.pump();
    this.readers.wake();
  };

  private wantsInput(): boolean {
    return (
      this.startupHandler !== undefined ||
      (this.current !== undefined && !this.current.finished && !this.held)
    );
  }

  private pumpSoon(): void {
    queueMicrotask(() => {
      if (!this.failure && this.wantsInput()) this.pump();
    });
  }

  /**
   * Takes everything the transport handed over and handles every whole message.
   *
   * While no command wants input and no tracer is set, a run of whole NotificationResponse
   * frames that ends the input is only counted (their headers checked), and stays undecoded
   * in the decoder until notifies() takes them one by one: a burst then costs its raw bytes
   * rather than an object and strings per notification kept alive in the queue, and each
   * notification is made just before it is used. Anything else in the input (a notice, a
   * parameter report, an error, a bad header) is handled at once, after decoding every
   * notification before it into the queue, so nothing but notifications waits, and nothing
   * waits beyond this call. A malformed body in a counted frame is found by notifies().
   */
  private pump(): void {
    try {
      this.transport.take();
      if (this.checkingHead && !this.headIsPostgresql()) return;
      const onlyNotifications =
        !this.wantsInput() && this.tracer === undefined && this.countUndecoded();
      if (!onlyNotifications) {
        const decoder = this.decoder;
        while (!this.failure) {
          const notification = decoder.nextNotification();
          if (notification !== null) {
            this.enqueue(notification);
            continue;
          }
          const message = decoder.nextOther();
          if (message === null) break;
          this.dispatch(message);
        }
      }
    } catch (error) {
      this.teardown(this.lostWith(error));
    }
    if (this.pendingNotifications > 0) this.readers.wake();
  }

  /** Keeps a copy of the first bytes received (one more than shownBytes) for headIsPostgresql(). */
  private record(bytes: Uint8Array): void {
    const head = this.head;
    if (head === undefined || head.length > shownBytes) return;
    const taken = bytes.subarray(0, shownBytes + 1 - head.length);
    const grown = new Uint8Array(head.length + taken.length);
    grown.set(head);
    grown.set(taken, head.length);
    this.head = grown;
  }

  /**
   * During startup, before anything is decoded: false while the first bytes cannot tell yet,
   * or when they are not a PostgreSQL answer (the connection is then torn down with
   * CONNECTION_NOT_POSTGRESQL); true once they are.
   */
  private headIsPostgresql(): boolean {
    const head = this.head ?? new Uint8Array(0);
    const verdict = checkStartupAnswer(head);
    if (verdict === 'more') return false;
    if (verdict !== 'ok') {
      this.teardown(notPostgresql(this.address, verdict, head));
      return false;
    }
    this.checkingHead = false;
    this.head = undefined;
    return true;
  }

  /**
   * Counts the whole notifications that come next in the decoder as undecoded, announcing
   * the first; true when nothing but notifications is pending there. Only the bytes after the
   * last count are scanned: the frames counted before are still in the decoder, untouched, as
   * only notifies() and enqueue() take them, and both take one off `undecoded`.
   */
  private countUndecoded(): boolean {
    const wasEmpty = this.pendingNotifications === 0;
    const from = this.undecoded === 0 ? this.decoder.offset : this.undecodedEnd;
    const scan = this.decoder.scan(from);
    this.undecodedEnd = scan.end;
    this.undecoded += scan.count;
    this.messages += scan.count;
    if (wasEmpty && this.undecoded > 0) this.announce('notification');
    return !scan.blocked;
  }

  /**
   * Queues one notification, whatever the connection is doing: the object the decoder made
   * is the one notifies() hands out, with no copy. Nothing is queued after a teardown.
   */
  private enqueue(notification: Notification): void {
    if (this.failure) return;
    this.tracer?.backend({ type: 'NotificationResponse', ...notification });
    const wasEmpty = this.pendingNotifications === 0;
    // Undecoded notifications come first in the stream: this is one of them, if any.
    if (this.undecoded > 0) this.undecoded--;
    else this.messages++;
    this.queue.push(notification);
    if (wasEmpty) this.announce('notification');
  }

  /** Routes one message: asynchronous ones first, whatever the connection is doing. */
  private dispatch(message: OtherBackendMessage): void {
    this.messages++;
    this.tracer?.backend(message);
    switch (message.type) {
      case 'NoticeResponse':
        this.announce('notice', message.fields);
        return;
      case 'ParameterStatus':
        this.parameters = this.parameters.with(message.name, message.value);
        this.announce('parameterStatus', message.name, message.value);
        return;
      default:
        break;
    }
    if (this.startupHandler) {
      this.startupHandler(message);
      return;
    }
    if (message.type === 'ReadyForQuery')
      this.txStatus = transactionStatusOf(message.transactionStatus);
    const command = this.current;
    if (command && !command.finished && command.handle(message)) return;
    if (message.type === 'ErrorResponse') {
      const error = new ServerError(message.fields);
      this.teardown(
        new ConnectionError(
          'CONNECTION_LOST',
          `the server ended the connection: ${error.message}`,
          {
            cause: error,
            sqlState: error.sqlState,
            address: this.address,
          },
        ),
      );
      return;
    }
    throw protocolViolation(
      this.address,
      `unexpected ${message.type} while no command was running`,
    );
  }

  /**
   * The transport's close listener (the server ended the stream, or it failed): what arrived
   * before is taken first, then the teardown.
   */
  private readonly onClosed = (error: Error | undefined): void => {
    if (!this.failure) this.pump();
    this.teardown(
      error === undefined
        ? new ConnectionError(
            'CONNECTION_LOST',
            `the server closed the connection (${this.address})`,
            { address: this.address },
          )
        : this.lostWith(error),
    );
  };

  private lostWith(error: unknown): ConnectionError {
    if (error instanceof ConnectionError) return error;
    if (error instanceof ProtocolError) {
      return new ConnectionError(
        'CONNECTION_LOST',
        `protocol error from ${this.address}: ${error.message}`,
        {
          cause: error,
          address: this.address,
        },
      );
    }
    const text = error instanceof Error ? error.message : String(error);
    return new ConnectionError('CONNECTION_LOST', `connection to ${this.address} lost: ${text}`, {
      cause: error,
      address: this.address,
    });
  }

  /** The one teardown path: every error, end of stream or close() comes through here. */
  private teardown(error: ConnectionError): void {
    if (this.failure) return;
    this.failure = error;
    if (error.code !== 'CONNECTION_CLOSED') this.transport.destroy();
    this.current?.signal();
    for (const waiter of this.turns.drain()) waiter();
    this.readers.fail(error);
    this.announce('close', error.code === 'CONNECTION_CLOSED' ? undefined : error);
  }

  /**
   * Emits an event to the application's listeners from inside the read loop. A listener that
   * throws must not pass for a broken connection: every listener is still called, and each
   * error is rethrown on its own in a later tick, where Node reports it as an uncaught
   * exception (as it would from a listener of a socket's 'data' event), not swallowed.
   */
  private announce<K extends keyof ConnectionEvents>(event: K, ...args: ConnectionEvents[K]): void {
    // On the path of every notification: rawListeners() copies an array even when empty.
    if (this.listenerCount(event) === 0) return;
    for (const listener of this.rawListeners(event)) {
      try {
        Reflect.apply(listener as (...values: unknown[]) => unknown, this, args);
      } catch (error) {
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }
}

function transactionStatusOf(status: 'I' | 'T' | 'E'): TransactionStatus {
  return status === 'I' ? 'idle' : status === 'T' ? 'intrans' : 'inerror';
}
