/**
 * A durable-stream consumer run as a child process by test/notify/durable.test.ts, so that the
 * test can SIGKILL it mid-stream. Usage: node durable-consumer.mjs URL SLOT FLUSH_EVERY (after
 * `npm run build`: it runs the built package, so the child starts fast).
 * Prints `item <payload> <lsn> <index>` for each notification, and, every FLUSH_EVERY items,
 * acknowledges through the current one, waits for the server to have it, then prints
 * `flushed <payload>`. Prints `ready` once streaming.
 */
import { openDurableStream } from '../../dist/index.js';

const [url, slot, every] = process.argv.slice(2);
if (!url || !slot || !every) throw new Error('usage: durable-consumer.mjs URL SLOT FLUSH_EVERY');
const flushEvery = Number(every);

const stream = await openDurableStream(url, {
  slot,
  ack: 'manual',
  statusIntervalMs: 60_000,
  livenessTimeoutMs: 600_000,
});
process.stdout.write('ready\n');
let count = 0;
for await (const item of stream) {
  process.stdout.write(`item ${item.payload} ${item.lsn} ${item.index}\n`);
  count++;
  if (count % flushEvery === 0) {
    stream.ack(item);
    await stream.flush();
    process.stdout.write(`flushed ${item.payload}\n`);
  }
}
