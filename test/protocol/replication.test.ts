/**
 * The replication codec: CopyData payloads of a walsender (XLogData, keepalive), pgoutput's
 * messages inside XLogData, and the standby status update. Byte-exact fixtures, round trips,
 * every split of a stream of CopyData frames, and a seeded fuzz pass.
 */
import { describe, expect, it } from 'vitest';
import {
  type BackendMessage,
  Decoder,
  dateToPgTimestamp,
  decodePgoutputMessage,
  decodeReplicationMessage,
  decodeStandbyStatusUpdate,
  encodePgoutputMessage,
  formatLsn,
  type PgoutputMessageUnion,
  ProtocolError,
  parseLsn,
  pgTimestampToDate,
  type ReplicationMessage,
  Writer,
  writeReplicationMessage,
  writeStandbyStatusUpdate,
} from '../../src/protocol/index.js';
import {
  byte,
  concat,
  decodeChunks,
  frame,
  i16,
  i32,
  prng,
  protocolError,
  raw,
  splits,
  str,
  utf8,
} from './support.js';

/** A big-endian Int64 from two Int32 halves. */
function i64(high: number, low: number): number[] {
  return [...i32(high), ...i32(low)];
}

/** A bare body (no header), like the payload of a CopyData. */
function body(...parts: (readonly number[])[]): Uint8Array {
  return Uint8Array.from(parts.flat());
}

/** A CopyData frame around `payload`. */
function copyData(payload: Uint8Array): Uint8Array {
  return frame('d', Array.from(payload));
}

const messageContent = utf8('{"id":1}');

/** pgoutput fixtures: the message, and its bytes spelled out field by field. */
const pgoutputFixtures: { name: string; message: PgoutputMessageUnion; bytes: Uint8Array }[] = [
  {
    name: 'Begin',
    message: { type: 'Begin', finalLsn: 0x1_6b374d48n, commitTime: 0x0002_c0ffee00n, xid: 748 },
    bytes: body(
      byte('B'),
      i64(0x1, 0x6b374d48), // final LSN 1/6B374D48
      i64(0x2, 0xc0ffee00 | 0), // commit time (µs since 2000-01-01)
      i32(748), // xid
    ),
  },
  {
    name: 'Commit',
    message: {
      type: 'Commit',
      flags: 0,
      commitLsn: 0x1_6b374d48n,
      endLsn: 0x1_6b374d78n,
      commitTime: 0x0002_c0ffee00n,
    },
    bytes: body(
      byte('C'),
      byte(0), // flags
      i64(0x1, 0x6b374d48), // commit LSN
      i64(0x1, 0x6b374d78), // end LSN
      i64(0x2, 0xc0ffee00 | 0), // commit time
    ),
  },
  {
    name: 'Message (transactional)',
    message: {
      type: 'Message',
      transactional: true,
      lsn: 0x1_6b374c00n,
      prefix: 'pqnotify:orders',
      content: Uint8Array.from(messageContent),
    },
    bytes: body(
      byte('M'),
      byte(1), // flags: transactional
      i64(0x1, 0x6b374c00), // message LSN
      str('pqnotify:orders'), // prefix
      i32(messageContent.length), // content length
      messageContent, // content
    ),
  },
  {
    name: 'Message (empty, not transactional, binary prefix text)',
    message: {
      type: 'Message',
      transactional: false,
      lsn: 0n,
      prefix: 'é',
      content: new Uint8Array(0),
    },
    bytes: body(byte('M'), byte(0), i64(0, 0), str('é'), i32(0)),
  },
  {
    name: 'Relation',
    message: {
      type: 'Relation',
      relationOid: 16384,
      namespace: 'public',
      relationName: 'orders',
      replicaIdentity: 0x64,
      columns: [
        { flags: 1, name: 'id', dataTypeOid: 23, typeModifier: -1 },
        { flags: 0, name: 'note', dataTypeOid: 25, typeModifier: -1 },
      ],
    },
    bytes: body(
      byte('R'),
      i32(16384), // relation OID
      str('public'), // namespace
      str('orders'), // relation name
      byte('d'), // replica identity: default
      i16(2), // column count
      byte(1), // column 1 flags: key
      str('id'),
      i32(23), // int4
      i32(-1), // typmod
      byte(0), // column 2 flags
      str('note'),
      i32(25), // text
      i32(-1),
    ),
  },
  { name: 'Insert (skipped)', message: { type: 'Other', tag: 0x49 }, bytes: body(byte('I')) },
];

