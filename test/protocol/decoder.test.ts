import { describe, expect, it } from 'vitest';
import {
  type BackendMessage,
  type BodyReader,
  backendMessageCodes,
  Decoder,
  FrameBuffer,
  Writer,
  writeBackendMessage,
} from '../../src/protocol/index.js';
import { backendFixtures } from './backend-fixtures.js';
import {
  byte,
  concat,
  decodeChunks,
  frame,
  i32,
  prng,
  protocolError,
  splits,
  str,
} from './support.js';

function decodeAll(chunks: Iterable<Uint8Array>): BackendMessage[] {
  const decoder = new Decoder();
  const messages = decodeChunks(decoder, chunks);
  expect(decoder.bufferedBytes).toBe(0);
  expect(decoder.next()).toBeNull();
  return messages;
}

/** Every fixture once, then the NotificationResponse ones again: more than 20 frames. */
const mixedStream = concat(
  ...backendFixtures.map((f) => f.bytes),
  ...backendFixtures.filter((f) => f.message.type === 'NotificationResponse').map((f) => f.bytes),
);
const mixedMessages = [
  ...backendFixtures.map((f) => f.message),
  ...backendFixtures.filter((f) => f.message.type === 'NotificationResponse').map((f) => f.message),
];

describe('Decoder fixtures', () => {
  it('has at least 20 frames in the mixed stream', () => {
    expect(mixedMessages.length).toBeGreaterThanOrEqual(20);
  });

  for (const fixture of backendFixtures) {
    describe(fixture.name, () => {
      it('decodes to the expected message', () => {
        expect(decodeAll([fixture.bytes])).toEqual([fixture.message]);
      });

      it('encodes back to the same bytes', () => {
        const w = new Writer(4);
        writeBackendMessage(w, fixture.message);
        expect(w.toBytes()).toEqual(fixture.bytes);
      });

      it('decodes the same when split at every offset and one byte at a time', () => {
        for (const { how, chunks } of splits(fixture.bytes)) {
          expect(decodeAll(chunks), how).toEqual([fixture.message]);
        }
      });
    });
  }
});

