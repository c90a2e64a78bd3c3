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

describe('the declarations in dist', () => {
  it.each(['dist/index.d.ts', 'dist/protocol/index.d.ts'])(
    '%s: every export carries its doc comment',
    async (file) => {
      const ts = (await import('typescript')).default;
      const program = ts.createProgram([file], { strict: true, skipLibCheck: true });
      const checker = program.getTypeChecker();
      const source = program.getSourceFile(file);
      const module = source && checker.getSymbolAtLocation(source);
      if (!module) throw new Error(`cannot read ${file}`);
      const exports = checker.getExportsOfModule(module);
      expect(exports.length).toBeGreaterThan(20);
      const undocumented = exports
        .filter((symbol) => {
          const target =
            symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
          return ts.displayPartsToString(target.getDocumentationComment(checker)).trim() === '';
        })
        .map((symbol) => symbol.name);
      expect(undocumented).toEqual([]);
    },
  );
});
