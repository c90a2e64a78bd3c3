import {
  inTable,
  L_CAT_D2,
  MAPPED_TO_NOTHING_B1,
  NON_ASCII_SPACE_C12,
  PROHIBITED_OUTPUT,
  RAND_AL_CAT_D1,
  UNASSIGNED_A1,
} from './stringprep-tables.js';

/** Why SASLprep refused a string. */
export type SaslprepFailure =
  /** Nothing is left once the "mapped to nothing" characters are removed. */
  | 'empty'
  /** A character of the prohibited output tables (C.1.2, C.2.1, C.2.2, C.3 to C.9). */
  | 'prohibited'
  /** A code point unassigned in Unicode 3.2 (table A.1). */
  | 'unassigned'
  /** Right-to-left characters mixed with left-to-right ones, or not at both ends (RFC 3454 section 6). */
  | 'bidi';

/** Outcome of `saslprep`: the prepared string, or why there is none. Never holds the input. */
export type SaslprepResult = { ok: true; value: string } | { ok: false; reason: SaslprepFailure };

/**
 * SASLprep (RFC 4013) of `input`, as PostgreSQL's pg_saslprep does it: map non-ASCII spaces
 * (C.1.2) to U+0020 and the B.1 characters to nothing, normalize with NFKC, then refuse
 * prohibited (C.1.2, C.2.1, C.2.2, C.3 to C.9) and Unicode 3.2 unassigned (A.1) code points
 * and check the bidirectional rules with D.1 and D.2; an empty result is refused too. Two
 * choices follow PostgreSQL rather than a strict reading of RFC 3454, because the point is
 * to produce the bytes the server hashed: U+200B, listed in both C.1.2 and B.1, becomes a
 * space; and the prohibition and bidi checks look at the mapped string before normalization
 * (so U+0340, prohibited, is refused although NFKC would turn it into U+0300). NFKC comes from
 * String.prototype.normalize (the Unicode version of Node's ICU); any code point that
 * normalization could treat differently across versions is unassigned in 3.2 and refused
 * beforehand. Pure computation, does not block on anything; the result is a new string.
 */
export function saslprep(input: string): SaslprepResult {
  const mapped: number[] = [];
  let text = '';
  for (const character of input) {
    const codePoint = character.codePointAt(0)!;
    if (inTable(NON_ASCII_SPACE_C12, codePoint)) {
      mapped.push(0x20);
      text += ' ';
    } else if (!inTable(MAPPED_TO_NOTHING_B1, codePoint)) {
      mapped.push(codePoint);
      text += character;
    }
  }
  if (mapped.length === 0) return { ok: false, reason: 'empty' };

  let randAlCat = false;
  for (const codePoint of mapped) {
    if (PROHIBITED_OUTPUT.some((table) => inTable(table, codePoint))) {
      return { ok: false, reason: 'prohibited' };
    }
    if (inTable(UNASSIGNED_A1, codePoint)) return { ok: false, reason: 'unassigned' };
    if (inTable(RAND_AL_CAT_D1, codePoint)) randAlCat = true;
  }
  if (randAlCat) {
    const mixed = mapped.some((codePoint) => inTable(L_CAT_D2, codePoint));
    const first = mapped[0]!;
    const last = mapped[mapped.length - 1]!;
    if (mixed || !inTable(RAND_AL_CAT_D1, first) || !inTable(RAND_AL_CAT_D1, last)) {
      return { ok: false, reason: 'bidi' };
    }
  }
  return { ok: true, value: text.normalize('NFKC') };
}

/**
 * The bytes SCRAM hashes for `password`: its SASLprep form in UTF-8, or, when SASLprep refuses
 * it, the password's own UTF-8 bytes, as libpq does (pg_saslprep failing with
 * SASLPREP_INVALID_UTF8 or SASLPREP_PROHIBITED means "use the password as is"). An unpaired
 * surrogate, which UTF-8 cannot carry, is encoded as U+FFFD like every Node string conversion.
 * Does not block. Returns a new buffer that the caller owns and should zero after use.
 */
export function scramPasswordBytes(password: string): Uint8Array {
  const prepared = saslprep(password);
  return Buffer.from(prepared.ok ? prepared.value : password, 'utf8');
}