describe('Decoder streams', () => {
  it('decodes a mixed stream whole', () => {
    expect(decodeAll([mixedStream])).toEqual(mixedMessages);
  });

  it('decodes a mixed stream cut at every offset and one byte at a time', () => {
    for (const { how, chunks } of splits(mixedStream)) {
      expect(decodeAll(chunks), how).toEqual(mixedMessages);
    }
  });

  it('decodes a mixed stream cut into random pieces', () => {
    const random = prng(7);
    for (let round = 0; round < 200; round++) {
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < mixedStream.length; ) {
        const size = 1 + Math.floor(random() * 40);
        chunks.push(mixedStream.subarray(at, at + size));
        at += size;
      }
      expect(decodeAll(chunks)).toEqual(mixedMessages);
    }
  });

  it('decodes thousands of frames from one chunk', () => {
    const w = new Writer();
    for (let i = 0; i < 5000; i++) {
      writeBackendMessage(w, {
        type: 'NotificationResponse',
        processId: i,
        channel: `ch${i % 3}`,
        payload: `p${i}`,
      });
    }
    const messages = decodeAll([w.toBytes()]);
    expect(messages).toHaveLength(5000);
    expect(messages[4999]).toEqual({
      type: 'NotificationResponse',
      processId: 4999,
      channel: 'ch1',
      payload: 'p4999',
    });
  });

  it('returns null until a frame is complete and counts buffered bytes', () => {
    const bytes = frame('C', str('LISTEN'));
    const decoder = new Decoder();
    decoder.push(bytes.slice(0, 3));
    expect(decoder.next()).toBeNull();
    expect(decoder.bufferedBytes).toBe(3);
    decoder.push(bytes.slice(3, 8));
    expect(decoder.next()).toBeNull();
    expect(decoder.bufferedBytes).toBe(8);
    decoder.push(bytes.slice(8));
    expect(decoder.next()).toEqual({ type: 'CommandComplete', commandTag: 'LISTEN' });
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.next()).toBeNull();
  });

  it('ignores empty chunks', () => {
    const decoder = new Decoder();
    decoder.push(new Uint8Array(0));
    expect(decoder.next()).toBeNull();
    const bytes = frame('Z', [0x49]);
    decoder.push(bytes.subarray(0, 2));
    decoder.push(new Uint8Array(0));
    decoder.push(bytes.subarray(2));
    expect(decoder.next()).toEqual({ type: 'ReadyForQuery', transactionStatus: 'I' });
  });

  it('keeps the channel cache honest when channels alternate and repeat', () => {
    const names = ['a', 'ab', 'a', 'b', 'ba', 'ba', '', 'x'.repeat(70), 'x'.repeat(70), 'a'];
    const w = new Writer();
    for (const channel of names) {
      writeBackendMessage(w, { type: 'NotificationResponse', processId: 1, channel, payload: '' });
    }
    const channels = decodeAll([w.toBytes()]).map((m) =>
      m.type === 'NotificationResponse' ? m.channel : m.type,
    );
    expect(channels).toEqual(names);
  });

  it('decodes strings of every short length and of non-ASCII text', () => {
    const payloads: string[] = [];
    for (let n = 0; n <= 40; n++)
      payloads.push('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'.slice(0, n));
    for (let n = 0; n <= 40; n++) payloads.push('é'.repeat(n));
    payloads.push('\u{1F600}', 'a\u0080b', 'x'.repeat(16), 'x'.repeat(17), 'x'.repeat(18));
    const w = new Writer();
    for (const payload of payloads) {
      writeBackendMessage(w, {
        type: 'NotificationResponse',
        processId: 1,
        channel: payload,
        payload,
      });
    }
    const decoded = decodeAll([w.toBytes()]);
    expect(decoded.map((m) => (m.type === 'NotificationResponse' ? m.payload : ''))).toEqual(
      payloads,
    );
    expect(decoded.map((m) => (m.type === 'NotificationResponse' ? m.channel : ''))).toEqual(
      payloads,
    );
  });

  it('decodes notifications alike in place and when assembled across chunks', () => {
    // Channels that share prefixes with the remembered one, one longer than its first
    // buffer, and payloads on both sides of the short-text limit, ASCII or not.
    const channels = ['bench', 'benc', 'benchX', 'bench', 'c'.repeat(300), 'c'.repeat(299)];
    channels.push('c'.repeat(300), '', 'é', 'bench');
    const payloads = ['', 'x', '12345678', '123456789', 'é', 'a\u0080', 'y'.repeat(100)];
    payloads.push('\u{1F600}', 'ab', 'z');
    const messages: BackendMessage[] = channels.map((channel, i) => ({
      type: 'NotificationResponse',
      processId: i - 2,
      channel,
      payload: payloads[i]!,
    }));
    const w = new Writer();
    for (const m of messages) writeBackendMessage(w, m);
    for (const { how, chunks } of splits(w.toBytes())) {
      expect(decodeAll(chunks), how).toEqual(messages);
    }
  });

  it('replaces invalid UTF-8 with U+FFFD rather than failing', () => {
    const bytes = frame('C', [0x61, 0xff, 0x62, 0]);
    expect(decodeAll([bytes])).toEqual([{ type: 'CommandComplete', commandTag: 'a\uFFFDb' }]);
  });
});

