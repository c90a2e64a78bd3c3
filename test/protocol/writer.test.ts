import { describe, expect, it } from 'vitest';
import { Writer, writeBackendMessage, writeQuery, writeSync } from '../../src/protocol/index.js';

describe('Writer', () => {
  it('fills in the length of each message and grows as needed', () => {
    const w = new Writer(1);
    w.beginMessage(0x51).cstring('x'.repeat(5000)).finishMessage();
    writeSync(w);
    const bytes = w.toBytes();
    expect(bytes.length).toBe(1 + 4 + 5001 + 5);
    expect(Array.from(bytes.subarray(0, 5))).toEqual([0x51, 0, 0, 0x13, 0x8d]);
    expect(Array.from(bytes.subarray(5006))).toEqual([0x53, 0, 0, 0, 4]);
  });

  it('writes big-endian integers, signed and unsigned', () => {
    const w = new Writer();
    w.uint8(255).uint8(-1).int16(-2).int16(0xfffe).int32(-1).int32(0xfffffffe).int32(0x01020304);
    expect(Array.from(w.toBytes())).toEqual([
      255, 255, 0xff, 0xfe, 0xff, 0xfe, 255, 255, 255, 255, 255, 255, 255, 0xfe, 1, 2, 3, 4,
    ]);
  });

  it('encodes UTF-8, including surrogate pairs and long strings', () => {
    const w = new Writer(2);
    const long = `${'a'.repeat(20000)}é`;
    w.utf8('aé€😀').utf8(long);
    const expected = new TextEncoder().encode(`aé€😀${long}`);
    expect(w.toBytes()).toEqual(expected);
  });

  it('writes length-prefixed values: null, bytes and text', () => {
    const w = new Writer();
    w.lengthPrefixed(null).lengthPrefixed(Uint8Array.of(7)).lengthPrefixed('é');
    expect(Array.from(w.toBytes())).toEqual([
      255, 255, 255, 255, 0, 0, 0, 1, 7, 0, 0, 0, 2, 0xc3, 0xa9,
    ]);
  });

  it('returns a copy from toBytes that survives reset and reuse', () => {
    const w = new Writer();
    writeQuery(w, 'SELECT 1');
    const first = w.toBytes();
    const copy = first.slice();
    w.reset();
    expect(w.length).toBe(0);
    writeQuery(w, 'SELECT 2');
    expect(first).toEqual(copy);
  });

  it('makes room for the length of a message begun at the end of its buffer', () => {
    const w = new Writer(16);
    for (let i = 0; i < 15; i++) w.uint8(i);
    writeSync(w);
    w.beginUntypedMessage().int32(1).finishMessage();
    expect(Array.from(w.toBytes().subarray(15))).toEqual([
      0x53, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0, 0, 1,
    ]);
  });

  it('hands its bytes over with takeBytes and starts again from no buffer', () => {
    const w = new Writer(16);
    writeQuery(w, 'SELECT 1');
    const first = w.takeBytes();
    const copy = first.slice();
    expect(w.length).toBe(0);
    writeQuery(w, 'SELECT 2');
    expect(first).toEqual(copy);
    const second = w.takeBytes();
    expect(second.buffer).not.toBe(first.buffer);
    expect(Array.from(second.subarray(5))).toEqual(
      Array.from(new TextEncoder().encode('SELECT 2\0')),
    );
    expect(w.takeBytes().length).toBe(0);
  });

  it('drops a partly written message when a field is rejected', () => {
    const w = new Writer();
    writeSync(w);
    expect(() => w.beginMessage(0x51).cstring('ok').cstring('bad\0')).toThrow(TypeError);
    expect(() => w.beginMessage(0x42).int16(70000)).toThrow(RangeError);
    expect(() => w.beginMessage(0x42).int32(2 ** 32)).toThrow(RangeError);
    expect(() => w.beginMessage(0x42).uint8(1.5)).toThrow(RangeError);
    expect(() =>
      writeBackendMessage(w, { type: 'DataRow', values: new Array(70000).fill(null) }),
    ).toThrow(RangeError);
    expect(Array.from(w.toBytes())).toEqual([0x53, 0, 0, 0, 4]);
    writeSync(w);
    expect(w.length).toBe(10);
  });

  it('refuses to nest or to finish a message that was not begun', () => {
    const w = new Writer();
    expect(() => w.finishMessage()).toThrow(/without beginMessage/);
    w.beginMessage(0x53);
    expect(() => w.beginMessage(0x53)).toThrow(/another message is open/);
    w.finishMessage();
    expect(w.length).toBe(5);
  });

  it('checks backend encoder arguments before writing anything', () => {
    const w = new Writer();
    expect(() =>
      writeBackendMessage(w, { type: 'AuthenticationMD5Password', salt: new Uint8Array(3) }),
    ).toThrow(RangeError);
    expect(() =>
      writeBackendMessage(w, { type: 'AuthenticationSASL', mechanisms: ['A', ''] }),
    ).toThrow(RangeError);
    expect(() =>
      writeBackendMessage(w, {
        type: 'BackendKeyData',
        processId: 1,
        secretKey: new Uint8Array(2),
      }),
    ).toThrow(RangeError);
    expect(() =>
      writeBackendMessage(w, { type: 'NoticeResponse', fields: { unknown: { ab: 'x' } } }),
    ).toThrow(RangeError);
    expect(w.length).toBe(0);
  });
});