/** Walsender fixtures: the CopyData body, field by field. */
const replicationFixtures: { name: string; message: ReplicationMessage; bytes: Uint8Array }[] = [
  {
    name: 'XLogData',
    message: {
      type: 'XLogData',
      walStart: 0x1_6b374c00n,
      walEnd: 0x1_6b374e00n,
      sendTime: 0x0002_c0ffee01n,
      data: pgoutputFixtures[2]!.bytes,
    },
    bytes: body(
      byte('w'),
      i64(0x1, 0x6b374c00), // WAL start
      i64(0x1, 0x6b374e00), // WAL end
      i64(0x2, 0xc0ffee01 | 0), // send time
      Array.from(pgoutputFixtures[2]!.bytes), // data: a pgoutput Message
    ),
  },
  {
    name: 'PrimaryKeepalive (reply requested)',
    message: {
      type: 'PrimaryKeepalive',
      walEnd: 0x1_6b374e00n,
      sendTime: 5n,
      replyRequested: true,
    },
    bytes: body(byte('k'), i64(0x1, 0x6b374e00), i64(0, 5), byte(1)),
  },
  {
    name: 'PrimaryKeepalive (negative send time)',
    message: { type: 'PrimaryKeepalive', walEnd: 0n, sendTime: -1n, replyRequested: false },
    bytes: body(byte('k'), i64(0, 0), i64(-1, -1), byte(0)),
  },
];

describe('pgoutput messages', () => {
  for (const fixture of pgoutputFixtures) {
    it(`${fixture.name}: decodes the literal bytes and encodes back to them`, () => {
      expect(decodePgoutputMessage(fixture.bytes)).toEqual(fixture.message);
      if (fixture.message.type !== 'Other') {
        expect(encodePgoutputMessage(fixture.message)).toEqual(fixture.bytes);
      }
    });
  }

  it('skips every row-change message by its tag', () => {
    for (const tag of 'IUDTYO') {
      expect(decodePgoutputMessage(body(byte(tag), i32(1), raw(0x4e)))).toEqual({
        type: 'Other',
        tag: tag.charCodeAt(0),
      });
    }
  });

  it('the decoded content is a copy: changing the input later changes nothing', () => {
    const bytes = pgoutputFixtures[2]!.bytes.slice();
    const message = decodePgoutputMessage(bytes);
    bytes.fill(0);
    expect(message).toEqual(pgoutputFixtures[2]!.message);
  });

  it('rejects malformed bodies with a ProtocolError at the right offset', () => {
    expect(protocolError(() => decodePgoutputMessage(body(byte('Z')))).message).toMatch(
      /unknown message tag 0x5a \(at byte 0\)/,
    );
    expect(protocolError(() => decodePgoutputMessage(body(byte('B'), i32(1)))).offset).toBe(5);
    // A prefix without its NUL: the scan stops at the end of the body.
    expect(
      protocolError(() => decodePgoutputMessage(body(byte('M'), byte(1), i64(0, 1), utf8('abc'))))
        .message,
    ).toMatch(/without its NUL/);
    // A content length longer than the body.
    expect(
      protocolError(() =>
        decodePgoutputMessage(body(byte('M'), byte(1), i64(0, 1), str('p'), i32(5), raw(1, 2))),
      ).message,
    ).toMatch(/body too short/);
    expect(
      protocolError(() =>
        decodePgoutputMessage(body(byte('M'), byte(1), i64(0, 1), str('p'), i32(-3))),
      ).message,
    ).toMatch(/negative length/);
    expect(
      protocolError(() =>
        decodePgoutputMessage(body(byte('M'), byte(2), i64(0, 1), str('p'), i32(0))),
      ).offset,
    ).toBe(1);
    // Leftover bytes after a Commit.
    expect(
      protocolError(() => decodePgoutputMessage(concat(pgoutputFixtures[1]!.bytes, body(raw(0)))))
        .message,
    ).toMatch(/1 bytes left over/);
    // A Relation whose column count cannot fit.
    expect(
      protocolError(() =>
        decodePgoutputMessage(body(byte('R'), i32(1), str(''), str('t'), byte('d'), i16(100))),
      ).message,
    ).toMatch(/count 100 does not fit/);
  });
});

