/** The module Cloudflare Workers (and workerd) provide for outbound TCP, as far as pqnotify uses it. */
declare module 'cloudflare:sockets' {
  export const connect: import('./cloudflare.js').WorkersConnect;
}