describe('Decoder ownership', () => {
  const owned = concat(
    frame('A', i32(5), str('chan'), str('payload that is long enough for the native path')),
    frame('A', i32(6), str('chan'), str('short')),
    frame('D', [0, 2], i32(3), [1, 2, 3], i32(-1)),
    frame('d', [9, 8, 7]),
    frame('R', i32(5), [1, 2, 3, 4]),
    frame('K', i32(1), [5, 6, 7, 8]),
    frame('R', i32(11), [1, 2]),
    frame('V', i32(2), [4, 4]),
  );

  function snapshot(messages: BackendMessage[]): string {
    return JSON.stringify(messages, (_key, value) =>
      value instanceof Uint8Array ? Array.from(value) : value,
    );
  }

  it('returns messages that do not change when the pushed chunk is overwritten', () => {
    for (const cut of [owned.length, 1, 7, 30, 60, 75, 90]) {
      const decoder = new Decoder();
      const first = owned.slice(0, cut);
      const second = owned.slice(cut);
      const messages: BackendMessage[] = [];
      decoder.push(first);
      for (let m = decoder.next(); m !== null; m = decoder.next()) messages.push(m);
      decoder.push(second);
      for (let m = decoder.next(); m !== null; m = decoder.next()) messages.push(m);
      const before = snapshot(messages);
      first.fill(0xee);
      second.fill(0xee);
      expect(snapshot(messages)).toBe(before);
      expect(messages).toHaveLength(8);
    }
  });

  it.each(backendFixtures.map((f) => [f.name, f] as const))(
    '%s: scribbling on the chunk after next() changes nothing, whole or split',
    (_name, fixture) => {
      const expected = snapshot([fixture.message]);
      const cuts = [fixture.bytes.length, 1, 5, Math.floor(fixture.bytes.length / 2)];
      for (const cut of cuts) {
        for (const via of ['push', 'pushCopy'] as const) {
          const decoder = new Decoder();
          const first = fixture.bytes.slice(0, cut);
          const second = fixture.bytes.slice(cut);
          decoder[via](first);
          if (second.length > 0) decoder[via](second);
          const message = decoder.next();
          expect(message).not.toBeNull();
          first.fill(0x7a);
          second.fill(0x7a);
          // A pushCopy buffer is the decoder's own: scribble on it through more input.
          decoder[via](new Uint8Array(fixture.bytes.length).fill(0x7a));
          expect(snapshot([message as BackendMessage]), `${via} cut at ${cut}`).toBe(expected);
        }
      }
    },
  );

  it('gives byte fields their own memory, never a view of a pushed chunk', () => {
    const chunk = owned.slice();
    const decoder = new Decoder();
    decoder.push(chunk);
    const arrays: Uint8Array[] = [];
    for (let m = decoder.next(); m !== null; m = decoder.next()) {
      if (m.type === 'DataRow') arrays.push(...m.values.filter((v) => v !== null));
      if (m.type === 'CopyData') arrays.push(m.data);
      if (m.type === 'AuthenticationMD5Password') arrays.push(m.salt);
      if (m.type === 'BackendKeyData') arrays.push(m.secretKey);
      if (m.type === 'AuthenticationSASLContinue') arrays.push(m.data);
      if (m.type === 'FunctionCallResponse' && m.result) arrays.push(m.result);
    }
    expect(arrays).toHaveLength(6);
    for (const array of arrays) expect(array.buffer).not.toBe(chunk.buffer);
  });
});

describe('BackendMessage narrowing', () => {
  it('narrows every member on type without casts', () => {
    function describeMessage(m: BackendMessage): string {
      switch (m.type) {
        case 'NotificationResponse':
          return `${m.processId}:${m.channel}:${m.payload}`;
        case 'AuthenticationMD5Password':
          return `salt ${m.salt.length}`;
        case 'AuthenticationSASL':
          return m.mechanisms.join();
        case 'BackendKeyData':
          return `${m.processId}/${m.secretKey.length}`;
        case 'RowDescription':
          return m.fields.map((f) => f.name).join();
        case 'DataRow':
          return String(m.values.length);
        case 'ReadyForQuery':
          return m.transactionStatus;
        case 'ErrorResponse':
        case 'NoticeResponse':
          return m.fields.message ?? '';
        case 'CopyInResponse':
        case 'CopyOutResponse':
        case 'CopyBothResponse':
          return m.columnFormats.join();
        default:
          return m.type;
      }
    }
    expect(backendFixtures.map((f) => describeMessage(f.message))).toContain('4242:orders:{"}!');
  });
});

/** A NotificationResponse without its tag, as nextNotification gives it. */
function untagged(m: BackendMessage): unknown {
  return m.type === 'NotificationResponse'
    ? { channel: m.channel, payload: m.payload, processId: m.processId }
    : m;
}

