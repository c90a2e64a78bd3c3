import { describe, expect, it } from 'vitest';
import {
  backendMessageLimits,
  Decoder,
  defaultMaxMessageSize,
  type ProtocolError,
} from '../../src/protocol/index.js';
import { byte, concat, frame, i16, i32, protocolError, raw, str } from './support.js';

/** Decodes `bytes` (one chunk) to the end and returns the ProtocolError it must raise. */
function errorOf(bytes: Uint8Array, decoder = new Decoder()): ProtocolError {
  decoder.push(bytes);
  return protocolError(() => {
    while (decoder.next() !== null);
  });
}

const ready = frame('Z', byte('I')); // 6 bytes, to shift the offsets of what follows

describe('Decoder header errors', () => {
  it('rejects a length below 4, at the length field', () => {
    const error = errorOf(concat(ready, Uint8Array.of(0x43, 0, 0, 0, 3)));
    expect(error.offset).toBe(7);
    expect(error.message).toMatch(/length 3 is below the minimum of 4/);
  });

  it('rejects a negative length', () => {
    const error = errorOf(Uint8Array.of(0x44, 0xff, 0xff, 0xff, 0xfe));
    expect(error.offset).toBe(1);
    expect(error.message).toMatch(/length -2/);
  });

  it('rejects a length above maxMessageSize from the header alone, before the body', () => {
    const decoder = new Decoder();
    // 1 GiB announced; only the 5-byte header has arrived.
    decoder.push(Uint8Array.of(0x44, ...i32(1 << 30)));
    const error = protocolError(() => decoder.next());
    expect(error.offset).toBe(1);
    expect(error.message).toMatch(/exceeds maxMessageSize 268435456/);
    expect(defaultMaxMessageSize).toBe(256 * 1024 * 1024);
  });

  it('rejects a NotificationResponse longer than a server can send, from the header alone', () => {
    const limit = backendMessageLimits.NotificationResponse ?? 0;
    expect(limit).toBe(32258);
    // A notification whose length grew by 16 MiB: caught at once, not after 16 MiB more input.
    const body = [...i32(1), ...str('chan'), ...str('payload')];
    const decoder = new Decoder();
    decoder.push(ready);
    decoder.push(Uint8Array.of(0x41, ...i32(4 + body.length + (1 << 24)), ...body));
    expect(decoder.next()).toEqual({ type: 'ReadyForQuery', transactionStatus: 'I' });
    const error = protocolError(() => decoder.next());
    expect(error.offset).toBe(ready.length + 1);
    expect(error.message).toMatch(/NotificationResponse length \d+ exceeds 32258/);
    // The same from scan / nextNotification: the count stops, the read throws.
    const counting = new Decoder();
    counting.push(Uint8Array.of(0x41, ...i32(limit + 1)));
    expect(counting.scan(0)).toEqual({ count: 0, end: 0, blocked: true });
    expect(() => counting.nextNotification()).toThrow(/exceeds 32258/);
    // The largest a server can send is accepted.
    const largest = new Decoder();
    const payload = 'é'.repeat(15_998);
    largest.push(frame('A', i32(2), str('c'.repeat(252)), str(payload)));
    expect(largest.next()).toMatchObject({ type: 'NotificationResponse', payload });
  });

  it('keeps maxMessageSize for DataRow, CopyData and notices', () => {
    const decoder = new Decoder();
    decoder.push(Uint8Array.of(0x44, ...i32(1 << 26)));
    expect(decoder.next()).toBeNull();
    const notice = new Decoder();
    notice.push(Uint8Array.of(0x4e, ...i32(1 << 26)));
    expect(notice.next()).toBeNull();
  });

  it('checks the length when the header itself arrives in pieces', () => {
    const decoder = new Decoder({ maxMessageSize: 100 });
    decoder.push(ready);
    decoder.push(Uint8Array.of(0x44, 0));
    expect(decoder.next()).toEqual({ type: 'ReadyForQuery', transactionStatus: 'I' });
    expect(decoder.next()).toBeNull();
    decoder.push(Uint8Array.of(0, 0));
    expect(decoder.next()).toBeNull();
    decoder.push(Uint8Array.of(101));
    const error = protocolError(() => decoder.next());
    expect(error.offset).toBe(7);
    expect(error.message).toMatch(/101 exceeds maxMessageSize 100/);
  });

  it('accepts a length equal to maxMessageSize', () => {
    const decoder = new Decoder({ maxMessageSize: 9 });
    decoder.push(frame('C', str('abcd')));
    expect(decoder.next()).toEqual({ type: 'CommandComplete', commandTag: 'abcd' });
  });

  it('sets nothing aside for an announced size before its bytes arrive', () => {
    const decoder = new Decoder({ maxMessageSize: 0x7fffffff });
    const before = process.memoryUsage().arrayBuffers;
    decoder.push(Uint8Array.of(0x64, ...i32(0x7ffffff0), 1, 2, 3));
    expect(decoder.next()).toBeNull();
    expect(decoder.bufferedBytes).toBe(8);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });

  it('rejects an unknown type byte as soon as it arrives', () => {
    const decoder = new Decoder();
    decoder.push(ready);
    decoder.push(Uint8Array.of(0x78)); // 'x', with no length yet
    expect(decoder.next()).not.toBeNull();
    const error = protocolError(() => decoder.next());
    expect(error.offset).toBe(6);
    expect(error.message).toMatch(/unknown message type 0x78/);
  });

  it('rejects a frontend-only type byte', () => {
    expect(errorOf(frame('Q', str('SELECT 1'))).message).toMatch(/unknown message type 0x51/);
  });

  it('rejects a zero byte where a type is expected', () => {
    expect(errorOf(Uint8Array.of(0, 0, 0, 0, 4)).offset).toBe(0);
  });
});

