/**
 * Seeded fuzzing: random bytes and mutated valid streams, in random chunkings. The only
 * allowed outcomes of next() are a message, null, or a ProtocolError; anything else (a
 * TypeError, a RangeError, a hang) fails. Deterministic: the seeds are fixed, and each loop
 * stops after its time budget, about 2 seconds in all.
 */
import { describe, expect, it } from 'vitest';
import { Decoder, FrontendDecoder, ProtocolError } from '../../src/protocol/index.js';
import { backendFixtures } from './backend-fixtures.js';
import { concat, frame, i32, packet, prng, str } from './support.js';

interface Decodes {
  push(chunk: Uint8Array): void;
  next(): unknown;
  readonly bufferedBytes: number;
}

/** Feeds `bytes` in random chunks; returns how it ended. Throws on any non-protocol error. */
function feed(decoder: Decodes, bytes: Uint8Array, random: () => number): 'ok' | 'error' {
  let at = 0;
  try {
    while (at < bytes.length) {
      const size = 1 + Math.floor(random() * 64);
      decoder.push(bytes.slice(at, at + size));
      at += size;
      // Each next() either consumes a frame or returns null, so this loop ends.
      for (let m = decoder.next(); m !== null; m = decoder.next());
    }
    return 'ok';
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    expect(Number.isInteger(error.offset)).toBe(true);
    expect(error.offset).toBeGreaterThanOrEqual(0);
    expect(error.offset).toBeLessThanOrEqual(bytes.length);
    // Stays failed.
    expect(() => decoder.next()).toThrow(error);
    return 'error';
  }
}

function randomBytes(random: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
}

function mutate(random: () => number, valid: Uint8Array): Uint8Array {
  const bytes = Array.from(valid);
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * bytes.length);
    switch (Math.floor(random() * 5)) {
      case 0:
        bytes[at] = Math.floor(random() * 256);
        break;
      case 1:
        bytes[at] = (bytes[at] ?? 0) ^ (1 << Math.floor(random() * 8));
        break;
      case 2:
        bytes.splice(at, 1);
        break;
      case 3:
        bytes.splice(at, 0, Math.floor(random() * 256));
        break;
      default:
        bytes[at] = [0, 0xff, 0x7f, 0x80][Math.floor(random() * 4)] ?? 0;
    }
  }
  return Uint8Array.from(bytes);
}

/** Runs `body` for `ms` milliseconds (at least `min` times) and returns the count. */
function forAbout(ms: number, min: number, body: (i: number) => void): number {
  const until = performance.now() + ms;
  let i = 0;
  while (i < min || performance.now() < until) body(i++);
  return i;
}

const backendStream = concat(...backendFixtures.map((f) => f.bytes));
const frontendStream = concat(
  packet(i32(80877103)),
  packet(i32(196608), str('user'), str('u'), [0]),
  frame('Q', str('LISTEN a')),
  frame('P', str('s'), str('SELECT $1'), [0, 1], i32(23)),
  frame('B', str(''), str('s'), [0, 1], [0, 1], [0, 1], i32(1), [0x31], [0, 0]),
  frame('D', [0x50], str('')),
  frame('E', str(''), i32(0)),
  frame('S'),
  frame('p', str('SCRAM-SHA-256'), i32(-1)),
  frame('F', i32(1), [0, 0], [0, 1], i32(-1), [0, 0]),
  frame('d', [1, 2]),
  frame('f', str('no')),
  frame('X'),
);

/** Reads the way an idle connection does: notifications counted by scan first, then next(). */
class CountingReader implements Decodes {
  readonly decoder = new Decoder({ maxMessageSize: 1 << 20 });
  private counted = 0;

  push(chunk: Uint8Array): void {
    this.decoder.push(chunk);
  }

  next(): unknown {
    if (this.counted === 0) this.counted = this.decoder.scan(this.decoder.offset).count;
    if (this.counted === 0) return this.decoder.next();
    this.counted--;
    const notification = this.decoder.nextNotification();
    return notification && { type: 'NotificationResponse', ...notification };
  }

  get bufferedBytes(): number {
    return this.decoder.bufferedBytes;
  }
}

/** Every message `decoder` gives for `bytes` in random chunks, then the error, if any. */
function transcript(decoder: Decodes, bytes: Uint8Array, random: () => number): unknown[] {
  const out: unknown[] = [];
  try {
    for (let at = 0; at < bytes.length; ) {
      const size = 1 + Math.floor(random() * 64);
      decoder.push(bytes.slice(at, at + size));
      at += size;
      for (let m = decoder.next(); m !== null; m = decoder.next()) out.push(m);
    }
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    out.push(error.message);
  }
  return out;
}

describe('fuzz', () => {
  it('Decoder: random bytes give messages, null or a ProtocolError', () => {
    const random = prng(0x5eed);
    const outcomes = { ok: 0, error: 0 };
    forAbout(400, 200, () => {
      const bytes = randomBytes(random, 1 + Math.floor(random() * 300));
      outcomes[feed(new Decoder({ maxMessageSize: 1 << 16 }), bytes, random)]++;
    });
    expect(outcomes.error).toBeGreaterThan(0);
  });

  it('Decoder: random bodies behind valid headers', () => {
    const random = prng(0xbad);
    const types = 'R K 2 3 C d c G H W D I E V v n N A t S 1 s Z T'.split(' ');
    forAbout(400, 200, () => {
      const parts: Uint8Array[] = [];
      for (let n = 0; n < 5; n++) {
        const type = types[Math.floor(random() * types.length)] ?? 'A';
        parts.push(frame(type, Array.from(randomBytes(random, Math.floor(random() * 40)))));
      }
      feed(new Decoder(), concat(...parts), random);
    });
  });

  it('Decoder: mutated valid streams', () => {
    const random = prng(42);
    const outcomes = { ok: 0, error: 0 };
    forAbout(600, 300, () => {
      outcomes[
        feed(new Decoder({ maxMessageSize: 1 << 20 }), mutate(random, backendStream), random)
      ]++;
    });
    expect(outcomes.error).toBeGreaterThan(0);
    expect(outcomes.ok).toBeGreaterThan(0);
  });

  it('Decoder: counted notifications read the same as next(), whatever the input', () => {
    const random = prng(99);
    forAbout(400, 200, () => {
      const bytes = mutate(random, backendStream);
      const seed = Math.floor(random() * 2 ** 32);
      expect(transcript(new CountingReader(), bytes, prng(seed))).toEqual(
        transcript(new Decoder({ maxMessageSize: 1 << 20 }), bytes, prng(seed)),
      );
    });
  });

  it('FrontendDecoder: random bytes and mutated valid streams', () => {
    const random = prng(7);
    expect(feed(new FrontendDecoder(), frontendStream, random)).toBe('ok');
    forAbout(300, 200, (i) => {
      const bytes =
        i % 2 === 0
          ? mutate(random, frontendStream)
          : randomBytes(random, 1 + Math.floor(random() * 200));
      feed(new FrontendDecoder({ maxMessageSize: 1 << 16 }), bytes, random);
    });
  });
});