describe('Decoder.nextNotification and nextOther', () => {
  /** Reads as a connection does: notifications first, then any other message. */
  function decodeSplit(chunks: Iterable<Uint8Array>): unknown[] {
    const decoder = new Decoder();
    const out: unknown[] = [];
    for (const chunk of chunks) {
      decoder.push(chunk.slice());
      for (;;) {
        const notification = decoder.nextNotification();
        if (notification !== null) {
          out.push(notification);
          continue;
        }
        const message = decoder.nextOther();
        if (message === null) break;
        expect(message.type).not.toBe('NotificationResponse');
        out.push(message);
      }
    }
    expect(decoder.bufferedBytes).toBe(0);
    return out;
  }

  it('hands notifications over untagged, in stream order, in every chunking', () => {
    for (const { how, chunks } of splits(mixedStream)) {
      expect(decodeSplit(chunks), how).toEqual(mixedMessages.map(untagged));
    }
  });

  it('gives notifications exactly channel, payload and processId', () => {
    const [n] = decodeSplit([frame('A', i32(9), str('ch'), str('pay'))]);
    expect(Object.keys(n as object)).toEqual(['channel', 'payload', 'processId']);
    expect(JSON.stringify(n)).toBe('{"channel":"ch","payload":"pay","processId":9}');
  });

  it('each declines, consuming nothing, what the other reads', () => {
    const decoder = new Decoder();
    decoder.push(concat(frame('A', i32(9), str('ch'), str('pay')), frame('Z', [0x49])));
    expect(decoder.nextOther()).toBeNull();
    expect(decoder.nextNotification()).toEqual({ channel: 'ch', payload: 'pay', processId: 9 });
    expect(decoder.nextNotification()).toBeNull();
    expect(decoder.nextOther()).toEqual({ type: 'ReadyForQuery', transactionStatus: 'I' });
    expect(decoder.nextOther()).toBeNull();
    expect(decoder.nextNotification()).toBeNull();
  });

  it('shares one channel cache between next() and nextNotification()', () => {
    const decoder = new Decoder();
    decoder.push(
      concat(
        frame('A', i32(1), str('same'), str('a')),
        frame('A', i32(2), str('same'), str('b')),
        frame('A', i32(3), str('other'), str('c')),
      ),
    );
    const first = decoder.next();
    const second = decoder.nextNotification();
    expect(first).toEqual({
      type: 'NotificationResponse',
      processId: 1,
      channel: 'same',
      payload: 'a',
    });
    expect(second).toEqual({ channel: 'same', payload: 'b', processId: 2 });
    expect(decoder.next()).toMatchObject({ channel: 'other', payload: 'c' });
  });
});

