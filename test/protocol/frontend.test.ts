import { describe, expect, it } from 'vitest';
import {
  FrontendDecoder,
  type FrontendMessage,
  parsePasswordMessage,
  parseSASLInitialResponse,
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
  writeFrontendMessage,
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
import {
  byte,
  concat,
  decodeChunks,
  frame,
  i16,
  i32,
  packet,
  protocolError,
  raw,
  splits,
  str,
  utf8,
} from './support.js';

interface FrontendFixture {
  name: string;
  write: (w: Writer) => void;
  bytes: Uint8Array;
  message: FrontendMessage;
}

const text = (s: string) => new TextEncoder().encode(s);
const key32 = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

/** The startup packet that every typed-phase stream below begins with. */
const startup: FrontendFixture = {
  name: 'StartupMessage 3.2 with a _pq_ option',
  write: (w) =>
    writeStartupMessage(w, {
      protocolVersion: { major: 3, minor: 2 },
      parameters: { user: 'alice', database: 'db', _pq_x: '1', '_pq_.opt': 'on' },
    }),
  bytes: packet(
    i32(196610), // protocol 3.2
    str('user'),
    str('alice'),
    str('database'),
    str('db'),
    str('_pq_x'),
    str('1'),
    str('_pq_.opt'),
    str('on'),
    raw(0), // end of parameters
  ),
  message: {
    type: 'StartupMessage',
    protocolVersion: { major: 3, minor: 2 },
    parameters: { user: 'alice', database: 'db', _pq_x: '1', '_pq_.opt': 'on' },
  },
};

const startupPhase: FrontendFixture[] = [
  {
    name: 'StartupMessage 3.0 by default',
    write: (w) => writeStartupMessage(w, { parameters: { user: 'u' } }),
    // biome-ignore format: one field per line
    bytes: Uint8Array.from([
      0, 0, 0, 16, //        length
      0, 3, 0, 0, //         protocol 3.0 (196608)
      0x75, 0x73, 0x65, 0x72, 0, // 'user'
      0x75, 0, //            'u'
      0, //                  end of parameters
    ]),
    message: {
      type: 'StartupMessage',
      protocolVersion: { major: 3, minor: 0 },
      parameters: { user: 'u' },
    },
  },
  {
    name: 'SSLRequest',
    write: writeSSLRequest,
    bytes: Uint8Array.from([0, 0, 0, 8 /* length */, 0x04, 0xd2, 0x16, 0x2f /* 80877103 */]),
    message: { type: 'SSLRequest' },
  },
  {
    name: 'GSSENCRequest',
    write: writeGSSENCRequest,
    bytes: packet(i32(80877104)),
    message: { type: 'GSSENCRequest' },
  },
  {
    name: 'CancelRequest with a 4-byte key',
    write: (w) => writeCancelRequest(w, 1234, Uint8Array.of(1, 2, 3, 4)),
    bytes: packet(i32(80877102) /* code */, i32(1234) /* processId */, raw(1, 2, 3, 4) /* key */),
    message: { type: 'CancelRequest', processId: 1234, secretKey: Uint8Array.of(1, 2, 3, 4) },
  },
  {
    name: 'CancelRequest with a 32-byte key (protocol 3.2)',
    write: (w) => writeCancelRequest(w, 77, key32),
    bytes: packet(i32(80877102), i32(77), raw(...key32)),
    message: { type: 'CancelRequest', processId: 77, secretKey: key32 },
  },
  startup,
];

const typedPhase: FrontendFixture[] = [
  {
    name: 'Query',
    write: (w) => writeQuery(w, 'LISTEN "événements"'),
    bytes: frame('Q', str('LISTEN "événements"')),
    message: { type: 'Query', query: 'LISTEN "événements"' },
  },
  {
    name: 'PasswordMessage',
    write: (w) => writePasswordMessage(w, 'md5abc'),
    bytes: frame('p', str('md5abc')),
    message: { type: 'PasswordMessage', data: Uint8Array.from(str('md5abc')) },
  },
  {
    name: 'SASLInitialResponse',
    write: (w) => writeSASLInitialResponse(w, 'SCRAM-SHA-256', text('n,,n=,r=abc')),
    bytes: frame('p', str('SCRAM-SHA-256'), i32(11), utf8('n,,n=,r=abc')),
    message: {
      type: 'PasswordMessage',
      data: Uint8Array.from([...str('SCRAM-SHA-256'), ...i32(11), ...utf8('n,,n=,r=abc')]),
    },
  },
  {
    name: 'SASLInitialResponse without data',
    write: (w) => writeSASLInitialResponse(w, 'X', null),
    bytes: frame('p', str('X'), i32(-1)),
    message: { type: 'PasswordMessage', data: Uint8Array.from([...str('X'), ...i32(-1)]) },
  },
  {
    name: 'SASLResponse',
    write: (w) => writeSASLResponse(w, text('c=biws,r=abc,p=xyz')),
    bytes: frame('p', utf8('c=biws,r=abc,p=xyz')),
    message: { type: 'PasswordMessage', data: text('c=biws,r=abc,p=xyz') },
  },
  {
    name: 'Parse',
    write: (w) => writeParse(w, { name: 's1', query: 'SELECT $1, $2', parameterTypeOids: [23, 0] }),
    bytes: frame('P', str('s1'), str('SELECT $1, $2'), i16(2), i32(23), i32(0)),
    message: { type: 'Parse', name: 's1', query: 'SELECT $1, $2', parameterTypeOids: [23, 0] },
  },
  {
    name: 'Parse with defaults',
    write: (w) => writeParse(w, { query: 'SELECT 1' }),
    bytes: frame('P', str(''), str('SELECT 1'), i16(0)),
    message: { type: 'Parse', name: '', query: 'SELECT 1', parameterTypeOids: [] },
  },
  {
    name: 'Bind with text parameters',
    write: (w) => writeBind(w, { parameters: ['42', null, 'é'] }),
    bytes: frame(
      'B',
      str(''), // portal
      str(''), // statement
      i16(0), // no format codes: all text
      i16(3), // parameter count
      i32(2),
      utf8('42'),
      i32(-1), // NULL
      i32(2),
      utf8('é'),
      i16(0), // no result format codes
    ),
    message: {
      type: 'Bind',
      portal: '',
      statement: '',
      parameterFormats: [],
      parameters: [text('42'), null, text('é')],
      resultFormats: [],
    },
  },
  {
    name: 'Bind with a binary parameter and explicit names',
    write: (w) =>
      writeBind(w, {
        portal: 'p',
        statement: 's',
        parameters: ['1', Uint8Array.of(0, 0, 0, 1)],
        resultFormats: [1],
      }),
    bytes: frame(
      'B',
      str('p'),
      str('s'),
      i16(2), // one format per parameter
      i16(0), // text
      i16(1), // binary
      i16(2),
      i32(1),
      utf8('1'),
      i32(4),
      raw(0, 0, 0, 1),
      i16(1),
      i16(1), // binary results
    ),
    message: {
      type: 'Bind',
      portal: 'p',
      statement: 's',
      parameterFormats: [0, 1],
      parameters: [text('1'), Uint8Array.of(0, 0, 0, 1)],
      resultFormats: [1],
    },
  },
  {
    name: 'Describe portal',
    write: (w) => writeDescribe(w, 'P'),
    bytes: frame('D', byte('P'), str('')),
    message: { type: 'Describe', kind: 'P', name: '' },
  },
  {
    name: 'Describe statement',
    write: (w) => writeDescribe(w, 'S', 's1'),
    bytes: frame('D', byte('S'), str('s1')),
    message: { type: 'Describe', kind: 'S', name: 's1' },
  },
  {
    name: 'Execute',
    write: (w) => writeExecute(w),
    bytes: frame('E', str(''), i32(0)),
    message: { type: 'Execute', portal: '', maxRows: 0 },
  },
  {
    name: 'Execute with a row limit',
    write: (w) => writeExecute(w, 'c', 100),
    bytes: frame('E', str('c'), i32(100)),
    message: { type: 'Execute', portal: 'c', maxRows: 100 },
  },
  {
    name: 'Sync',
    write: writeSync,
    bytes: Uint8Array.from([0x53 /* 'S' */, 0, 0, 0, 4 /* length */]),
    message: { type: 'Sync' },
  },
  { name: 'Flush', write: writeFlush, bytes: frame('H'), message: { type: 'Flush' } },
  {
    name: 'Close',
    write: (w) => writeClose(w, 'S', 's1'),
    bytes: frame('C', byte('S'), str('s1')),
    message: { type: 'Close', kind: 'S', name: 's1' },
  },
  {
    name: 'CopyData',
    write: (w) => writeCopyData(w, Uint8Array.of(1, 2, 3)),
    bytes: frame('d', raw(1, 2, 3)),
    message: { type: 'CopyData', data: Uint8Array.of(1, 2, 3) },
  },
  { name: 'CopyDone', write: writeCopyDone, bytes: frame('c'), message: { type: 'CopyDone' } },
  {
    name: 'CopyFail',
    write: (w) => writeCopyFail(w, 'cancelled'),
    bytes: frame('f', str('cancelled')),
    message: { type: 'CopyFail', message: 'cancelled' },
  },
  {
    name: 'FunctionCall',
    write: (w) =>
      writeFunctionCall(w, { functionOid: 1598, arguments: ['x', null], argumentFormats: [0] }),
    bytes: frame(
      'F',
      i32(1598), // function OID
      i16(1),
      i16(0), // argument formats
      i16(2),
      i32(1),
      utf8('x'),
      i32(-1),
      i16(0), // result format
    ),
    message: {
      type: 'FunctionCall',
      functionOid: 1598,
      argumentFormats: [0],
      arguments: [text('x'), null],
      resultFormat: 0,
    },
  },
  { name: 'Terminate', write: writeTerminate, bytes: frame('X'), message: { type: 'Terminate' } },
];

function decodeAll(chunks: Iterable<Uint8Array>): FrontendMessage[] {
  const decoder = new FrontendDecoder();
  const messages = decodeChunks(decoder, chunks);
  expect(decoder.bufferedBytes).toBe(0);
  return messages;
}

describe('frontend fixtures', () => {
  for (const fixture of [...startupPhase, ...typedPhase]) {
    const typed = typedPhase.includes(fixture);
    const prefix = typed ? startup.bytes : new Uint8Array(0);
    const expected = typed ? [startup.message, fixture.message] : [fixture.message];

    describe(fixture.name, () => {
      it('encodes to the expected bytes', () => {
        const w = new Writer(8);
        fixture.write(w);
        expect(w.toBytes()).toEqual(fixture.bytes);
      });

      it('decodes to the expected message', () => {
        expect(decodeAll([prefix, fixture.bytes])).toEqual(expected);
      });

      it('round-trips through writeFrontendMessage', () => {
        const w = new Writer();
        writeFrontendMessage(w, fixture.message);
        expect(w.toBytes()).toEqual(fixture.bytes);
      });

      it('decodes the same when split at every offset and one byte at a time', () => {
        for (const { how, chunks } of splits(concat(prefix, fixture.bytes))) {
          expect(decodeAll(chunks), how).toEqual(expected);
        }
      });
    });
  }
});

describe('FrontendDecoder', () => {
  it('stays in the startup phase across SSLRequest and GSSENCRequest', () => {
    const stream = concat(
      packet(i32(80877103)),
      packet(i32(80877104)),
      startup.bytes,
      ...typedPhase.map((f) => f.bytes),
    );
    const expected = [
      { type: 'SSLRequest' },
      { type: 'GSSENCRequest' },
      startup.message,
      ...typedPhase.map((f) => f.message),
    ];
    expect(expected.length).toBeGreaterThanOrEqual(20);
    for (const { how, chunks } of splits(stream)) expect(decodeAll(chunks), how).toEqual(expected);
  });

  it('reports the phase', () => {
    const decoder = new FrontendDecoder();
    expect(decoder.inStartupPhase).toBe(true);
    decoder.push(startup.bytes);
    decoder.next();
    expect(decoder.inStartupPhase).toBe(false);
  });

  it('rejects an unknown request code or protocol version', () => {
    for (const code of [80877105, 2 << 16, 4 << 16]) {
      const decoder = new FrontendDecoder();
      decoder.push(packet(i32(code), raw(0)));
      const error = protocolError(() => decoder.next());
      expect(error.offset).toBe(4);
      expect(error.message).toMatch(/startup packet: unsupported protocol version or request code/);
    }
  });

  it('rejects a startup packet with trailing bytes or a missing terminator', () => {
    const trailing = new FrontendDecoder();
    trailing.push(packet(i32(80877103), raw(0)));
    expect(protocolError(() => trailing.next()).offset).toBe(8);
    const unterminated = new FrontendDecoder();
    unterminated.push(packet(i32(196608), str('user'), str('u')));
    expect(protocolError(() => unterminated.next()).message).toMatch(/NUL terminator/);
  });

  it('rejects a startup packet length below 4', () => {
    const decoder = new FrontendDecoder();
    decoder.push(Uint8Array.of(0, 0, 0, 2));
    expect(protocolError(() => decoder.next()).offset).toBe(0);
  });

  it('rejects backend-only type bytes and a bad Describe target after startup', () => {
    const unknown = new FrontendDecoder();
    unknown.push(concat(startup.bytes, frame('Z', byte('I'))));
    unknown.next();
    expect(protocolError(() => unknown.next()).offset).toBe(startup.bytes.length);
    const describe = new FrontendDecoder();
    describe.push(concat(startup.bytes, frame('D', byte('X'), str(''))));
    describe.next();
    expect(protocolError(() => describe.next()).message).toMatch(/Describe: expected 'S' or 'P'/);
  });
});

describe('PasswordMessage helpers', () => {
  it('reads a password', () => {
    expect(parsePasswordMessage(Uint8Array.from(str('sécret')))).toBe('sécret');
  });

  it('reads a SASLInitialResponse with and without data', () => {
    expect(
      parseSASLInitialResponse(Uint8Array.from([...str('SCRAM-SHA-256'), ...i32(2), 0x61, 0x62])),
    ).toEqual({ mechanism: 'SCRAM-SHA-256', data: text('ab') });
    expect(parseSASLInitialResponse(Uint8Array.from([...str('M'), ...i32(-1)]))).toEqual({
      mechanism: 'M',
      data: null,
    });
  });

  it('rejects malformed bodies with offsets from the start of the data', () => {
    const leftover = protocolError(() => parsePasswordMessage(Uint8Array.from([0x61, 0, 0x62])));
    expect(leftover.offset).toBe(2);
    expect(leftover.message).toMatch(/PasswordMessage: 1 bytes left over/);
    const short = protocolError(() =>
      parseSASLInitialResponse(Uint8Array.from([...str('M'), ...i32(5), 1])),
    );
    expect(short.offset).toBe(6);
    expect(short.message).toMatch(/SASLInitialResponse: body too short/);
  });
});

describe('frontend encoder checks', () => {
  it('rejects keys, names and versions the format cannot carry, writing nothing', () => {
    const w = new Writer();
    expect(() => writeCancelRequest(w, 1, new Uint8Array(3))).toThrow(RangeError);
    expect(() => writeCancelRequest(w, 1, new Uint8Array(257))).toThrow(RangeError);
    expect(() => writeStartupMessage(w, { parameters: { '': 'x' } })).toThrow(RangeError);
    expect(() =>
      writeStartupMessage(w, { protocolVersion: { major: 3, minor: 70000 }, parameters: {} }),
    ).toThrow(RangeError);
    expect(() => writeDescribe(w, 'X' as 'S')).toThrow(RangeError);
    expect(() => writeClose(w, 'Q' as 'P')).toThrow(RangeError);
    expect(() =>
      writeFrontendMessage(w, {
        type: 'StartupMessage',
        protocolVersion: { major: 2, minor: 0 },
        parameters: {},
      }),
    ).toThrow(RangeError);
    expect(() => writeQuery(w, 'SELECT 1\0')).toThrow(TypeError);
    expect(() => writeStartupMessage(w, { parameters: { user: 'a\0b' } })).toThrow(TypeError);
    expect(w.length).toBe(0);
  });

  it('asks for other minor versions when told to', () => {
    const w = new Writer();
    writeStartupMessage(w, { protocolVersion: { major: 3, minor: 9 }, parameters: {} });
    const decoder = new FrontendDecoder();
    decoder.push(w.toBytes());
    expect(decoder.next()).toEqual({
      type: 'StartupMessage',
      protocolVersion: { major: 3, minor: 9 },
      parameters: {},
    });
  });

  it('keeps a parameter named __proto__ as an ordinary key', () => {
    const decoder = new FrontendDecoder();
    decoder.push(packet(i32(196608), str('__proto__'), str('x'), raw(0)));
    const m = decoder.next();
    expect(m?.type === 'StartupMessage' && Object.entries(m.parameters)).toEqual([
      ['__proto__', 'x'],
    ]);
  });
});
