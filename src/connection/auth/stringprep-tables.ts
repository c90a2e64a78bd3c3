/**
 * The tables of RFC 3454 (stringprep) that SASLprep (RFC 4013) uses, as sorted arrays of
 * inclusive code point ranges: [first0, last0, first1, last1, ...]. They are the Unicode 3.2
 * tables of the RFC, the same ones PostgreSQL's src/common/saslprep.c uses, so a password is
 * prepared the way the server prepared it when the role's SCRAM secret was made.
 *
 * The two long tables (A.1, D.2) are kept packed: comma-separated base-36 tokens
 * "gap[+span]", where gap is the distance from the end of the previous range plus one (from 0
 * for the first) to the first code point, and span is last minus first (absent for a single
 * code point). test/connection/auth/stringprep-tables.test.ts checks every table against
 * Python's stringprep module when python3 is installed.
 */

/** Unpacks a table in the "gap[+span]" form described above. Runs once, at module load. */
function unpack(packed: string): Uint32Array {
  const tokens = packed.split(',');
  const ranges = new Uint32Array(tokens.length * 2);
  let next = 0;
  for (let i = 0; i < tokens.length; i++) {
    const [gap = '', span = '0'] = (tokens[i] ?? '').split('+');
    const first = next + Number.parseInt(gap, 36);
    const last = first + Number.parseInt(span, 36);
    ranges[2 * i] = first;
    ranges[2 * i + 1] = last;
    next = last + 1;
  }
  return ranges;
}

/** True when `codePoint` lies in one of the inclusive ranges of `table` (binary search). */
export function inTable(table: Uint32Array, codePoint: number): boolean {
  let low = 0;
  let high = table.length / 2 - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (codePoint < table[2 * middle]!) high = middle - 1;
    else if (codePoint > table[2 * middle + 1]!) low = middle + 1;
    else return true;
  }
  return false;
}

/** A.1: code points unassigned in Unicode 3.2. */
export const UNASSIGNED_A1 = unpack(
  'f5,i+r,2m+1,1r+g,28+f,g+3,2+3,1+2,1+4,7,1,k,18,13+8,3r,1z,12+1,2+5,g+w,12+1,7,13,2+5,h,' +
    'n,a+a,r+4,5+m,1+d,1+2,1,q+4,m+9,3y+1,f,e,u+2,r+1g,1e+9a,3,1h+1,i+1,5+2,p+f,3,8+1,2+1,m,' +
    '7,1+2,4+1,1,7+1,2+1,3+8,1+3,2,5+1,l+6,1+1,6+3,2+1,m,7,2,2,2+1,1,5+3,2+1,3+a,4,1+6,f+b,3,' +
    '7,1,3,m,7,2,5+1,a,3,3+1,1+e,1+4,a+g,3,8+1,2+1,m,7,2+1,4+1,8+2,2+1,3+7,2+3,2,3+3,b+g,2,' +
    '6+2,3,4+2,2,1,2+2,2+2,3+2,8,3+3,5+2,3,4+8,1+e,c+d,3,8,3,n,a,5+3,7,3,4+6,2+8,2+3,a+h,2,8,' +
    '3,n,a,5+3,7,3,4+6,2+6,1,2+3,a+h,2,8,3,n,g+3,6+1,3,4+8,1+7,2+3,a+h,2,i+2,o,9,1+1,7+2,1+3,' +
    '6,1,8+h,3+b,1m+3,t+10,2,1+1,2,1+1,1+5,4,7,3,1,1+1,2,d,3+1,5,1,6+1,a+1,2+x,20,y+5,r+3,8,' +
    '10,f+1,1+1b,y,5,2,7+2,4+5,q+1x,12+9,15+1,1+3,2i+4,1w+4,2a+5,7,1r,1,4+1,7,1,4+1,13,1,4+1,' +
    'v,1,4+1,7,1,4+1,7,7,n,v,1,4+1,7,13,j+5,s+y,2d+b,hi+8,t+2,29+e,d,7+a,n+8,k+b,d,3,2+b,' +
    '2l+2,a+l,f,a+5,2g+7,16+11x,4c+3,2i+5,m+1,6+1,12+1,6+1,8,1,1,1,v+1,1h,f,e+1,6,j+1,3,9,' +
    '2b+3,1+6,5+5,8+1,r+g,i+t,r+k,1n+1,f+6,1d+b,fz+1c,13+o,b+k,4f,7o+1,2,2t+1,a+3a,4,4+1,s,z,' +
    '1,4+2,1,7+1,1g+2,o,e+g,s+3,ls+ov,q,2h+b,5y+p,c+3,1s,2e+1,2v+4,14+3,2m,14+1j,19+2,10+c,' +
    '17+2,25+3,1b,3b+3,2r+1,v,52u+21,g4m+2h,wd+2,1j+1fc,8mc+2j,6r2+1,1n+44,7+b,5+4,q,5,1,2,2,' +
    '30+w,a5+f,1s+1,1i+7,19+2,g+f,4+b,n+1,a,j,4+3,5,3r+1,1,5a+2,6+1,6+1,6+1,3+2,7,7+9,7+lb,v,' +
    '4+b,r+50,12+1,12+148h,6u+9,13+2,50+f5,2d,1z,2+1,1+1,2+1,4,c,1,4,2,1t,4+1,8,7,s,4,5,1+2,' +
    '7,9e+3,82+3,1e+7wd,wyh+g14,f2+15r,2+1ekd,2+1ekd,2+1ekd,2+1ekd,2+1ekd,2+1ekd,2+1ekd,' +
    '2+1ekd,2+1ekd,2+1ekd,2+1ekd,2,1+t,2o+1egt',
);

