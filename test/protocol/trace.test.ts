/**
 * Protocol tracing (createTracer, Connection.trace): byte-exact records for messages both
 * ways, secrets masked, and a comparison with libpq's own PQtrace output for the same
 * sequence of commands, through the small C program test/support/libpq-trace.c, compiled
 * into a temporary directory (skipped without a C compiler or libpq headers).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ServerError } from '../../src/index.js';
import {
  type BackendMessage,
  Decoder,
  Writer,
  writeBind,
  writeCancelRequest,
  writeClose,
  writeCopyData,
  writeCopyDone,
  writeCopyFail,
  writeDescribe,
  writeExecute,
  writeFlush,
  writeFunctionCall,
  writeGSSENCRequest,
  writeParse,
  writePasswordMessage,
  writeQuery,
  writeSASLInitialResponse,
  writeSASLResponse,
  writeSSLRequest,
  writeStartupMessage,
  writeSync,
  writeTerminate,
} from '../../src/protocol/index.js';
import { createTracer, traceMask } from '../../src/protocol/trace.js';
import { textField } from '../support/fake-backend.js';
import { buildLibpqProgram } from '../support/libpq.js';
import { connectTest, server } from '../support/server.js';

const bytes = (...values: number[]) => new Uint8Array(values);
const text = (s: string) => new TextEncoder().encode(s);

/** A tracer and the records it wrote. */
function tracing(options?: { timestamps?: boolean }) {
  const lines: string[] = [];
  const tracer = createTracer((line) => lines.push(line), options);
  return { lines, tracer };
}

/** The records of frontend messages written by `write`, sent as one chunk. */
function frontend(write: (w: Writer) => void): string[] {
  const { lines, tracer } = tracing();
  const w = new Writer();
  write(w);
  tracer.frontend(w.toBytes());
  return lines;
}

/** The record of one backend message. */
function backend(message: BackendMessage): string[] {
  const { lines, tracer } = tracing();
  tracer.backend(message);
  return lines;
}

describe('createTracer: frontend messages', () => {
  it.each<[string, (w: Writer) => void, string]>([
    ['Query', (w) => writeQuery(w, 'SELECT 1'), 'F\t13\tQuery\t "SELECT 1"'],
    [
      'Parse',
      (w) => writeParse(w, { name: 's1', query: 'SELECT $1', parameterTypeOids: [23] }),
      'F\t23\tParse\t "s1" "SELECT $1" 1 23',
    ],
    [
      'Bind',
      (w) => writeBind(w, { parameters: ['42', null, bytes(0, 0x27, 0x7f)] }),
      "F\t35\tBind\t \"\" \"\" 3 0 0 1 3 2 '42' -1 3 '\\x00'\\x7f' 0",
    ],
    ['Describe', (w) => writeDescribe(w, 'P'), 'F\t6\tDescribe\t P ""'],
    ['Execute', (w) => writeExecute(w, '', 10), 'F\t9\tExecute\t "" 10'],
    ['Close', (w) => writeClose(w, 'S', 'stmt'), 'F\t10\tClose\t S "stmt"'],
    ['Sync', writeSync, 'F\t4\tSync'],
    ['Flush', writeFlush, 'F\t4\tFlush'],
    ['Terminate', writeTerminate, 'F\t4\tTerminate'],
    [
      'CopyData',
      (w) => writeCopyData(w, text('a\tb\u00e9\n')),
      "F\t10\tCopyData\t 'a\\x09b\\xc3\\xa9\\x0a'",
    ],
    ['CopyDone', writeCopyDone, 'F\t4\tCopyDone'],
    ['CopyFail', (w) => writeCopyFail(w, 'no'), 'F\t7\tCopyFail\t "no"'],
    [
      'FunctionCall',
      (w) => writeFunctionCall(w, { functionOid: 1598, arguments: ['x', null] }),
      "F\t23\tFunctionCall\t 1598 0 2 1 'x' -1 0",
    ],
    [
      'StartupMessage',
      (w) =>
        writeStartupMessage(w, {
          protocolVersion: { major: 3, minor: 2 },
          parameters: { user: 'u', database: 'd\u00e9' },
        }),
      'F\t29\tStartupMessage\t 3 2 "user" "u" "database" "d\u00e9"',
    ],
    ['SSLRequest', writeSSLRequest, 'F\t8\tSSLRequest\t 1234 5679'],
    ['GSSENCRequest', writeGSSENCRequest, 'F\t8\tGSSENCRequest\t 1234 5680'],
    [
      'CancelRequest',
      (w) => writeCancelRequest(w, 4321, bytes(1, 0x41, 0xff, 0)),
      "F\t16\tCancelRequest\t 1234 5678 4321 '\\x01\\x41\\xff\\x00'",
    ],
  ])('%s', (_name, write, expected) => {
    expect(frontend(write)).toEqual([expected]);
  });

  it('splits a chunk into messages and joins messages split across chunks', () => {
    const { lines, tracer } = tracing();
    const w = new Writer();
    writeParse(w, { query: 'SELECT 1' });
    writeBind(w, { parameters: [] });
    writeDescribe(w, 'P');
    writeExecute(w);
    writeSync(w);
    const all = w.toBytes();
    tracer.frontend(all.subarray(0, 3));
    expect(lines).toEqual([]);
    tracer.frontend(all.subarray(3, 20));
    tracer.frontend(all.subarray(20));
    expect(lines).toEqual([
      'F\t16\tParse\t "" "SELECT 1" 0',
      'F\t12\tBind\t "" "" 0 0 0',
      'F\t6\tDescribe\t P ""',
      'F\t9\tExecute\t "" 0',
      'F\t4\tSync',
    ]);
  });

  it('prints strings verbatim, newlines included, as libpq does', () => {
    expect(frontend((w) => writeQuery(w, 'SELECT\n  1'))).toEqual(['F\t15\tQuery\t "SELECT\n  1"']);
  });

  it('names unknown message types like libpq, and reports a length mismatch', () => {
    expect(frontend((w) => w.beginMessage(0x7a).finishMessage())).toEqual([
      'F\t4\tUnknown message: 7a',
    ]);
    expect(frontend((w) => w.beginMessage(0x53).int32(7).finishMessage())).toEqual([
      'F\t8\tSync',
      'mismatched message length: consumed 4, expected 8',
    ]);
  });
});

