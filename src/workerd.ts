/**
 * pqnotify under Cloudflare Workers and workerd, which a bundler picks through the package's
 * `workerd` export condition: everything the main entry has, with the Workers transport
 * (`cloudflare:sockets`, see workersDialer) as the dialer of every connect(), Listener and
 * DurableStream given none. Needs the `nodejs_compat` compatibility flag (Buffer, EventEmitter,
 * node:crypto for SCRAM). What the platform cannot honour (a root certificate file, client
 * certificates, sslmode=require without verification, Unix sockets...) is refused with a
 * ConnectionError naming it; see workersRefusal. Loading this module installs the default
 * dialer (package.json lists it under `sideEffects`, so bundlers keep that statement).
 */
import { connect } from 'cloudflare:sockets';
import { workersDialer } from './socket/cloudflare.js';
import { installDefaultDialer } from './socket/default-dialer.js';

installDefaultDialer(workersDialer(connect));

export * from './index.js';
export {
  type WorkersConnect,
  type WorkersSocket,
  workersDialer,
  workersRefusal,
} from './socket/cloudflare.js';