describe('walsender messages in CopyData', () => {
  for (const fixture of replicationFixtures) {
    it(`${fixture.name}: decodes the literal bytes and encodes back to them as CopyData`, () => {
      expect(decodeReplicationMessage(fixture.bytes)).toEqual(fixture.message);
      const w = new Writer();
      writeReplicationMessage(w, fixture.message);
      expect(w.toBytes()).toEqual(copyData(fixture.bytes));
    });
  }

  it('rejects an unknown type, a short body, a bad flag and leftovers', () => {
    expect(protocolError(() => decodeReplicationMessage(body(byte('x')))).message).toMatch(
      /replication message: unknown message type 0x78/,
    );
    expect(protocolError(() => decodeReplicationMessage(body(byte('w'), i64(0, 1)))).offset).toBe(
      9,
    );
    expect(protocolError(() => decodeReplicationMessage(body())).offset).toBe(0);
    expect(
      protocolError(() => decodeReplicationMessage(body(byte('k'), i64(0, 1), i64(0, 1), byte(2))))
        .offset,
    ).toBe(17);
    expect(
      protocolError(() =>
        decodeReplicationMessage(body(byte('k'), i64(0, 1), i64(0, 1), byte(0), byte(0))),
      ).message,
    ).toMatch(/left over/);
  });

  it('a keepalive with an LSN above 2^63 keeps every bit', () => {
    const message = decodeReplicationMessage(body(byte('k'), i64(-1, -2), i64(0, 0), byte(0)));
    expect(message).toMatchObject({ walEnd: 0xffff_ffff_ffff_fffen });
  });

  it('every cut of a stream of CopyData frames decodes to the same messages', () => {
    const frames = [
      ...replicationFixtures.map((f) => copyData(f.bytes)),
      copyData(replicationFixtures[0]!.bytes),
    ];
    const expected = [
      ...replicationFixtures.map((f) => f.message),
      replicationFixtures[0]!.message,
    ];
    const stream = concat(...frames);
    for (const { how, chunks } of splits(stream)) {
      const decoder = new Decoder();
      const copies = decodeChunks<BackendMessage>(decoder, chunks);
      expect(decoder.bufferedBytes, how).toBe(0);
      const decoded = copies.map((m) => {
        if (m.type !== 'CopyData') throw new Error(`${how}: got ${m.type}`);
        return decodeReplicationMessage(m.data);
      });
      expect(decoded, how).toEqual(expected);
      // The XLogData's pgoutput Message decodes too, whatever the cut.
      const first = decoded[0]!;
      if (first.type !== 'XLogData') throw new Error('expected XLogData');
      expect(decodePgoutputMessage(first.data), how).toEqual(pgoutputFixtures[2]!.message);
    }
  });
});

