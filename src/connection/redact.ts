/**
 * The one place that decides what of a user's input may be shown. Every message that quotes a
 * connection string, a URL or a part of one goes through `excerpt` (with the spans the
 * conninfo scanner found) or `redactMessage` (free text, such as the CLI's last line):
 *
 * - the values of secret keywords (`password=...`, `sslpassword=...`, quoted or not; an
 *   unterminated quote hides the rest of the text);
 * - the password of anything URL-shaped, whatever its scheme (`http://u:pass@h`,
 *   `postgress://u:pass@h`), and of a bare `user:pass@host` word. In an input, the password
 *   runs to the last "@" (so `p@ss@host` and a password with a space are hidden whole); in a
 *   message, to the last "@" of the same word.
 *
 * Masked characters are shown as one `***` per run. Redaction is lenient on purpose: it may
 * hide more than the secret, never less of what these rules describe.
 */

/** Keywords whose values are secrets: never quoted in messages, masked in excerpts. */
export const SECRET_KEYWORDS: ReadonlySet<string> = new Set([
  'password',
  'sslpassword',
  'oauth_client_secret',
  'scram_client_key',
  'scram_server_key',
]);

/** `[start, end)` of text to hide, 0-based. */
export type Span = readonly [start: number, end: number];

/** How far a URL-shaped password may reach: the whole input, or the word it starts in. */
type Reach = 'input' | 'message';

const SECRET_ASSIGNMENT =
  /(?:^|[\s?&'"(])(password|sslpassword|oauth_client_secret|scram_client_key|scram_server_key)\s*=\s*/g;

function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';
}

/** The end of the word that contains `from` (the next whitespace, or the end). */
function wordEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length && !isSpace(text[i])) i++;
  return i;
}

/** The start of the word that contains `at`. */
function wordStart(text: string, at: number): number {
  let i = at;
  while (i > 0 && !isSpace(text[i - 1])) i--;
  return i;
}

/**
 * Spans of `text` that hold secrets by the rules of the module comment, found without
 * parsing. `reach` is 'input' for a connection string (a password may contain spaces and
 * "@"), 'message' for free text that merely quotes parts of one. Without `assignments`, only
 * URL-shaped passwords are looked for (a URI's query is read exactly by its parser).
 */
export function secretSpans(text: string, reach: Reach, assignments = true): Span[] {
  const spans: Span[] = [];
  for (const match of assignments ? text.matchAll(SECRET_ASSIGNMENT) : []) {
    const start = match.index + match[0].length;
    if (text[start] === "'") {
      let i = start + 1;
      while (i < text.length && text[i] !== "'") i += text[i] === '\\' ? 2 : 1;
      spans.push([start, Math.min(i + 1, text.length)]);
    } else {
      let end = wordEnd(text, start);
      if (reach === 'message' && text[end - 1] === '"') end--;
      // In an input, the words that follow up to the next keyword=value are probably the
      // rest of an unquoted password with spaces.
      while (reach === 'input' && end < text.length) {
        let next = end;
        while (next < text.length && isSpace(text[next])) next++;
        const after = wordEnd(text, next);
        if (next === text.length || text.slice(next, after).includes('=')) break;
        end = after;
      }
      spans.push([start, end]);
    }
  }
  userinfoSpans(text, reach, spans);
  return spans;
}

/**
 * Passwords of URL-shaped words: after `scheme://user:` (any scheme), or after the first ":"
 * of a word with no "=" before it, up to the "@" that ends the user info.
 */
function userinfoSpans(text: string, reach: Reach, spans: Span[]): void {
  let from = 0;
  while (from < text.length) {
    const scheme = text.indexOf('://', from);
    const regionEnd = scheme === -1 ? text.length : scheme;
    // Bare `user:pass@host` words before the next scheme.
    let i = from;
    while (i < regionEnd) {
      while (i < regionEnd && isSpace(text[i])) i++;
      const end = wordEnd(text, i);
      const word = text.slice(i, Math.min(end, regionEnd));
      const colon = word.indexOf(':');
      const eq = word.indexOf('=');
      if (colon > 0 && (eq === -1 || eq > colon)) {
        const limit = reach === 'input' ? regionEnd : Math.min(end, regionEnd);
        const at = text.lastIndexOf('@', limit - 1);
        if (at > i + colon) spans.push([i + colon + 1, at]);
      }
      i = end;
    }
    if (scheme === -1) return;
    const start = scheme + 3;
    const next = text.indexOf('://', start);
    const limit =
      reach === 'input'
        ? next === -1
          ? text.length
          : wordStart(text, next)
        : wordEnd(text, start);
    const colon = text.indexOf(':', start);
    const at = text.lastIndexOf('@', limit - 1);
    const colonLimit = reach === 'input' ? at : wordEnd(text, start);
    if (colon !== -1 && colon < colonLimit && at > colon) spans.push([colon + 1, at]);
    from = next === -1 ? text.length : wordStart(text, next);
    if (from <= scheme) from = start;
  }
}

/**
 * `text[start, end)` with every character inside `spans` hidden, each hidden run shown as
 * `***`. For error messages that quote part of an input.
 */
export function excerpt(
  text: string,
  spans: readonly Span[],
  start = 0,
  end = text.length,
): string {
  const hidden = new Uint8Array(text.length);
  for (const [a, b] of spans) hidden.fill(1, Math.max(a, 0), Math.min(b, text.length));
  let out = '';
  for (let i = start; i < end; i++) {
    if (hidden[i] === 1) {
      if (i === start || hidden[i - 1] !== 1) out += '***';
    } else {
      out += text[i];
    }
  }
  return out;
}

/** Free text (an error message, a log line) with every secret the rules can see hidden. */
export function redactMessage(text: string): string {
  return excerpt(text, secretSpans(text, 'message'));
}
