/**
 * Decoder throughput: one buffer of 1,000,000 NotificationResponse frames, fed in 64 KiB
 * chunks to pqnotify's Decoder and to pg-protocol's Parser, alternating in the same process.
 * Prints the median messages per second of each and their ratio, for 6-byte and 100-byte
 * payloads. Run: `node --import tsx bench/decode.ts` (or `npm run bench -- decode`).
 */
import { Buffer } from 'node:buffer';
import { pathToFileURL } from 'node:url';
import type { BackendMessage as PgMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import { Decoder, Writer, writeBackendMessage } from '../src/protocol/index.js';
import { median } from './median.js';

const messageCount = 1_000_000;
const chunkSize = 64 * 1024;
const rounds = 9;
const channel = 'bench';

/** One payload size: decoders' median throughput in messages per second. */
export interface DecodeBenchResult {
  payloadBytes: number;
  messages: number;
  pqnotifyMsgsPerSec: number;
  pgProtocolMsgsPerSec: number;
  /** pqnotify / pg-protocol. */
  ratio: number;
}

function payloadOf(i: number, size: number): string {
  const id = i.toString(36).padStart(6, '0');
  return size <= id.length ? id : 'x'.repeat(size - id.length) + id;
}

function buildStream(payloadBytes: number): Buffer {
  const w = new Writer((22 + payloadBytes) * messageCount);
  for (let i = 0; i < messageCount; i++) {
    writeBackendMessage(w, {
      type: 'NotificationResponse',
      processId: 4242,
      channel,
      payload: payloadOf(i, payloadBytes),
    });
  }
  const bytes = w.toBytes();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function split(stream: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < stream.length; at += chunkSize) {
    chunks.push(stream.subarray(at, at + chunkSize));
  }
  return chunks;
}

function check(name: string, count: number, lastPayload: string, expected: string): void {
  if (count !== messageCount || lastPayload !== expected) {
    throw new Error(`${name} decoded ${count} messages ending with ${lastPayload}`);
  }
}

function runPqnotify(chunks: readonly Buffer[], expected: string): number {
  const started = performance.now();
  const decoder = new Decoder();
  let count = 0;
  let lastPayload = '';
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let m = decoder.next(); m !== null; m = decoder.next()) {
      if (m.type === 'NotificationResponse') {
        count++;
        lastPayload = m.payload;
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  check('pqnotify', count, lastPayload, expected);
  return messageCount / seconds;
}

function runPgProtocol(chunks: readonly Buffer[], expected: string): number {
  // pg-protocol may move leftover bytes within a chunk it was given, so it gets fresh copies.
  const copies = chunks.map((chunk) => Buffer.from(chunk));
  const started = performance.now();
  const parser = new Parser();
  let count = 0;
  let lastPayload = '';
  const onMessage = (m: PgMessage) => {
    if (m.name === 'notification' && 'payload' in m && typeof m.payload === 'string') {
      count++;
      lastPayload = m.payload;
    }
  };
  for (const chunk of copies) parser.parse(chunk, onMessage);
  const seconds = (performance.now() - started) / 1000;
  check('pg-protocol', count, lastPayload, expected);
  return messageCount / seconds;
}

/** Runs the benchmark for both payload sizes and returns the medians. Takes some seconds. */
export async function runDecodeBench(): Promise<DecodeBenchResult[]> {
  const results: DecodeBenchResult[] = [];
  for (const payloadBytes of [6, 100]) {
    const chunks = split(buildStream(payloadBytes));
    const expected = payloadOf(messageCount - 1, payloadBytes);
    for (let warmUp = 0; warmUp < 3; warmUp++) {
      runPqnotify(chunks, expected);
      runPgProtocol(chunks, expected);
    }
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let round = 0; round < rounds; round++) {
      ours.push(runPqnotify(chunks, expected));
      theirs.push(runPgProtocol(chunks, expected));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const pqnotifyMsgsPerSec = median(ours) ?? 0;
    const pgProtocolMsgsPerSec = median(theirs) ?? 0;
    results.push({
      payloadBytes,
      messages: messageCount,
      pqnotifyMsgsPerSec,
      pgProtocolMsgsPerSec,
      ratio: pqnotifyMsgsPerSec / pgProtocolMsgsPerSec,
    });
  }
  return results;
}

/** Prints the results as a table. */
export async function main(): Promise<void> {
  const results = await runDecodeBench();
  const millions = (n: number) => `${(n / 1e6).toFixed(2)} M`;
  console.log(
    `NotificationResponse decode, ${messageCount} frames in 64 KiB chunks, median of ${rounds}`,
  );
  console.table(
    results.map((r) => ({
      payload: `${r.payloadBytes} B`,
      'pqnotify msgs/s': millions(r.pqnotifyMsgsPerSec),
      'pg-protocol msgs/s': millions(r.pgProtocolMsgsPerSec),
      ratio: `${r.ratio.toFixed(2)}x`,
    })),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