describe('createTracer: backend messages', () => {
  it.each<[string, BackendMessage, string]>([
    [
      'RowDescription',
      {
        type: 'RowDescription',
        fields: [textField('b')],
      },
      'B\t26\tRowDescription\t 1 "b" 0 0 25 65535 -1 0',
    ],
    [
      'DataRow',
      { type: 'DataRow', values: [text('1'), null, text('\u00e9\t'), text('')] },
      "B\t26\tDataRow\t 4 1 '1' -1 3 '\\xc3\\xa9\\x09' 0 ''",
    ],
    [
      'CommandComplete',
      { type: 'CommandComplete', commandTag: 'SELECT 1' },
      'B\t13\tCommandComplete\t "SELECT 1"',
    ],
    ['ReadyForQuery', { type: 'ReadyForQuery', transactionStatus: 'T' }, 'B\t5\tReadyForQuery\t T'],
    [
      'NotificationResponse',
      { type: 'NotificationResponse', processId: 77, channel: 'x', payload: 'p\u00e9' },
      'B\t14\tNotificationResponse\t 77 "x" "p\u00e9"',
    ],
    [
      'ParameterStatus',
      { type: 'ParameterStatus', name: 'TimeZone', value: 'UTC' },
      'B\t17\tParameterStatus\t "TimeZone" "UTC"',
    ],
    [
      'BackendKeyData',
      { type: 'BackendKeyData', processId: 77, secretKey: bytes(0, 1, 0xab, 0x20) },
      "B\t12\tBackendKeyData\t 77 '\\x00\\x01\\xab\\x20'",
    ],
    [
      'ParameterDescription',
      { type: 'ParameterDescription', parameterTypeOids: [23, 4294967295] },
      'B\t14\tParameterDescription\t 2 23 -1',
    ],
    [
      'NegotiateProtocolVersion',
      { type: 'NegotiateProtocolVersion', newestMinorVersion: 0, unrecognizedOptions: ['_pq_.x'] },
      'B\t19\tNegotiateProtocolVersion\t 196608 1 "_pq_.x"',
    ],
    ['ParseComplete', { type: 'ParseComplete' }, 'B\t4\tParseComplete'],
    ['BindComplete', { type: 'BindComplete' }, 'B\t4\tBindComplete'],
    ['CloseComplete', { type: 'CloseComplete' }, 'B\t4\tCloseComplete'],
    ['NoData', { type: 'NoData' }, 'B\t4\tNoData'],
    ['PortalSuspended', { type: 'PortalSuspended' }, 'B\t4\tPortalSuspended'],
    ['EmptyQueryResponse', { type: 'EmptyQueryResponse' }, 'B\t4\tEmptyQueryResponse'],
    ['CopyDone', { type: 'CopyDone' }, 'B\t4\tCopyDone'],
    ['CopyData', { type: 'CopyData', data: text('1\t2\n') }, "B\t8\tCopyData\t '1\\x092\\x0a'"],
    [
      'CopyOutResponse',
      { type: 'CopyOutResponse', overallFormat: 0, columnFormats: [0, 0] },
      'B\t11\tCopyOutResponse\t \\x00 2 0 0',
    ],
    [
      'CopyBothResponse',
      { type: 'CopyBothResponse', overallFormat: 0, columnFormats: [] },
      'B\t7\tCopyBothResponse\t \\x00 0',
    ],
    [
      'FunctionCallResponse',
      { type: 'FunctionCallResponse', result: text('t') },
      "B\t9\tFunctionCallResponse\t 1 't'",
    ],
    ['AuthenticationOk', { type: 'AuthenticationOk' }, 'B\t8\tAuthenticationOk'],
    [
      'AuthenticationSASL',
      { type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] },
      'B\t42\tAuthenticationSASL\t "SCRAM-SHA-256-PLUS" "SCRAM-SHA-256" ""',
    ],
    [
      'AuthenticationSASLContinue',
      { type: 'AuthenticationSASLContinue', data: text('r=abc,s=salt,i=4096') },
      `B\t27\tAuthenticationSASLContinue\t '${traceMask}'`,
    ],
    [
      'AuthenticationSASLFinal',
      { type: 'AuthenticationSASLFinal', data: text('v=proof') },
      `B\t15\tAuthenticationSASLFinal\t '${traceMask}'`,
    ],
    [
      'AuthenticationMD5Password',
      { type: 'AuthenticationMD5Password', salt: bytes(1, 2, 3, 4) },
      'B\t12\tAuthenticationMD5Password',
    ],
  ])('%s', (_name, message, expected) => {
    expect(backend(message)).toEqual([expected]);
  });

  it('keeps the fields of an ErrorResponse in the order the server sent them', () => {
    const w = new Writer();
    w.beginMessage(0x45);
    for (const [code, value] of [
      ['S', 'ERROR'],
      ['V', 'ERROR'],
      ['C', '42601'],
      ['M', 'syntax error at or near "SELEC"'],
      ['P', '1'],
      ['F', 'scan.l'],
      ['L', '1244'],
      ['R', 'scanner_yyerror'],
    ] as const) {
      w.uint8(code.charCodeAt(0)).cstring(value);
    }
    w.uint8(0).finishMessage();
    const decoder = new Decoder();
    decoder.push(w.toBytes());
    const message = decoder.next();
    if (message === null) throw new Error('no message');
    expect(backend(message)).toEqual([
      'B\t93\tErrorResponse\t S "ERROR" V "ERROR" C "42601" M "syntax error at or near "SELEC"" P "1" F "scan.l" L "1244" R "scanner_yyerror" \\x00',
    ]);
    expect(
      backend({ type: 'NoticeResponse', fields: { severity: 'NOTICE', unknown: { Z: 'z' } } }),
    ).toEqual(['B\t16\tNoticeResponse\t S "NOTICE" Z "z" \\x00']);
  });
});

