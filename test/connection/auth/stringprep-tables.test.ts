import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import * as tables from '../../../src/connection/auth/stringprep-tables.js';

// Python's stringprep module implements the RFC 3454 tables on its Unicode 3.2 database.
const script = `
import json, stringprep
names = ['a1', 'b1', 'c12', 'c21', 'c22', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'd1', 'd2']
result = {}
for name in names:
    test = getattr(stringprep, 'in_table_' + name)
    ranges, start = [], None
    for cp in range(0x110000):
        inside = test(chr(cp))
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            ranges += [start, cp - 1]
            start = None
    if start is not None:
        ranges += [start, 0x10FFFF]
    result[name] = ranges
print(json.dumps(result))
`;

const python = spawnSync('python3', ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 24 });
const reference: Record<string, number[]> | undefined =
  python.status === 0 ? JSON.parse(python.stdout) : undefined;

describe.skipIf(reference === undefined)('stringprep tables against Python stringprep', () => {
  it.each([
    ['a1', tables.UNASSIGNED_A1],
    ['b1', tables.MAPPED_TO_NOTHING_B1],
    ['c12', tables.NON_ASCII_SPACE_C12],
    ['c21', tables.ASCII_CONTROL_C21],
    ['c22', tables.NON_ASCII_CONTROL_C22],
    ['c3', tables.PRIVATE_USE_C3],
    ['c4', tables.NON_CHARACTER_C4],
    ['c5', tables.SURROGATE_C5],
    ['c6', tables.NOT_PLAIN_TEXT_C6],
    ['c7', tables.NOT_CANONICAL_C7],
    ['c8', tables.DISPLAY_PROPERTY_C8],
    ['c9', tables.TAGGING_C9],
    ['d1', tables.RAND_AL_CAT_D1],
    ['d2', tables.L_CAT_D2],
  ])('table %s matches', (name, table) => {
    expect(Array.from(table)).toEqual(reference?.[name]);
  });
});

describe('inTable', () => {
  it('finds the ends of ranges and nothing between them', () => {
    const table = Uint32Array.from([5, 5, 10, 20, 30, 30]);
    const inside = [5, 10, 15, 20, 30];
    const outside = [0, 4, 6, 9, 21, 29, 31, 0x10ffff];
    for (const codePoint of inside) expect(tables.inTable(table, codePoint)).toBe(true);
    for (const codePoint of outside) expect(tables.inTable(table, codePoint)).toBe(false);
    expect(tables.inTable(new Uint32Array(), 0)).toBe(false);
  });

  it('lists every prohibited-output table of RFC 4013 section 2.3', () => {
    expect(tables.PROHIBITED_OUTPUT).toHaveLength(10);
  });
});
