import { Buffer } from 'node:buffer';

/**
 * UTF-8 text helpers shared by the decoders and the writer. Every decoding function returns
 * a new JS string (a copy), so a string never points into the bytes it came from.
 */

type Slice = (this: Uint8Array, start: number, end: number) => string;

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

function decodeWithTextDecoder(this: Uint8Array, start: number, end: number): string {
  return textDecoder.decode(this.subarray(start, end));
}

// Node's Buffer prototype carries native slice decoders that accept any Uint8Array and skip
// the argument handling of Buffer#toString and TextDecoder: the fastest way to turn wire
// bytes into a string. Other runtimes fall back to TextDecoder (which is exact for ASCII,
// the only input the latin1 path gets).
const nodeSlices = Buffer.prototype as unknown as { latin1Slice?: Slice; utf8Slice?: Slice };
const latin1Slice: Slice = nodeSlices.latin1Slice ?? decodeWithTextDecoder;
const utf8Slice: Slice = nodeSlices.utf8Slice ?? decodeWithTextDecoder;

/** Longest string that shortAsciiText builds in JS; longer ones are decoded natively. */
export const shortTextLength = 8;

/**
 * Decodes `bytes[start, end)`, which the caller has checked to be all below 0x80. Short
 * strings are built with String.fromCharCode, which is cheaper than a native call.
 */
export function asciiText(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  return n <= shortTextLength
    ? shortAsciiText(bytes, start, n)
    : latin1Slice.call(bytes, start, end);
}

/**
 * Builds a string from `n` (0..8) bytes below 0x80 at `at`. Each byte is read once. Up to 6
 * bytes are handled here, in bytecode small enough for the decoders' hot paths to inline it
 * whole; 7 and 8 bytes take one more call.
 */
export function shortAsciiText(b: Uint8Array, at: number, n: number): string {
  const c = String.fromCharCode;
  if (n === 0) return '';
  const b0 = b[at]!;
  if (n === 1) return c(b0);
  const b1 = b[at + 1]!;
  if (n === 2) return c(b0, b1);
  const b2 = b[at + 2]!;
  if (n === 3) return c(b0, b1, b2);
  const b3 = b[at + 3]!;
  if (n === 4) return c(b0, b1, b2, b3);
  const b4 = b[at + 4]!;
  if (n === 5) return c(b0, b1, b2, b3, b4);
  const b5 = b[at + 5]!;
  if (n === 6) return c(b0, b1, b2, b3, b4, b5);
  return sevenOrEightAsciiText(b, at, n);
}

function sevenOrEightAsciiText(b: Uint8Array, at: number, n: number): string {
  const c = String.fromCharCode;
  const b0 = b[at]!;
  const b1 = b[at + 1]!;
  const b2 = b[at + 2]!;
  const b3 = b[at + 3]!;
  const b4 = b[at + 4]!;
  const b5 = b[at + 5]!;
  const b6 = b[at + 6]!;
  return n === 7 ? c(b0, b1, b2, b3, b4, b5, b6) : c(b0, b1, b2, b3, b4, b5, b6, b[at + 7]!);
}

/** Decodes `bytes[start, end)` as UTF-8; invalid sequences become U+FFFD, as TextDecoder does. */
export function utf8Text(bytes: Uint8Array, start: number, end: number): string {
  return utf8Slice.call(bytes, start, end);
}

/**
 * Encodes `text` as UTF-8 into `target` from `at`; returns the number of bytes written. The
 * caller provides room for at least `3 * text.length` bytes (the UTF-8 worst case).
 */
export function encodeUtf8Into(text: string, target: Uint8Array, at: number): number {
  const n = text.length;
  let i = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) break;
    target[at + i] = c;
  }
  if (i === n) return n;
  return i + textEncoder.encodeInto(text.slice(i), target.subarray(at + i)).written;
}