describe('createTracer: secrets and options', () => {
  it('masks passwords and SASL data, telling the p messages apart by the request', () => {
    const { lines, tracer } = tracing();
    const send = (write: (w: Writer) => void) => {
      const w = new Writer();
      write(w);
      tracer.frontend(w.toBytes());
    };
    tracer.backend({ type: 'AuthenticationCleartextPassword' });
    send((w) => writePasswordMessage(w, 'hunter2'));
    tracer.backend({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] });
    send((w) => writeSASLInitialResponse(w, 'SCRAM-SHA-256', text('n,,n=,r=clientnonce')));
    tracer.backend({ type: 'AuthenticationSASLContinue', data: text('r=nonce,s=c2FsdA==,i=4096') });
    send((w) => writeSASLResponse(w, text('c=biws,r=nonce,p=proof')));
    tracer.backend({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] });
    send((w) => writeSASLInitialResponse(w, 'SCRAM-SHA-256', null));
    expect(lines).toEqual([
      'B\t8\tAuthenticationCleartextPassword',
      `F\t12\tPasswordMessage\t "${traceMask}"`,
      'B\t23\tAuthenticationSASL\t "SCRAM-SHA-256" ""',
      `F\t41\tSASLInitialResponse\t "SCRAM-SHA-256" 19 '${traceMask}'`,
      `B\t33\tAuthenticationSASLContinue\t '${traceMask}'`,
      `F\t26\tSASLResponse\t '${traceMask}'`,
      'B\t23\tAuthenticationSASL\t "SCRAM-SHA-256" ""',
      'F\t22\tSASLInitialResponse\t "SCRAM-SHA-256" -1',
    ]);
    const all = lines.join('\n');
    for (const secret of ['hunter2', 'nonce', 'proof', 'c2FsdA']) expect(all).not.toContain(secret);
  });

  it('does not guess what a p message without an Authentication request is', () => {
    expect(frontend((w) => writePasswordMessage(w, 'hunter2'))).toEqual([
      'F\t12\tUnknownAuthenticationResponse',
      'mismatched message length: consumed 4, expected 12',
    ]);
  });

  it('starts records with a local timestamp to the microsecond when asked', () => {
    const { lines, tracer } = tracing({ timestamps: true });
    const before = Date.now();
    tracer.backend({ type: 'NoData' });
    const after = Date.now();
    expect(lines).toHaveLength(1);
    const match = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})\tB\t4\tNoData$/.exec(
      lines[0] ?? '',
    );
    expect(match).not.toBeNull();
    const [, y, mo, d, h, mi, s, us] = (match ?? []).map(Number);
    const at = new Date(y!, mo! - 1, d, h, mi, s, Math.floor(us! / 1000)).getTime();
    expect(at).toBeGreaterThanOrEqual(before - 1);
    expect(at).toBeLessThanOrEqual(after + 1);
  });
});

