import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cleanEnv, runNode } from '../support/process.js';
import { server } from '../support/server.js';

const dist = pathToFileURL(resolve('dist/index.js')).href;

/** Runs an ES module script against the built package; `url` is the server's. */
function script(body: string) {
  return runNode(['--input-type=module', '-e', `import * as pq from '${dist}';\n${body}`], {
    env: cleanEnv({ PQN_URL: server.url }),
  });
}

describe('errors thrown by application callbacks, with nobody listening for them', () => {
  it('a throwing NotificationHandler is an uncaught exception, and the listener goes on', async () => {
    const result = await script(`
      process.on('uncaughtException', (error) => console.log('uncaught:', error.message));
      const listener = await pq.createListener(process.env.PQN_URL);
      const pid = listener.processId;
      const stream = listener.stream();
      await listener.listen('uncaught_chan', (n) => {
        if (n.payload === 'boom') throw new Error('handler threw on boom');
      });
      await listener.notify('uncaught_chan', 'boom');
      await listener.notify('uncaught_chan', 'next');
      for await (const item of stream) {
        console.log('item:', item.payload);
        if (item.payload === 'next') break;
      }
      console.log('same pid:', listener.processId === pid, listener.state);
      await listener.close();
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n').filter(Boolean)).toEqual([
      'uncaught: handler threw on boom',
      'item: boom',
      'item: next',
      'same pid: true listening',
    ]);
    expect(result.code).toBe(0);
  });

  it('without any handler, the process ends as for any uncaught exception', async () => {
    const result = await script(`
      const listener = await pq.createListener(process.env.PQN_URL);
      await listener.listen('uncaught_chan2', () => { throw new Error('nobody catches this'); });
      await listener.notify('uncaught_chan2', 'x');
      await new Promise(() => setInterval(() => {}, 1000));
    `);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('nobody catches this');
  });

  it("a Connection's throwing notice listener is an uncaught exception, and the connection goes on", async () => {
    const result = await script(`
      process.on('uncaughtException', (error) => console.log('uncaught:', error.message));
      const conn = await pq.connect(process.env.PQN_URL);
      conn.on('notice', () => { throw new Error('notice listener threw'); });
      await conn.exec("DO $$ BEGIN RAISE NOTICE 'hello'; END $$");
      const result = await conn.exec('SELECT 41 + 1');
      console.log('after:', result.rows[0][0], conn.status);
      await conn.close();
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n').filter(Boolean).sort()).toEqual([
      'after: 42 ok',
      'uncaught: notice listener threw',
    ]);
    expect(result.code).toBe(0);
  });
});
