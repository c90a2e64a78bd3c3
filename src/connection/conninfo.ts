/**
 * libpq connection strings and their resolution, in two parts:
 *
 * - conninfo-parse.ts: parseConninfo splits `keyword=value` lists and `postgres://` URIs into
 *   keywords, as libpq's PQconninfoParse does; redactConninfo hides their secrets.
 * - conninfo-resolve.ts: resolveConfig merges a connection string or options object,
 *   overrides and the PG* environment into a checked ConnectionConfig (types in config.ts).
 */
export {
  CONNINFO_KEYWORDS,
  type ConninfoKeyword,
  parseConninfo,
  redactConninfo,
} from './conninfo-parse.js';
export { defaultSocketDir, libpqVariables, resolveConfig } from './conninfo-resolve.js';