describe('Connection.trace against the real server', () => {
  it('traces both ways until the returned function is called', async () => {
    const conn = await connectTest({ sslmode: 'disable' });
    try {
      const lines: string[] = [];
      const untrace = conn.trace((line) => lines.push(line));
      await conn.exec('SELECT 1');
      untrace();
      await conn.exec('SELECT 2');
      expect(lines).toEqual([
        'F\t13\tQuery\t "SELECT 1"',
        'B\t33\tRowDescription\t 1 "?column?" 0 0 23 4 -1 0',
        "B\t11\tDataRow\t 1 1 '1'",
        'B\t13\tCommandComplete\t "SELECT 1"',
        'B\t5\tReadyForQuery\t I',
      ]);
    } finally {
      await conn.close();
    }
  });
});

/** Replaces what differs from run to run: the backend pid of a notification. */
function normalize(line: string): string {
  return line.replace(/^(B\t\d+\tNotificationResponse\t )\d+/, '$1NNNN');
}

const helper = buildLibpqProgram('libpq-trace');

describe.skipIf('skip' in helper)(
  `trace against libpq's PQtrace${'skip' in helper ? ` (skipped: ${helper.skip})` : ''}`,
  () => {
    afterAll(() => {
      if ('dir' in helper) rmSync(helper.dir, { recursive: true, force: true });
    });

    /**
     * The one deliberate difference: for a query with parameters libpq's PQexecParams
     * sends one result format code (text) in Bind, where pqnotify's query() sends none,
     * which the protocol defines as all text. Same Parse, Describe('P'), Execute and Sync.
     */
    const libpqBind = 'F\t20\tBind\t "" "" 0 1 2 \'42\' 1 0';
    const pqnotifyBind = 'F\t18\tBind\t "" "" 0 1 2 \'42\' 0';

    it('writes the same records as libpq for the same commands', async () => {
      if (!('binary' in helper)) return;
      const traceFile = join(helper.dir, 'libpq.trace');
      const conninfo = new URL(server.url);
      conninfo.searchParams.set('sslmode', 'disable');
      const run = spawnSync(helper.binary, [conninfo.href, traceFile], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const libpq = readFileSync(traceFile, 'utf8').split('\n');
      expect(libpq.pop()).toBe('');

      const conn = await connectTest({ sslmode: 'disable' });
      const lines: string[] = [];
      try {
        conn.trace((line) => lines.push(line));
        await conn.exec("SELECT 1 AS a, NULL::text AS b, E'tab\\t\u00e9' AS c");
        await expect(conn.exec('SELEC 1')).rejects.toBeInstanceOf(ServerError);
        await conn.query('SELECT $1::int', ['42']);
        await conn.exec('LISTEN x');
        await conn.exec("SELECT pg_notify('x', 'payload')");
        expect(conn.notifies()).toMatchObject({ channel: 'x', payload: 'payload' });
      } finally {
        await conn.close();
      }
      const ours = lines.join('\n').split('\n');

      expect(libpq).toContain(libpqBind);
      expect(ours).toContain(pqnotifyBind);
      const comparable = (all: string[]) =>
        all.map(normalize).map((line) => (line === libpqBind ? pqnotifyBind : line));
      expect(comparable(ours)).toEqual(comparable(libpq));
    });
  },
);