describe('Decoder body errors', () => {
  const cases: Array<{ name: string; bytes: Uint8Array; offset: number; match: RegExp }> = [
    {
      name: 'string without its terminator inside the frame',
      // The NUL right after the frame must not count.
      bytes: concat(frame('C', raw(0x61, 0x62)), Uint8Array.of(0)),
      offset: 5,
      match: /CommandComplete: string without its NUL terminator/,
    },
    {
      name: 'channel without its terminator',
      bytes: frame('A', i32(1), raw(0x61, 0x62, 0x63)),
      offset: 9,
      match: /NotificationResponse: string without its NUL terminator/,
    },
    {
      name: 'payload without its terminator',
      bytes: frame('A', i32(1), str('c'), raw(0x61, 0x62)),
      offset: 11,
      match: /NotificationResponse: string without its NUL terminator/,
    },
    {
      name: 'bytes left over after a short payload',
      bytes: frame('A', i32(1), str('c'), str('ab'), raw(0x7a)),
      offset: 14,
      match: /NotificationResponse: 1 bytes left over/,
    },
    {
      name: 'bytes left over after a long payload',
      bytes: frame('A', i32(1), str('c'), str('x'.repeat(40)), str('y'.repeat(20))),
      offset: 52,
      match: /NotificationResponse: 21 bytes left over/,
    },
    {
      name: 'a NUL inside a short payload on a repeated channel',
      bytes: concat(
        frame('A', i32(1), str('c'), str('ok')),
        frame('A', i32(1), str('c'), str('ab'), str('z')),
      ),
      offset: 28,
      match: /NotificationResponse: 2 bytes left over/,
    },
    {
      name: 'bytes left over after ReadyForQuery',
      bytes: frame('Z', byte('I'), byte('I')),
      offset: 6,
      match: /ReadyForQuery: 1 bytes left over/,
    },
    {
      name: 'bytes left over after an empty message',
      bytes: frame('1', raw(0)),
      offset: 5,
      match: /ParseComplete: 1 bytes left over/,
    },
    {
      name: 'body too short for an Int32',
      bytes: frame('A', raw(0, 0, 1)),
      offset: 5,
      match: /NotificationResponse: body too short for an Int32/,
    },
    {
      name: 'BackendKeyData body too short',
      bytes: frame('K', raw(0, 1)),
      offset: 5,
      match: /BackendKeyData: body too short/,
    },
    {
      name: 'BackendKeyData key of 3 bytes',
      bytes: frame('K', i32(1), raw(1, 2, 3)),
      offset: 9,
      match: /secret key of 3 bytes; expected 4 to 256/,
    },
    {
      name: 'BackendKeyData key of 257 bytes',
      bytes: frame('K', i32(1), new Array(257).fill(1)),
      offset: 9,
      match: /secret key of 257 bytes/,
    },
    {
      name: 'unknown Authentication subtype',
      bytes: frame('R', i32(6)),
      offset: 5,
      match: /Authentication: unknown authentication subtype 6/,
    },
    {
      name: 'negative Authentication subtype',
      bytes: frame('R', i32(-1)),
      offset: 5,
      match: /unknown authentication subtype -1/,
    },
    {
      name: 'AuthenticationOk with a body',
      bytes: frame('R', i32(0), raw(1)),
      offset: 9,
      match: /1 bytes left over/,
    },
    {
      name: 'MD5 salt too short',
      bytes: frame('R', i32(5), raw(1, 2)),
      offset: 9,
      match: /body too short for 4 bytes/,
    },
    {
      name: 'SASL mechanism list without its end',
      bytes: frame('R', i32(10), str('SCRAM-SHA-256')),
      offset: 23,
      match: /string without its NUL terminator/,
    },
    {
      name: 'ReadyForQuery with an unknown status',
      bytes: frame('Z', byte('X')),
      offset: 5,
      match: /unknown transaction status 0x58/,
    },
    {
      name: 'ReadyForQuery without a status',
      bytes: frame('Z'),
      offset: 5,
      match: /body too short for a byte/,
    },
    {
      name: 'DataRow value length below -1',
      bytes: frame('D', i16(1), i32(-2)),
      offset: 7,
      match: /DataRow: negative length -2/,
    },
    {
      name: 'DataRow value past the frame',
      bytes: concat(frame('D', i16(1), i32(4), raw(1, 2)), frame('Z', byte('I'))),
      offset: 11,
      match: /DataRow: body too short for 4 bytes/,
    },
    {
      name: 'DataRow count the body cannot hold',
      bytes: frame('D', i16(65535), i32(-1)),
      offset: 5,
      match: /count 65535 does not fit/,
    },
    {
      name: 'RowDescription count the body cannot hold',
      bytes: frame('T', i16(2), str('a'), new Array(18).fill(0)),
      offset: 5,
      match: /RowDescription: count 2 does not fit/,
    },
    {
      name: 'ParameterDescription with a short OID list',
      bytes: frame('t', i16(2), i32(23)),
      offset: 5,
      match: /count 2 does not fit/,
    },
    {
      name: 'NegotiateProtocolVersion with a negative option count',
      bytes: frame('v', i32(0x30000), i32(-1)),
      offset: 9,
      match: /bad option count -1/,
    },
    {
      name: 'NegotiateProtocolVersion with more options than bytes',
      bytes: frame('v', i32(0x30000), i32(5), str('a')),
      offset: 9,
      match: /bad option count 5/,
    },
    {
      name: 'NegotiateProtocolVersion offering another major version',
      bytes: frame('v', i32(0x20000), i32(0)),
      offset: 5,
      match: /protocol version 2\.0 is not 3\.x/,
    },
    {
      name: 'ErrorResponse without its final zero',
      bytes: frame('E', byte('S'), str('ERROR')),
      offset: 12,
      match: /ErrorResponse: body too short for a byte/,
    },
    {
      name: 'CopyInResponse with a short format list',
      bytes: frame('G', byte(0), i16(3), i16(0)),
      offset: 6,
      match: /CopyInResponse: count 3 does not fit/,
    },
    {
      name: 'FunctionCallResponse value past the frame',
      bytes: frame('V', i32(10), raw(1)),
      offset: 9,
      match: /body too short for 10 bytes/,
    },
  ];

  for (const c of cases) {
    it(`rejects ${c.name}`, () => {
      const error = errorOf(c.bytes);
      expect(error.message).toMatch(c.match);
      expect(error.offset).toBe(c.offset);
      expect(error.code).toBe('PROTOCOL_ERROR');
    });

    it(`rejects ${c.name} at the same stream offset after another frame, split`, () => {
      const bytes = concat(ready, c.bytes);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const decoder = new Decoder();
        decoder.push(bytes.slice(0, cut));
        decoder.push(bytes.slice(cut));
        const error = protocolError(() => {
          while (decoder.next() !== null);
        });
        expect(error.offset, `cut at ${cut}`).toBe(c.offset + ready.length);
      }
    });
  }

  it('accepts the boundary key lengths 4 and 256', () => {
    for (const n of [4, 256]) {
      const decoder = new Decoder();
      decoder.push(frame('K', i32(1), new Array(n).fill(9)));
      const m = decoder.next();
      expect(m?.type === 'BackendKeyData' && m.secretKey.length).toBe(n);
    }
  });
});

describe('Decoder after an error', () => {
  it('stays failed: next throws the same error again and push is ignored', () => {
    const decoder = new Decoder();
    decoder.push(concat(frame('Z', byte('X')), ready));
    const first = protocolError(() => decoder.next());
    expect(protocolError(() => decoder.next())).toBe(first);
    decoder.push(ready);
    expect(protocolError(() => decoder.next())).toBe(first);
  });

  it('stays failed after a header error too', () => {
    const decoder = new Decoder();
    decoder.push(Uint8Array.of(0x43, 0, 0, 0, 0));
    const first = protocolError(() => decoder.next());
    expect(protocolError(() => decoder.next())).toBe(first);
  });

  it('rejects a nonsense maxMessageSize', () => {
    expect(() => new Decoder({ maxMessageSize: 3 })).toThrow(RangeError);
    expect(() => new Decoder({ maxMessageSize: Number.NaN })).toThrow(RangeError);
  });
});
