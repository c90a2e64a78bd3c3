const finished: IteratorReturnResult<void> = Object.freeze({ value: undefined, done: true });

/**
 * An async iterator over a queue filled by someone else: Connection.notifications() and
 * notificationBatches(), Listener.stream() and batches(). Written by hand so that a queued
 * item costs one resolved promise, without an async generator's machinery. Calls to next()
 * are answered in order, even when a caller does not wait for the previous one. Once ended
 * (return(), throw(), the end of the wait, or an error) it stays done, and `onEnd` has run
 * exactly once.
 */
export class PullIterator<T> implements AsyncGenerator<T, void, undefined> {
  private done = false;
  /** The next() that is waiting for input, which later calls queue behind. */
  private waiting: Promise<IteratorResult<T, void>> | undefined;
  private readonly take: () => T | null;
  private readonly wait: () => Promise<boolean>;
  private readonly onEnd: (() => void) | undefined;

  /**
   * @param take the next item, or null when there is none yet; must not throw
   * @param wait waits until take() may have an item; false (or a rejection, which next()
   *   passes on) when the iteration should end
   * @param onEnd called once when the iteration ends, however it ends
   */
  constructor(take: () => T | null, wait: () => Promise<boolean>, onEnd?: () => void) {
    this.take = take;
    this.wait = wait;
    this.onEnd = onEnd;
  }

  next(): Promise<IteratorResult<T, void>> {
    if (this.waiting) {
      const next = () => this.next();
      return this.waiting.then(next, next);
    }
    if (this.done) return Promise.resolve(finished);
    const item = this.take();
    if (item !== null) return Promise.resolve({ value: item, done: false });
    this.waiting = this.waitForNext();
    return this.waiting;
  }

  private async waitForNext(): Promise<IteratorResult<T, void>> {
    try {
      for (;;) {
        if (!(await this.wait())) this.end();
        if (this.done) return finished;
        const item = this.take();
        if (item !== null) return { value: item, done: false };
      }
    } catch (error) {
      this.end();
      throw error;
    } finally {
      this.waiting = undefined;
    }
  }

  private end(): void {
    if (this.done) return;
    this.done = true;
    this.onEnd?.();
  }

  return(): Promise<IteratorResult<T, void>> {
    this.end();
    return Promise.resolve(finished);
  }

  throw(error: unknown): Promise<IteratorResult<T, void>> {
    this.end();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}
