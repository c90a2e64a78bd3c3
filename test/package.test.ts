import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** One NotificationResponse: pid 7, channel "c", payload "p". */
const frame = '[0x41, 0, 0, 0, 12, 0, 0, 0, 7, 0x63, 0, 0x70, 0]';

const esm = `
import { Decoder } from 'pqnotify/protocol';
import { connect, ConnectionError } from 'pqnotify';
const d = new Decoder();
d.push(new Uint8Array(${frame}));
console.log(JSON.stringify(d.next()), typeof connect, typeof ConnectionError);
`;

const cjs = `
const { Decoder } = require('pqnotify/protocol');
const { connect, ConnectionError } = require('pqnotify');
const d = new Decoder();
d.push(new Uint8Array(${frame}));
console.log(JSON.stringify(d.next()), typeof connect, typeof ConnectionError);
`;

const expected = `${JSON.stringify({ type: 'NotificationResponse', processId: 7, channel: 'c', payload: 'p' })} function function`;

describe('the built package (npm test builds it first)', () => {
  it('has ESM, CJS and declarations for both entry points', () => {
    for (const file of ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts']) {
      expect(existsSync(`dist/${file}`), `dist/${file}`).toBe(true);
      expect(existsSync(`dist/protocol/${file}`), `dist/protocol/${file}`).toBe(true);
    }
  });

  it('import works from an ES module', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', esm]);
    expect(stdout.trim()).toBe(expected);
  });

  it('require works from CommonJS', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=commonjs', '-e', cjs]);
    expect(stdout.trim()).toBe(expected);
  });
});
