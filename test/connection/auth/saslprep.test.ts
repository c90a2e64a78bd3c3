import { describe, expect, it } from 'vitest';
import { saslprep, scramPasswordBytes } from '../../../src/connection/auth/saslprep.js';

describe('saslprep: RFC 4013 section 3 examples', () => {
  it.each([
    ['I\u00ADX', 'IX'],
    ['user', 'user'],
    ['USER', 'USER'],
    ['\u00AA', 'a'],
    ['\u2168', 'IX'],
  ])('prepares %j as %j', (input, output) => {
    expect(saslprep(input)).toEqual({ ok: true, value: output });
  });

  it('refuses U+0007 as prohibited', () => {
    expect(saslprep('\u0007')).toEqual({ ok: false, reason: 'prohibited' });
  });

  it('refuses U+0627 U+0031 for the bidi rule', () => {
    expect(saslprep('\u0627\u0031')).toEqual({ ok: false, reason: 'bidi' });
  });
});

describe('saslprep: mapping, normalization and checks', () => {
  it('maps non-ASCII spaces to U+0020 and removes B.1 characters', () => {
    expect(saslprep('a\u00A0b\u3000c\u2003d')).toEqual({ ok: true, value: 'a b c d' });
    expect(saslprep('a\u034Fb\uFEFFc\uFE0Fd\u200De')).toEqual({ ok: true, value: 'abcde' });
  });

  it('maps U+200B, in both C.1.2 and B.1, to a space as PostgreSQL does', () => {
    expect(saslprep('a\u200Bb')).toEqual({ ok: true, value: 'a b' });
  });

  it('normalizes with NFKC', () => {
    expect(saslprep('\uFB01x')).toEqual({ ok: true, value: 'fix' });
    expect(saslprep('e\u0301')).toEqual({ ok: true, value: '\u00E9' });
    expect(saslprep('\uFF21\uFF22')).toEqual({ ok: true, value: 'AB' });
  });

  it('refuses a string that maps to nothing', () => {
    expect(saslprep('')).toEqual({ ok: false, reason: 'empty' });
    expect(saslprep('\u00AD\u200C\u200D')).toEqual({ ok: false, reason: 'empty' });
  });

  it.each([
    ['a C.2.1 control', 'a\u007Fb'],
    ['a C.2.2 control', 'a\u0085b'],
    ['a private use character', 'a\uE000'],
    ['a non-character', 'a\uFFFF'],
    ['an unpaired surrogate', 'a\uD800'],
    ['a C.6 character', 'a\uFFFD'],
    ['a C.7 character', '\u2FF0'],
    ['a tagging character', 'a\u{E0041}'],
    ['a plane 15 private use character', '\u{F0000}'],
  ])('refuses %s as prohibited', (_name, input) => {
    expect(saslprep(input)).toEqual({ ok: false, reason: 'prohibited' });
  });

  it('checks the mapped string before normalization, as PostgreSQL does', () => {
    expect('\u0340'.normalize('NFKC')).toBe('\u0300');
    expect(saslprep('a\u0340')).toEqual({ ok: false, reason: 'prohibited' });
  });

  it('refuses code points unassigned in Unicode 3.2', () => {
    expect(saslprep('a\u0221')).toEqual({ ok: false, reason: 'unassigned' });
    expect(saslprep('smile\u{1F600}')).toEqual({ ok: false, reason: 'unassigned' });
  });

  it('accepts right-to-left text that follows the bidi rules', () => {
    expect(saslprep('\u0627\u0031\u0628')).toEqual({ ok: true, value: '\u0627\u0031\u0628' });
    expect(saslprep('\u05D0\u05D1')).toEqual({ ok: true, value: '\u05D0\u05D1' });
  });

  it('refuses right-to-left text mixed with left-to-right letters', () => {
    expect(saslprep('\u0627a\u0628')).toEqual({ ok: false, reason: 'bidi' });
    expect(saslprep('1\u0627')).toEqual({ ok: false, reason: 'bidi' });
  });
});

describe('scramPasswordBytes', () => {
  it('gives the SASLprep form in UTF-8', () => {
    expect(Buffer.from(scramPasswordBytes('I\u00ADX\u00AA')).toString('utf8')).toBe('IXa');
  });

  it('gives the password as it is when SASLprep refuses it', () => {
    expect(Buffer.from(scramPasswordBytes('\u0627\u0031')).toString('utf8')).toBe('\u0627\u0031');
    expect(Buffer.from(scramPasswordBytes('bell\u0007'))).toEqual(Buffer.from('bell\u0007'));
    expect(Buffer.from(scramPasswordBytes('a\u0340'))).toEqual(Buffer.from('a\u0340'));
    expect(scramPasswordBytes('')).toHaveLength(0);
  });
});
