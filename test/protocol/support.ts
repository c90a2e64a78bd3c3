/**
 * A tiny byte builder for spelling out protocol frames in tests, independent of the Writer
 * under test, plus helpers to feed decoders in every possible chunking.
 */
import { expect } from 'vitest';
import { ProtocolError } from '../../src/protocol/index.js';

/** One field of a frame: a byte list. */
export type Part = readonly number[];

/** Byte1: a character or a number. */
export function byte(value: string | number): Part {
  return [typeof value === 'string' ? value.charCodeAt(0) : value & 0xff];
}

/** Big-endian Int16. */
export function i16(value: number): Part {
  return [(value >>> 8) & 0xff, value & 0xff];
}

/** Big-endian Int32. */
export function i32(value: number): Part {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

/** A String: UTF-8 bytes and the NUL terminator. */
export function str(text: string): Part {
  return [...new TextEncoder().encode(text), 0];
}

/** UTF-8 bytes without terminator. */
export function utf8(text: string): Part {
  return [...new TextEncoder().encode(text)];
}

/** Literal bytes. */
export function raw(...bytes: number[]): Part {
  return bytes;
}

/** A typed frame: the type byte, the Int32 length (body + 4), then the body. */
export function frame(type: string, ...body: Part[]): Uint8Array {
  const flat = body.flat();
  return Uint8Array.from([type.charCodeAt(0), ...i32(flat.length + 4), ...flat]);
}

/** An untyped startup-phase packet: the Int32 length (body + 4), then the body. */
export function packet(...body: Part[]): Uint8Array {
  const flat = body.flat();
  return Uint8Array.from([...i32(flat.length + 4), ...flat]);
}

/** Concatenates byte arrays. */
export function concat(...arrays: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** Anything with the decoders' push/next/bufferedBytes shape. */
export interface PushDecoder<T> {
  push(chunk: Uint8Array): void;
  next(): T | null;
  readonly bufferedBytes: number;
}

/**
 * Pushes each chunk (as a fresh copy, so a test can never pass by sharing memory) and drains
 * every message after each push. Returns all messages.
 */
export function decodeChunks<T>(decoder: PushDecoder<T>, chunks: Iterable<Uint8Array>): T[] {
  const out: T[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk.slice());
    for (let m = decoder.next(); m !== null; m = decoder.next()) out.push(m);
  }
  return out;
}

/** The ways to cut `bytes` that the split tests try: at every offset, and one byte at a time. */
export function* splits(bytes: Uint8Array): Generator<{ how: string; chunks: Uint8Array[] }> {
  for (let cut = 0; cut <= bytes.length; cut++) {
    yield { how: `cut at ${cut}`, chunks: [bytes.subarray(0, cut), bytes.subarray(cut)] };
  }
  const singles: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) singles.push(bytes.subarray(i, i + 1));
  yield { how: 'one byte at a time', chunks: singles };
}

/** Runs `f` and returns the ProtocolError it throws; fails the test otherwise. */
export function protocolError(f: () => unknown): ProtocolError {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  throw new Error('expected a ProtocolError, but nothing was thrown');
}

/** A small deterministic PRNG (mulberry32): the same seed gives the same sequence. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