describe('standby status update', () => {
  const update = {
    written: 0x1_6b374e00n,
    flushed: 0x1_6b374d78n,
    applied: 0x1_6b374d78n,
    clientTime: 0x0002_c0ffee02n,
    replyRequested: false,
  };
  const bytes = frame(
    'd',
    byte('r'),
    i64(0x1, 0x6b374e00), // written
    i64(0x1, 0x6b374d78), // flushed
    i64(0x1, 0x6b374d78), // applied
    i64(0x2, 0xc0ffee02 | 0), // client time
    byte(0), // no reply requested
  );

  it('encodes to the literal CopyData frame and decodes back', () => {
    const w = new Writer();
    writeStandbyStatusUpdate(w, update);
    expect(w.toBytes()).toEqual(bytes);
    expect(decodeStandbyStatusUpdate(bytes.subarray(5))).toEqual({
      type: 'StandbyStatusUpdate',
      ...update,
    });
  });

  it('an out-of-range LSN throws RangeError and leaves earlier messages whole', () => {
    const w = new Writer();
    writeStandbyStatusUpdate(w, update);
    expect(() => writeStandbyStatusUpdate(w, { ...update, flushed: 1n << 64n })).toThrow(
      RangeError,
    );
    expect(() => writeStandbyStatusUpdate(w, { ...update, written: -1n })).not.toThrow();
    expect(w.toBytes().subarray(0, bytes.length)).toEqual(bytes);
    expect(w.length).toBe(bytes.length * 2);
  });

  it('rejects another type and leftovers', () => {
    expect(protocolError(() => decodeStandbyStatusUpdate(body(byte('k')))).offset).toBe(0);
    expect(
      protocolError(() => decodeStandbyStatusUpdate(concat(bytes.subarray(5), body(raw(0)))))
        .message,
    ).toMatch(/left over/);
  });
});

describe('LSN and timestamp helpers', () => {
  it('formats and parses the pg_lsn text form', () => {
    expect(formatLsn(0x16_b374d848n)).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
    expect(parseLsn('16/b374d848')).toBe(0x16_b374d848n);
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe((1n << 64n) - 1n);
    for (const bad of ['', '1', '1/', '/1', '1/2/3', 'x/1', '123456789/0']) {
      expect(() => parseLsn(bad), bad).toThrow(RangeError);
    }
  });

  it('converts TimestampTz to and from Date', () => {
    expect(pgTimestampToDate(0n).toISOString()).toBe('2000-01-01T00:00:00.000Z');
    const date = new Date('2026-11-30T04:00:00.123Z');
    expect(pgTimestampToDate(dateToPgTimestamp(date))).toEqual(date);
  });
});

describe('fuzz: the replication decoders only return or throw ProtocolError', () => {
  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ['decodeReplicationMessage', decodeReplicationMessage],
    ['decodePgoutputMessage', decodePgoutputMessage],
    ['decodeStandbyStatusUpdate', decodeStandbyStatusUpdate],
  ];
  const valid = [
    ...pgoutputFixtures.map((f) => f.bytes),
    ...replicationFixtures.map((f) => f.bytes),
  ];

  for (const [name, decode] of decoders) {
    it(name, () => {
      const random = prng(name.length * 7919);
      let errors = 0;
      for (let round = 0; round < 20_000; round++) {
        let input: Uint8Array;
        if (round % 2 === 0) {
          input = Uint8Array.from({ length: Math.floor(random() * 48) }, () =>
            Math.floor(random() * 256),
          );
          if (input.length > 0 && round % 4 === 0) {
            // Start with a valid tag, so the field readers are reached.
            input[0] = 'wkBCMRr'.charCodeAt(Math.floor(random() * 7));
          }
        } else {
          const base = Array.from(valid[Math.floor(random() * valid.length)]!);
          const at = Math.floor(random() * base.length);
          const edit = Math.floor(random() * 3);
          if (edit === 0) base[at] = Math.floor(random() * 256);
          else if (edit === 1) base.splice(at, 1);
          else base.splice(at, 0, Math.floor(random() * 256));
          input = Uint8Array.from(base);
        }
        try {
          decode(input);
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
          if (error.offset < 0 || error.offset > input.length) {
            throw new Error(`offset ${error.offset} outside an input of ${input.length} bytes`);
          }
          errors++;
        }
      }
      expect(errors).toBeGreaterThan(0);
    });
  }
});
