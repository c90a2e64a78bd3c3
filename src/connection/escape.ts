function assertNoNul(value: string, what: string): void {
  if (value.includes('\0')) throw new TypeError(`${what} cannot contain a NUL character`);
}

/**
 * libpq's PQescapeIdentifier: `value` as a quoted SQL identifier ("My ""table"""), so that
 * it keeps its case, spaces and quotes. Throws TypeError on a NUL character.
 */
export function escapeIdentifier(value: string): string {
  assertNoNul(value, 'an identifier');
  return `"${value.replaceAll('"', '""')}"`;
}

/**
 * libpq's PQescapeLiteral: `value` as a quoted SQL string literal. Quotes are doubled; a
 * value with backslashes is written as an E'' literal with doubled backslashes, which
 * reads the same whatever standard_conforming_strings is; like libpq, that form starts with
 * a space (" E'a\\\\b'") so it cannot run into a preceding identifier. Throws TypeError on a NUL.
 */
export function escapeLiteral(value: string): string {
  assertNoNul(value, 'a literal');
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? ` E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}
