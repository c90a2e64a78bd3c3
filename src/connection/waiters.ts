/** What Waiters.wait() may be limited by. */
export interface WaitOptions {
  /** Aborting rejects the wait with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Milliseconds after which the wait resolves false; no timer at all when absent. */
  timeout?: number | undefined;
}

interface Pending {
  resolve(woken: boolean): void;
  reject(reason: unknown): void;
}

/**
 * Promises waiting for something to happen (input arrived, a result was queued, the state
 * changed), settled all together: wake() resolves every pending wait with true, fail()
 * rejects them all. A wait started after wake() waits for the next one. The one waiting
 * primitive of the connection and notify layers.
 */
export class Waiters {
  /**
   * The settle functions of one pending wait, kept in two fields rather than in a set: a loop
   * waits once at a time, so most of the time this is the only one, and an idle connection
   * then holds no collection for it.
   */
  private firstResolve: ((woken: boolean) => void) | undefined;
  private firstReject: ((reason: unknown) => void) | undefined;
  /** The other pending waits; made when a second wait starts while the first is pending. */
  private rest: Set<Pending> | undefined;

  /** The number of waits not settled yet. */
  get size(): number {
    return (this.firstResolve === undefined ? 0 : 1) + (this.rest?.size ?? 0);
  }

  /**
   * Resolves true at the next wake(), false once `timeout` milliseconds have passed; rejects
   * with fail()'s error, or with the signal's reason when it aborts (at once if it already
   * has). Sets no timer without a timeout.
   */
  wait(options?: WaitOptions): Promise<boolean> {
    const signal = options?.signal;
    const timeout = options?.timeout;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (signal === undefined && timeout === undefined) {
      // The wait of every loop turn (waitReadable(), a command's next result): no closures,
      // as wake() and fail() forget every wait themselves.
      return new Promise<boolean>((resolve, reject) => {
        this.add(resolve, reject);
      });
    }
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        this.remove(pending);
        signal?.removeEventListener('abort', onAbort);
        if (timer !== undefined) clearTimeout(timer);
      };
      const pending: Pending = {
        resolve: (woken) => {
          done();
          resolve(woken);
        },
        reject: (reason) => {
          done();
          reject(reason);
        },
      };
      const onAbort = () => pending.reject(signal?.reason);
      this.add(pending.resolve, pending.reject);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== undefined) timer = setTimeout(() => pending.resolve(false), timeout);
    });
  }

  private add(resolve: Pending['resolve'], reject: Pending['reject']): void {
    if (this.firstResolve === undefined) {
      this.firstResolve = resolve;
      this.firstReject = reject;
      return;
    }
    this.rest ??= new Set();
    this.rest.add({ resolve, reject });
  }

  /** Forgets a wait that settled on its own (its timeout or its signal). */
  private remove(pending: Pending): void {
    if (this.firstResolve === pending.resolve) {
      this.firstResolve = undefined;
      this.firstReject = undefined;
      return;
    }
    const rest = this.rest;
    if (rest === undefined) return;
    for (const other of rest) {
      if (other.resolve === pending.resolve) {
        rest.delete(other);
        return;
      }
    }
  }

  /** Resolves every pending wait with true. Never blocks. */
  wake(): void {
    const resolve = this.firstResolve;
    const rest = this.rest;
    if (resolve === undefined && rest === undefined) return;
    this.forget();
    resolve?.(true);
    if (rest !== undefined) for (const pending of rest) pending.resolve(true);
  }

  /** Rejects every pending wait with `error`. Never blocks. */
  fail(error: Error): void {
    const reject = this.firstReject;
    const rest = this.rest;
    this.forget();
    reject?.(error);
    if (rest !== undefined) for (const pending of rest) pending.reject(error);
  }

  private forget(): void {
    this.firstResolve = undefined;
    this.firstReject = undefined;
    this.rest = undefined;
  }
}
