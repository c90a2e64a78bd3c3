import { dialSocket } from './socket.js';
import type { Dialer } from './transport.js';

/** The dialer a platform entry of the package installed, if any (see installDefaultDialer). */
let installed: Dialer | undefined;

/**
 * The dialer connect() uses when it is given none: the one the package's entry for the running
 * platform installed when it loaded (the `workerd` entry installs the Workers dialer), else
 * Node's sockets (dialSocket), which Bun and Deno run too.
 */
export function defaultDialer(): Dialer {
  return installed ?? dialSocket;
}

/**
 * Makes `dialer` the default of every later connect() given no dialer of its own. Called once,
 * by a platform entry of the package as it loads (a program runs on one platform), never by
 * library code.
 */
export function installDefaultDialer(dialer: Dialer): void {
  installed = dialer;
}
