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
  private readonly pending = new Set<Pending>();

  /** The number of waits not settled yet. */
  get size(): number {
    return this.pending.size;
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
      // as wake() and fail() empty the set themselves.
      return new Promise<boolean>((resolve, reject) => {
        this.pending.add({ resolve, reject });
      });
    }
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        this.pending.delete(pending);
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
      this.pending.add(pending);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== undefined) timer = setTimeout(() => pending.resolve(false), timeout);
    });
  }

  /** Resolves every pending wait with true. Never blocks. */
  wake(): void {
    if (this.pending.size === 0) return;
    for (const pending of this.pending) pending.resolve(true);
    this.pending.clear();
  }

  /** Rejects every pending wait with `error`. Never blocks. */
  fail(error: Error): void {
    for (const pending of this.pending) pending.reject(error);
    this.pending.clear();
  }
}