describe('Decoder.scan', () => {
  const notifications = backendFixtures.filter((f) => f.message.type === 'NotificationResponse');
  const run = concat(...notifications.map((f) => f.bytes));
  const ready = frame('Z', [0x49]);

  it('counts whole notifications without consuming them, in every chunking', () => {
    for (const { how, chunks } of splits(concat(run, ready))) {
      const decoder = new Decoder();
      let counted = 0;
      let end = 0;
      let blocked = false;
      for (const chunk of chunks) {
        decoder.push(chunk.slice());
        const scan = decoder.scan(end);
        counted += scan.count;
        end = scan.end;
        blocked = scan.blocked;
      }
      expect(counted, how).toBe(notifications.length);
      expect(end, how).toBe(run.length);
      expect(blocked, how).toBe(true);
      expect(decoder.offset, how).toBe(0);
      const taken: unknown[] = [];
      for (let n = decoder.nextNotification(); n !== null; n = decoder.nextNotification()) {
        taken.push(n);
      }
      expect(taken, how).toEqual(notifications.map((f) => untagged(f.message)));
      expect(decoder.scan(decoder.offset)).toEqual({ count: 0, end: run.length, blocked: true });
      expect(decoder.next(), how).toEqual({ type: 'ReadyForQuery', transactionStatus: 'I' });
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it('is not blocked by a notification that is not complete yet', () => {
    const decoder = new Decoder();
    decoder.push(run.subarray(0, run.length - 1));
    const partial = decoder.scan(0);
    expect(partial.count).toBe(notifications.length - 1);
    expect(partial.blocked).toBe(false);
    decoder.push(run.subarray(run.length - 1));
    expect(decoder.scan(partial.end)).toEqual({ count: 1, end: run.length, blocked: false });
  });

  it('counts from the read position after a read', () => {
    const decoder = new Decoder();
    decoder.push(run);
    expect(decoder.scan(decoder.offset).count).toBe(notifications.length);
    expect(decoder.next()).toEqual(notifications[0]?.message);
    expect(decoder.scan(decoder.offset).count).toBe(notifications.length - 1);
  });

  it('stops at a bad header, which the reads then reject', () => {
    const decoder = new Decoder();
    decoder.push(concat(run, Uint8Array.of(0x41, 0, 0, 0, 2)));
    expect(decoder.scan(0)).toEqual({
      count: notifications.length,
      end: run.length,
      blocked: true,
    });
    for (let i = 0; i < notifications.length; i++)
      expect(decoder.nextNotification()).not.toBeNull();
    const error = protocolError(() => decoder.nextNotification());
    expect(error.offset).toBe(run.length + 1);
    expect(protocolError(() => decoder.next())).toBe(error);
  });

  it('counts a malformed body, found only when the notification is read', () => {
    const bad = frame('A', i32(1), str('c'), [0x61, 0x62]);
    const decoder = new Decoder();
    decoder.push(concat(run, bad));
    expect(decoder.scan(0).count).toBe(notifications.length + 1);
    for (let i = 0; i < notifications.length; i++) decoder.nextNotification();
    const error = protocolError(() => decoder.nextNotification());
    expect(error.offset).toBe(run.length + 11);
    expect(error.message).toMatch(/NotificationResponse: string without its NUL terminator/);
    expect(decoder.scan(decoder.offset).count).toBe(0);
    expect(protocolError(() => decoder.next())).toBe(error);
  });
});

describe('FrameBuffer.nextWith', () => {
  const A = backendMessageCodes.NotificationResponse;
  /** Reads a body as its bytes, or declines (null) when `decline` is set. */
  function bodyReader(): BodyReader<number[]> & { decline: boolean; calls: number } {
    return {
      decline: false,
      calls: 0,
      read(bytes, start, end) {
        this.calls++;
        return this.decline ? null : [...bytes.subarray(start, end)];
      },
    };
  }

  it('hands over a whole frame of its type in place and consumes it', () => {
    const frames = new FrameBuffer(backendMessageCodes, 'message');
    const reader = bodyReader();
    frames.push(concat(frame('Z', byte('I')), frame('A', i32(7), str('c'), str('p'))));
    expect(frames.nextWith(A, reader)).toBeNull();
    expect(reader.calls).toBe(0);
    expect(frames.next(true)?.type).toBe('Z'.charCodeAt(0));
    expect(frames.nextWith(A, reader)).toEqual([0, 0, 0, 7, 0x63, 0, 0x70, 0]);
    expect(frames.bufferedBytes).toBe(0);
  });

  it('consumes nothing when the reader declines, so next() reads the frame', () => {
    const frames = new FrameBuffer(backendMessageCodes, 'message');
    const reader = bodyReader();
    reader.decline = true;
    frames.push(frame('A', i32(7), str('c'), str('p')));
    expect(frames.nextWith(A, reader)).toBeNull();
    expect(reader.calls).toBe(1);
    expect(frames.next(true)?.remaining).toBe(8);
  });

  it('reads a frame assembled across chunks with Frame.readWith, unless the reader declines', () => {
    const frames = new FrameBuffer(backendMessageCodes, 'message');
    const reader = bodyReader();
    const bytes = frame('A', i32(7), str('c'), str('p'));
    for (const decline of [true, false]) {
      frames.push(bytes.subarray(0, 6));
      frames.push(bytes.subarray(6));
      const assembled = frames.next(true)!;
      reader.decline = decline;
      expect(assembled.readWith(reader)).toEqual(decline ? null : [0, 0, 0, 7, 0x63, 0, 0x70, 0]);
      expect(assembled.remaining).toBe(decline ? 8 : 0);
    }
  });

  it('leaves a frame across chunks, or after a failure, to next()', () => {
    const frames = new FrameBuffer(backendMessageCodes, 'message');
    const reader = bodyReader();
    const bytes = frame('A', i32(7), str('c'), str('p'));
    frames.push(bytes.subarray(0, 6));
    frames.push(bytes.subarray(6));
    expect(frames.nextWith(A, reader)).toBeNull();
    expect(frames.next(true)?.remaining).toBe(8);
    frames.push(Uint8Array.of(0x41, 0, 0, 0, 3));
    protocolError(() => frames.next(true));
    expect(frames.nextWith(A, reader)).toBeNull();
    expect(reader.calls).toBe(0);
  });
});

describe('Decoder.pushCopy', () => {
  /** Copies each chunk in through one scratch buffer that is scribbled over after each call. */
  function pushThroughScratch(decoder: Decoder, chunk: Uint8Array, scratch: Uint8Array): void {
    scratch.set(chunk);
    decoder.pushCopy(scratch.subarray(0, chunk.length));
    scratch.fill(0x5a);
  }

  function notificationStream(count: number, payloadSize: (i: number) => number): Uint8Array {
    const w = new Writer();
    for (let i = 0; i < count; i++) {
      writeBackendMessage(w, {
        type: 'NotificationResponse',
        processId: i,
        channel: i % 7 === 0 ? 'other' : 'bench',
        payload: `${i}:`.padEnd(payloadSize(i), 'p'),
      });
    }
    return w.toBytes();
  }

  it('decodes a mixed stream cut at every offset from a reused buffer', () => {
    const scratch = new Uint8Array(mixedStream.length);
    for (const { how, chunks } of splits(mixedStream)) {
      const decoder = new Decoder();
      const messages: BackendMessage[] = [];
      for (const chunk of chunks) {
        pushThroughScratch(decoder, chunk, scratch);
        for (let m = decoder.next(); m !== null; m = decoder.next()) messages.push(m);
      }
      expect(messages, how).toEqual(mixedMessages);
      expect(decoder.bufferedBytes, how).toBe(0);
    }
  });

  it('keeps unread bytes whole while it compacts and grows, and hands them out in order', () => {
    // 64 KiB reads, drained only after every third one, with a frame far larger than the
    // first buffer in the middle: the buffer compacts, grows and shrinks back.
    const before = notificationStream(3000, (i) => 20 + (i % 300));
    // A notice: a notification can never be this large (backendMessageLimits).
    const huge = frame('N', [0x4d], str('h'.repeat(700_000)), [0]);
    const after = notificationStream(3000, (i) => 1 + (i % 50));
    const stream = concat(before, huge, after);
    const scratch = new Uint8Array(64 * 1024);
    const decoder = new Decoder();
    const messages: BackendMessage[] = [];
    let reads = 0;
    for (let at = 0; at < stream.length; at += scratch.length) {
      pushThroughScratch(decoder, stream.subarray(at, at + scratch.length), scratch);
      if (++reads % 3 === 0) {
        for (let m = decoder.next(); m !== null; m = decoder.next()) messages.push(m);
      }
    }
    for (let m = decoder.next(); m !== null; m = decoder.next()) messages.push(m);
    expect(decoder.bufferedBytes).toBe(0);
    expect(messages).toEqual(decodeAll([stream]));
    expect(messages).toHaveLength(6001);
  });

  it('lets its grown buffer go once drained, by whichever read drains it', () => {
    // 300 KB in 64 KiB reads, read only after every third: the buffer grows past 128 KiB.
    const stream = notificationStream(3000, (i) => 40 + (i % 120));
    expect(stream.length).toBeGreaterThan(300_000);
    const scratch = new Uint8Array(64 * 1024);
    const read = {
      next: (decoder: Decoder) => decoder.next() !== null,
      nextNotification: (decoder: Decoder) => decoder.nextNotification() !== null,
      assembled: (decoder: Decoder) => decoder.next() !== null,
    };
    for (const [how, take] of Object.entries(read)) {
      const decoder = new Decoder();
      expect(decoder.copyBufferSize, how).toBe(0);
      let reads = 0;
      let largest = 0;
      for (let at = 0; at < stream.length; at += scratch.length) {
        const end = Math.min(at + scratch.length, stream.length);
        // The last frame, pushed on its own in two parts, is assembled from both.
        if (how === 'assembled' && end === stream.length) {
          pushThroughScratch(decoder, stream.subarray(at, end - 3), scratch);
          decoder.push(stream.slice(end - 3, end));
        } else pushThroughScratch(decoder, stream.subarray(at, end), scratch);
        largest = Math.max(largest, decoder.copyBufferSize);
        if (++reads % 3 === 0) while (take(decoder));
      }
      while (take(decoder));
      expect(decoder.bufferedBytes, how).toBe(0);
      expect(largest, how).toBeGreaterThan(128 * 1024);
      expect(decoder.copyBufferSize, how).toBe(0);
      // A small read afterwards gets a buffer while its bytes are unread, none once drained.
      pushThroughScratch(decoder, frame('Z', [0x49]), scratch);
      expect(decoder.copyBufferSize, how).toBeGreaterThanOrEqual(16 * 1024);
      expect(decoder.next(), how).toEqual({ type: 'ReadyForQuery', transactionStatus: 'I' });
      expect(decoder.copyBufferSize, how).toBe(0);
    }
  });

  /** The end of the frame of `stream` that contains offset `at` (exclusive), at most the end. */
  function frameEnd(stream: Uint8Array, at: number): number {
    const view = new DataView(stream.buffer, stream.byteOffset, stream.length);
    let end = 0;
    while (end < at) end += 1 + view.getInt32(end + 1);
    return end;
  }

  it('hands a drained buffer to the next decoder that copies, never one with bytes unread', () => {
    // Two decoders read in turn through one scratch buffer; each drains now and then, leaving
    // its buffer to the other while the other still has a part of a frame unread.
    const streams = [
      notificationStream(2000, (i) => 10 + (i % 300)),
      notificationStream(2000, (i) => 300 - (i % 290)),
    ];
    const decoders = [new Decoder(), new Decoder()];
    const got: BackendMessage[][] = [[], []];
    const scratch = new Uint8Array(64 * 1024);
    const random = prng(18);
    const at = [0, 0];
    let drainedWhileOtherHeld = 0;
    for (let turn = 0; at[0]! < streams[0]!.length || at[1]! < streams[1]!.length; turn++) {
      const k = turn % 2;
      const stream = streams[k]!;
      // Half the reads end on a frame boundary, so that reading them drains the decoder.
      let end = Math.min(stream.length, at[k]! + 1 + Math.floor(random() * 3000));
      if (random() < 0.5) end = frameEnd(stream, end);
      pushThroughScratch(decoders[k]!, stream.subarray(at[k], end), scratch);
      at[k] = end;
      if (random() < 0.5) {
        for (let m = decoders[k]!.next(); m !== null; m = decoders[k]!.next()) got[k]!.push(m);
        const other = decoders[1 - k]!;
        if (decoders[k]!.bufferedBytes === 0 && other.bufferedBytes > 0) drainedWhileOtherHeld++;
      }
    }
    for (const k of [0, 1]) {
      for (let m = decoders[k]!.next(); m !== null; m = decoders[k]!.next()) got[k]!.push(m);
      expect(decoders[k]!.copyBufferSize).toBe(0);
      expect(got[k]).toEqual(decodeAll([streams[k]!]));
    }
    expect(drainedWhileOtherHeld).toBeGreaterThan(10);
  });

  it('counts notifications ahead across a compaction, then hands them out', () => {
    const stream = notificationStream(4000, (i) => 30 + (i % 200));
    const expected = decodeAll([stream]).map(untagged);
    const scratch = new Uint8Array(50_000);
    const decoder = new Decoder();
    const taken: unknown[] = [];
    let counted = 0;
    let end = 0;
    for (let at = 0; at < stream.length; at += scratch.length) {
      pushThroughScratch(decoder, stream.subarray(at, at + scratch.length), scratch);
      const scan = decoder.scan(counted === 0 ? decoder.offset : end);
      counted += scan.count;
      end = scan.end;
      // Take half of what is counted, leaving the rest for the next compaction to move.
      const half = counted >> 1;
      for (let k = 0; k < half; k++) taken.push(decoder.nextNotification());
      counted -= half;
    }
    for (let n = decoder.nextNotification(); n !== null; n = decoder.nextNotification()) {
      taken.push(n);
    }
    expect(taken).toEqual(expected);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('keeps stream order when pushCopy and push are mixed', () => {
    for (const { how, chunks } of splits(mixedStream)) {
      const decoder = new Decoder();
      const messages: BackendMessage[] = [];
      chunks.forEach((chunk, i) => {
        if (i % 2 === 0) decoder.pushCopy(chunk.slice());
        else decoder.push(chunk.slice());
        if (i % 3 === 2) {
          for (let m = decoder.next(); m !== null; m = decoder.next()) messages.push(m);
        }
      });
      for (let m = decoder.next(); m !== null; m = decoder.next()) messages.push(m);
      expect(messages, how).toEqual(mixedMessages);
    }
  });

  it('reports errors at the same stream offset as push', () => {
    const bad = concat(mixedStream, frame('Z', [0x49]).fill(0xff, 1, 5));
    const scratch = new Uint8Array(bad.length);
    for (const { how, chunks } of splits(bad)) {
      const decoder = new Decoder();
      let caught: unknown;
      try {
        for (const chunk of chunks) {
          pushThroughScratch(decoder, chunk, scratch);
          while (decoder.next() !== null);
        }
      } catch (error) {
        caught = error;
      }
      expect(caught, how).toMatchObject({ code: 'PROTOCOL_ERROR', offset: mixedStream.length + 1 });
    }
  });
});