/** B.1: characters commonly mapped to nothing (SASLprep removes them). */
export const MAPPED_TO_NOTHING_B1 = Uint32Array.from([
  0x00ad, 0x00ad, 0x034f, 0x034f, 0x1806, 0x1806, 0x180b, 0x180d, 0x200b, 0x200d, 0x2060, 0x2060,
  0xfe00, 0xfe0f, 0xfeff, 0xfeff,
]);

/** C.1.2: non-ASCII space characters (SASLprep maps them to U+0020, and prohibits them). */
export const NON_ASCII_SPACE_C12 = Uint32Array.from([
  0x00a0, 0x00a0, 0x1680, 0x1680, 0x2000, 0x200b, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000,
]);

/** C.2.1: ASCII control characters. */
export const ASCII_CONTROL_C21 = Uint32Array.from([0x0000, 0x001f, 0x007f, 0x007f]);

/** C.2.2: non-ASCII control characters. */
export const NON_ASCII_CONTROL_C22 = Uint32Array.from([
  0x0080, 0x009f, 0x06dd, 0x06dd, 0x070f, 0x070f, 0x180e, 0x180e, 0x200c, 0x200d, 0x2028, 0x2029,
  0x2060, 0x2063, 0x206a, 0x206f, 0xfeff, 0xfeff, 0xfff9, 0xfffc, 0x1d173, 0x1d17a,
]);

/** C.3: private use. */
export const PRIVATE_USE_C3 = Uint32Array.from([
  0xe000, 0xf8ff, 0xf0000, 0xffffd, 0x100000, 0x10fffd,
]);

/** C.4: non-character code points. */
export const NON_CHARACTER_C4 = Uint32Array.from([
  0xfdd0, 0xfdef, 0xfffe, 0xffff, 0x1fffe, 0x1ffff, 0x2fffe, 0x2ffff, 0x3fffe, 0x3ffff, 0x4fffe,
  0x4ffff, 0x5fffe, 0x5ffff, 0x6fffe, 0x6ffff, 0x7fffe, 0x7ffff, 0x8fffe, 0x8ffff, 0x9fffe, 0x9ffff,
  0xafffe, 0xaffff, 0xbfffe, 0xbffff, 0xcfffe, 0xcffff, 0xdfffe, 0xdffff, 0xefffe, 0xeffff, 0xffffe,
  0xfffff, 0x10fffe, 0x10ffff,
]);

/** C.5: surrogate code points (a JavaScript string can hold them unpaired). */
export const SURROGATE_C5 = Uint32Array.from([0xd800, 0xdfff]);

/** C.6: inappropriate for plain text. */
export const NOT_PLAIN_TEXT_C6 = Uint32Array.from([0xfff9, 0xfffd]);

/** C.7: inappropriate for canonical representation. */
export const NOT_CANONICAL_C7 = Uint32Array.from([0x2ff0, 0x2ffb]);

/** C.8: change display properties or are deprecated. */
export const DISPLAY_PROPERTY_C8 = Uint32Array.from([
  0x0340, 0x0341, 0x200e, 0x200f, 0x202a, 0x202e, 0x206a, 0x206f,
]);

/** C.9: tagging characters. */
export const TAGGING_C9 = Uint32Array.from([0xe0001, 0xe0001, 0xe0020, 0xe007f]);

/** D.1: characters with bidirectional property R or AL. */
export const RAND_AL_CAT_D1 = Uint32Array.from([
  0x05be, 0x05be, 0x05c0, 0x05c0, 0x05c3, 0x05c3, 0x05d0, 0x05ea, 0x05f0, 0x05f4, 0x061b, 0x061b,
  0x061f, 0x061f, 0x0621, 0x063a, 0x0640, 0x064a, 0x066d, 0x066f, 0x0671, 0x06d5, 0x06dd, 0x06dd,
  0x06e5, 0x06e6, 0x06fa, 0x06fe, 0x0700, 0x070d, 0x0710, 0x0710, 0x0712, 0x072c, 0x0780, 0x07a5,
  0x07b1, 0x07b1, 0x200f, 0x200f, 0xfb1d, 0xfb1d, 0xfb1f, 0xfb28, 0xfb2a, 0xfb36, 0xfb38, 0xfb3c,
  0xfb3e, 0xfb3e, 0xfb40, 0xfb41, 0xfb43, 0xfb44, 0xfb46, 0xfbb1, 0xfbd3, 0xfd3d, 0xfd50, 0xfd8f,
  0xfd92, 0xfdc7, 0xfdf0, 0xfdfc, 0xfe70, 0xfe74, 0xfe76, 0xfefc,
]);

