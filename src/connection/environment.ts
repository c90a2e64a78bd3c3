/**
 * The one place where connection code reads what surrounds the process: environment variables
 * (PG*, HOME, APPDATA), the home directory, the operating system user name, network interface
 * names and files (the password file, TLS files, the defaults under ~/.postgresql, the
 * default socket directory).
 *
 * A runtime may refuse these reads: Deno without --allow-env, --allow-read or --allow-sys
 * throws `NotCapable` (`PermissionDenied` before Deno 2) from the node: APIs. Each case is
 * decided here, never left to surface from deep inside:
 * - an environment variable that may not be read counts as unset (libpq's getenv() finding
 *   nothing), with one warning naming the variables;
 * - a home directory that may not be read is unknown: ~/.pgpass and ~/.postgresql/ are not
 *   used, with a warning when one of them would have been;
 * - a default file whose existence may not be checked counts as absent (libpq treats any
 *   failed stat() so), with one warning;
 * - the password file that may not be read is skipped (libpq skips an unreadable one), with a
 *   warning;
 * - network interface names that may not be read are none (a link-local hostaddr with an
 *   interface name is then refused), with a warning;
 * - a file the settings name (a TLS file) that may not be checked or read, or the operating
 *   system user name (libpq's default user): a ConnectionError naming the permission.
 *
 * Other failures keep libpq's meaning: a file that is not there or that fs may not open
 * (ENOENT, EACCES) is absent, in silence.
 */
import { readFileSync, type Stats, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir, networkInterfaces, userInfo } from 'node:os';
import { join } from 'node:path';
import { ConnectionError, type ConnectionErrorCode } from './errors.js';

/** What is at a path, as System.stat and System.openFile report it. */
export interface FileStatus {
  /** A plain file, a directory, or anything else (a socket, a device, ...). */
  kind: 'file' | 'directory' | 'other';
  /** The permission bits (`stat.mode`), for the password file's check. */
  mode: number;
}

/** A file opened by System.openFile; the caller closes it. */
export interface OpenFile {
  /** What the open file is (checked on the handle, not the path). */
  readonly status: FileStatus;
  /** The whole file as UTF-8 text. */
  readText(): Promise<string>;
  /** Closes the file; never rejects. */
  close(): Promise<void>;
}

/**
 * The operating system as the connection code sees it, apart from environment variables.
 * `nodeSystem` (the default) uses node:os and node:fs; replace it in tests, or on a runtime
 * without a file system. Every method may throw: a runtime's permission error (Deno's
 * `NotCapable`), or the error fs gives (ENOENT, EACCES, ...). Paths are the caller's strings.
 */
export interface System {
  /** `process.platform`: 'win32' selects Windows' default locations and skips mode checks. */
  readonly platform: string;
  /**
   * The home directory from the user database (os.userInfo), else os.homedir (HOME first).
   * Deno gives the first with --allow-sys=userInfo, the second with --allow-sys=homedir.
   */
  homeDirectory(): string;
  /** The operating system user name (os.userInfo().username). */
  userName(): string;
  /** What is at `path`, synchronously; throws (ENOENT) when nothing is there. */
  stat(path: string): FileStatus;
  /** The whole file at `path`, synchronously. The bytes are the caller's. */
  readFile(path: string): Uint8Array;
  /** Opens `path` for reading. */
  openFile(path: string): Promise<OpenFile>;
  /** The names of the network interfaces (os.networkInterfaces). */
  networkInterfaceNames(): string[];
}

function statusOf(stats: Stats): FileStatus {
  const kind = stats.isFile() ? 'file' : stats.isDirectory() ? 'directory' : 'other';
  return { kind, mode: stats.mode };
}

