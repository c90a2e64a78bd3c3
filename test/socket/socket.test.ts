import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { dialSocket, reusedBufferInputOf } from '../../src/socket/socket.js';

/** Bytes 0..250 over and over, so any loss, repeat or reordering shows. */
function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 251;
  return bytes;
}

let server: Server | undefined;

/** A local TCP server that writes `bytes` to each client, then ends. */
async function serve(bytes: Uint8Array): Promise<number> {
  server = createServer((client: Socket) => {
    client.on('error', () => undefined);
    client.end(bytes);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

function dial(port: number, plaintext: boolean) {
  return dialSocket(
    { kind: 'tcp', host: '127.0.0.1', port, label: `127.0.0.1:${port}` },
    { timeoutMs: 5000, keepAlive: false, keepAliveInitialDelayMs: 0, plaintext },
  );
}

afterEach(async () => {
  server?.close();
  server = undefined;
});

describe('dialSocket with plaintext', () => {
  it('reads into a reused buffer only when asked for plaintext', async () => {
    const port = await serve(pattern(10));
    const plain = await dial(port, true);
    const stream = await dial(port, false);
    expect(reusedBufferInputOf(plain)).toBeDefined();
    expect(reusedBufferInputOf(stream)).toBeUndefined();
    plain.destroy();
    stream.destroy();
  });

  it('hands every byte over in order, and stops past 64 KiB not taken until take()', async () => {
    const sent = pattern(3 * 1024 * 1024 + 17);
    const socket = await dial(await serve(sent), true);
    const input = reusedBufferInputOf(socket)!;
    const received = new Uint8Array(sent.length);
    let at = 0;
    let mostUnreadBefore = 0;
    let reused = true;
    let buffer: ArrayBufferLike | undefined;
    input.start((bytes) => {
      mostUnreadBefore = Math.max(mostUnreadBefore, input.unread - bytes.length);
      buffer ??= bytes.buffer;
      if (bytes.buffer !== buffer) reused = false;
      received.set(bytes, at);
      at += bytes.length;
      // Take only on a later turn of the event loop: reads in between must not happen.
      if (input.unread > 64 * 1024) setImmediate(() => input.take());
    });
    await once(socket, 'close');
    expect(at).toBe(sent.length);
    expect(Buffer.compare(received, sent)).toBe(0);
    expect(mostUnreadBefore).toBeLessThanOrEqual(64 * 1024);
    expect(reused).toBe(true);
  });
});
