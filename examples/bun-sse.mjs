/**
 * Bun: notifications to the browser. Bun.serve answers every request with a stream of
 * Server-Sent Events fed by one Listener: `data:` with each notification as JSON, and an
 * `event: gap` after a reconnect, when the page should reload what it shows. Ctrl-C stops.
 *
 *   bun examples/bun-sse.mjs [conninfo]      (or DATABASE_URL, PG*; CHANNEL, PORT)
 *   curl -N http://localhost:3000/           (then NOTIFY events, 'hello' from psql)
 *
 * It imports the package by its name, as a project that installed pqnotify does; inside this
 * repository that is the build in dist/ (npm install builds it).
 */
import { createListener } from 'pqnotify';

const conninfo = process.argv[2] ?? process.env.DATABASE_URL;
const channel = process.env.CHANNEL ?? 'events';
const encoder = new TextEncoder();

/** One item of the Listener as one Server-Sent Event. */
function event(item) {
  if (item.type === 'gap')
    return `event: gap\ndata: ${JSON.stringify({ downtimeMs: item.downtimeMs })}\n\n`;
  const { channel, payload, processId } = item;
  return `data: ${JSON.stringify({ channel, payload, processId })}\n\n`;
}

const listener = await createListener(conninfo);
await listener.listen(channel);

const server = Bun.serve({
  port: Number(process.env.PORT ?? 3000),
  fetch(request) {
    // Each client gets a stream of its own, ended when the client goes away.
    const items = listener.stream({ signal: request.signal });
    const body = new ReadableStream({
      async start(controller) {
        controller.enqueue(encoder.encode(': listening\n\n'));
        for await (const item of items) controller.enqueue(encoder.encode(event(item)));
        controller.close();
      },
      cancel: () => items.return(),
    });
    return new Response(body, {
      headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store' },
    });
  },
});
console.log(`serving "${channel}" as Server-Sent Events on ${server.url}; Ctrl-C stops`);
process.once('SIGINT', async () => {
  await listener.close();
  await server.stop(true);
  console.log('stopped');
});