/** System through node:os and node:fs, which Bun and Deno provide too. */
export const nodeSystem: System = {
  platform: process.platform,
  homeDirectory() {
    try {
      return userInfo().homedir || homedir();
    } catch (error) {
      if (!isPermissionError(error)) throw error;
      return homedir();
    }
  },
  userName: () => userInfo().username,
  stat: (path) => statusOf(statSync(path)),
  readFile: (path) => readFileSync(path),
  async openFile(path) {
    const handle = await open(path, 'r');
    try {
      const status = statusOf(await handle.stat());
      return {
        status,
        readText: () => handle.readFile('utf8'),
        close: () => handle.close().catch(() => undefined),
      };
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  },
  networkInterfaceNames: () => Object.keys(networkInterfaces()),
};

/**
 * True when `error` is a runtime refusing a permission: Deno's `NotCapable` (Deno 2) or
 * `PermissionDenied` (Deno 1), told by name so that no Deno types are needed. A file's own
 * access rights (EACCES) are not this.
 */
export function isPermissionError(error: unknown): boolean {
  return (
    error instanceof Error && (error.name === 'NotCapable' || error.name === 'PermissionDenied')
  );
}

/** How to grant a permission, for messages. */
const GRANT = {
  env: "Deno's --allow-env",
  read: "Deno's --allow-read",
  sys: "Deno's --allow-sys",
} as const;

/** Options of the Environment constructor; each defaults to the process's own. */
export interface EnvironmentOptions {
  /** Environment variables; `process.env` by default. Reading one may throw (Deno). */
  variables?: Readonly<Record<string, string | undefined>>;
  /** Home directory, user name and files; `nodeSystem` by default. */
  system?: System;
  /** Receives each warning once; `process.emitWarning` by default. */
  warn?: (message: string) => void;
  /**
   * What the warning about variables that may not be read suggests besides --allow-env, in
   * parentheses: `pass env: {} to connect() to read none` by default; '' for nothing (a
   * program whose user cannot pass options).
   */
  otherwise?: string;
}

/**
 * What one connect() reads from its surroundings, with the permission rules of the module
 * comment applied. Reads are synchronous except openOptionalFile; values read are kept, and
 * each warning is given once per Environment.
 */
export class Environment {
  /** The system the files and names are read through. */
  readonly system: System;
  readonly #variables: Readonly<Record<string, string | undefined>>;
  readonly #warn: (message: string) => void;
  readonly #otherwise: string;
  readonly #warned = new Set<string>();
  readonly #read = new Map<string, string | undefined>();
  #home: { value: string | undefined; refused: boolean } | undefined;

  constructor(options: EnvironmentOptions = {}) {
    this.system = options.system ?? nodeSystem;
    this.#variables = options.variables ?? process.env;
    this.#warn = options.warn ?? ((message) => process.emitWarning(message));
    this.#otherwise = options.otherwise ?? 'pass env: {} to connect() to read none';
  }

  /**
   * Gives `message` to the warning callback, unless this Environment already gave a warning
   * with the same `key` (the message itself by default).
   */
  warn(message: string, key = message): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#warn(message);
  }

  /**
   * The variables among `names` that are set and not empty. Variables the runtime may not
   * read count as unset, with one warning naming them. Any other error a read throws (an
   * injected record's getter; process.env throws none) is thrown.
   */
  variables(names: readonly string[]): Record<string, string> {
    const denied: string[] = [];
    const values: Record<string, string> = {};
    for (const name of names) {
      if (!this.#read.has(name)) {
        try {
          this.#read.set(name, this.#variables[name]);
        } catch (error) {
          if (!isPermissionError(error)) throw error;
          this.#read.set(name, undefined);
          denied.push(name);
        }
      }
      const value = this.#read.get(name);
      if (value !== undefined && value !== '') values[name] = value;
    }
    if (denied.length > 0) {
      const shown = denied.length > 4 ? `${denied.slice(0, 4).join(', ')}, ...` : denied.join(', ');
      const otherwise = this.#otherwise === '' ? '' : ` (or ${this.#otherwise})`;
      this.warn(
        `environment variables could not be read and count as unset (${denied.length}: ${shown}): reading them needs ${GRANT.env}${otherwise}`,
      );
    }
    return values;
  }

  /**
   * The directory libpq keeps the user's files in: $HOME (else the user database) on Unix,
   * %APPDATA%\postgresql on Windows. Undefined when unknown; a caller that then goes without
   * a file says so with warnHomeUnknown. Throws only as variables() does.
   */
  home(): string | undefined {
    if (this.#home === undefined) this.#home = this.#findHome();
    return this.#home.value;
  }

  /**
   * Warns that `what` (a default file under the home directory) is not used, when the home
   * directory is unknown because the runtime withheld a permission; else does nothing.
   */
  warnHomeUnknown(what: string): void {
    this.home();
    if (!this.#home?.refused) return;
    this.warn(
      `${what} not used: the home directory is unknown, and finding it needs ${GRANT.env} for HOME or ${GRANT.sys}`,
    );
  }

  #findHome(): { value: string | undefined; refused: boolean } {
    if (this.system.platform === 'win32') {
      const appData = this.variables(['APPDATA']).APPDATA;
      return {
        value: appData === undefined ? undefined : join(appData, 'postgresql'),
        refused: false,
      };
    }
    const home = this.variables(['HOME']).HOME;
    if (home !== undefined) return { value: home, refused: false };
    try {
      return { value: this.system.homeDirectory() || undefined, refused: false };
    } catch (error) {
      return { value: undefined, refused: isPermissionError(error) };
    }
  }

  /**
   * The operating system user name, libpq's default user. Throws ConnectionError
   * CONNECTION_CONFIG when it cannot be had, naming the permission when one is missing.
   */
  userName(): string {
    try {
      return this.system.userName();
    } catch (cause) {
      const why = isPermissionError(cause) ? `: reading it needs ${GRANT.sys}` : '';
      throw new ConnectionError(
        'CONNECTION_CONFIG',
        `could not determine the operating system user name${why}; set user or PGUSER`,
        { cause },
      );
    }
  }

  /**
   * What is at `path`, or undefined when nothing is there or it cannot be checked. A
   * permission the runtime withholds is said in one warning (for the first such path), or,
   * for a file the settings name (`named`: what it is, and the error code), is a
   * ConnectionError naming the permission; nothing else throws.
   */
  stat(path: string, named?: { what: string; code: ConnectionErrorCode }): FileStatus | undefined {
    try {
      return this.system.stat(path);
    } catch (error) {
      if (isPermissionError(error) && named !== undefined) {
        throw new ConnectionError(
          named.code,
          `could not check ${named.what} "${path}": checking needs ${GRANT.read}`,
          { cause: error },
        );
      }
      if (isPermissionError(error)) {
        this.warn(
          `could not check whether "${path}" exists, so it and any other file pqnotify looks for count as absent: checking needs ${GRANT.read}`,
          'stat',
        );
      }
      return undefined;
    }
  }

  /**
   * Reads a file the settings call for (`what` names it in messages). Throws ConnectionError
   * `code` when it cannot be read, naming the permission when one is missing.
   */
  readFile(path: string, what: string, code: ConnectionErrorCode): Uint8Array {
    try {
      return this.system.readFile(path);
    } catch (cause) {
      const why = isPermissionError(cause)
        ? `reading it needs ${GRANT.read}`
        : (cause as Error).message;
      throw new ConnectionError(code, `could not read ${what} "${path}": ${why}`, { cause });
    }
  }

  /**
   * Opens a file that may be skipped (the password file): undefined when it cannot be
   * opened, with a warning when a permission is missing. Never rejects.
   */
  async openOptionalFile(path: string, what: string): Promise<OpenFile | undefined> {
    try {
      return await this.system.openFile(path);
    } catch (error) {
      if (isPermissionError(error)) {
        this.warn(`${what} "${path}" was not read: reading it needs ${GRANT.read}`);
      }
      return undefined;
    }
  }

  /**
   * The names of the network interfaces, or an empty list when they cannot be had (with a
   * warning when a permission is missing). Never throws.
   */
  networkInterfaceNames(): string[] {
    try {
      return this.system.networkInterfaceNames();
    } catch (error) {
      if (isPermissionError(error)) {
        this.warn(`network interface names could not be read: reading them needs ${GRANT.sys}`);
      }
      return [];
    }
  }
}