/** D.2: characters with bidirectional property L. */
export const L_CAT_D2 = unpack(
  '1t+p,6+p,1b,a,4,5+m,1+u,1+88,1+h,s+2l,2+8,2+6,e+1,e+4,9,3v,b,1+2,1,1+j,1+17,1+11,a+3m,' +
    '7+1w,1+11,2+1,6+f,x+11,2+6,1+12,1,op,1+1g,3+3,8+3,3,7+9,2+c,h+1,1+7,2+1,2+l,1+6,1,3+3,' +
    '4+2,6+1,2+1,a,4+1,1+2,4+b,2+6,a+5,4+1,2+l,1+6,1+1,1+1,1+1,4+2,o+3,1,7+9,2+2,e,1+6,1,1+2,' +
    '1+l,1+6,1+1,1+4,3+3,8,1+1,3,f,5+9,i+1,1+7,2+1,2+l,1+6,1+1,2+3,3+1,1,6+1,2+1,a,4+1,1+2,' +
    '4+a,i,1+5,3+2,1+3,3+1,1,1+1,3+1,3+2,3+7,1+2,4+1,1+1,3+2,1+2,a,f+b,e+2,1+7,1+2,1+m,1+9,' +
    '1+4,7+3,r+1,4+9,i+1,1+7,1+2,1+m,1+9,1+4,4,1+4,2+1,1+1,9+1,7,1+1,4+9,i+1,1+7,1+2,1+m,1+f,' +
    '4+2,5+2,1+2,a,8+1,4+9,i+1,1+h,3+n,1+8,1,2+6,8+2,6+7,i+2,c+1b,1+1,c+6,8+c,11+1,1,2+1,1,2,' +
    '6+3,1+6,1+2,1,1,2+1,1+3,1+1,9,2+4,1,9+9,2+1,y+n,2+q,1,1,5+9,1+x,k,5,2+3,1e+7,1+5,2,1c+x,' +
    '1+4,1+1,1,4,6,7+n,20+11,a+14,2,4+2h,5+1v,5+29,6+6,1+1q,1,1+3,2+6,1,1+3,2+12,1,1+3,2+u,1,' +
    '1+3,2+6,1,1+3,2+6,1+6,1+m,1+u,1,1+3,2+6,1+12,1+i,6+r,z+2c,c+hh,a+p,5+28,f+c,1+3,e+h,3+1,' +
    '9+h,e+c,1+2,f+1i,7+7,1+1,b+6,1,3+9,12+9,6+2f,8+14,11z+4b,4+2h,6+l,2+5,2+11,2+5,2+7,1,1,' +
    '1,1+u,2+1g,1+6,1,3+2,1+6,3+3,2+5,4+c,5+2,1+6,h,2q,d,3m,4,2+9,1,3+4,6,1,1,1+3,1+2,1+6,' +
    '3+2,5+4,m+z,c2+1w,q,7a+25,26z+2,p+8,7+4,2+4,4+2d,6+2,1+2h,1+3,5+13,4+2l,1+13,1k+18,3+z,' +
    's+r,3+1d,f+b,4+1a,1+3a,4+2q,2+u,1+52t,22+g4l,2i+wc,1gz+8mb,2k+6r1,2+1m,45+6,c+4,sp+p,' +
    '6+p,b+2g,3+5,2+5,2+5,2+2,mb+u,1+3,c+q,51+11,2+11,148i+6t,a+12,3+1o,3+8,g+1,7+t,4+1b,' +
    'f6+2c,1+1y,1+1,2,2+1,2+3,1+b,1,1+3,1+1,1+1s,1+3,2+7,1+6,1+r,1+3,1+4,1,3+6,1+9d,4+81,' +
    '7xy+wye,g15+f1,gvz6+1ekd,2+1ekd',
);

/** The tables SASLprep lists as prohibited output (RFC 4013 section 2.3). */
export const PROHIBITED_OUTPUT: readonly Uint32Array[] = [
  NON_ASCII_SPACE_C12,
  ASCII_CONTROL_C21,
  NON_ASCII_CONTROL_C22,
  PRIVATE_USE_C3,
  NON_CHARACTER_C4,
  SURROGATE_C5,
  NOT_PLAIN_TEXT_C6,
  NOT_CANONICAL_C7,
  DISPLAY_PROPERTY_C8,
  TAGGING_C9,
];
