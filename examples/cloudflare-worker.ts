/**
 * A Cloudflare Worker that long-polls a channel: `GET /?channel=jobs` LISTENs, waits up to ten
 * seconds for one notification, and answers it as JSON (or 204 when none came). Bundled by
 * wrangler (`main` of a wrangler.jsonc with `"compatibility_flags": ["nodejs_compat"]` and a
 * DATABASE_URL secret such as `postgres://app:secret@db.example.com/app?sslmode=verify-full&sslrootcert=system`),
 * pqnotify resolves to its Workers entry: connections go through `cloudflare:sockets`. The
 * connection lives as long as the request, and is closed before the answer.
 */
import { connect } from 'pqnotify';

interface Env {
  DATABASE_URL: string;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const channel = new URL(request.url).searchParams.get('channel') ?? 'jobs';
    await using conn = await connect(env.DATABASE_URL);
    await conn.listen(channel);
    for await (const notification of conn.notifications({ idleTimeout: 10_000 })) {
      return Response.json({
        channel: notification.channel,
        payload: notification.payload,
        processId: notification.processId,
      });
    }
    return new Response(null, { status: 204 });
  },
};
