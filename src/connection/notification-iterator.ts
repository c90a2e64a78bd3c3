import type { Notification } from './types.js';

const finished: IteratorReturnResult<void> = Object.freeze({ value: undefined, done: true });

/**
 * What Connection.notifications() returns: an async iterator written by hand so that a
 * queued notification costs one resolved promise, without an async generator's machinery.
 * Calls to next() are answered in order, even when a caller does not wait for the previous
 * one. Once ended (return(), throw(), the end of the wait, or an error) it stays done.
 */
export class NotificationIterator implements AsyncGenerator<Notification, void, undefined> {
  private done = false;
  /** The next() that is waiting for input, which later calls queue behind. */
  private waiting: Promise<IteratorResult<Notification, void>> | undefined;
  private readonly take: () => Notification | null;
  private readonly wait: () => Promise<boolean>;

  /**
   * @param take the oldest queued notification, or null
   * @param wait waits for input and consumes it; false when the iteration should end
   */
  constructor(take: () => Notification | null, wait: () => Promise<boolean>) {
    this.take = take;
    this.wait = wait;
  }

  next(): Promise<IteratorResult<Notification, void>> {
    if (this.waiting) {
      const next = () => this.next();
      return this.waiting.then(next, next);
    }
    if (this.done) return Promise.resolve(finished);
    const notification = this.take();
    if (notification !== null) return Promise.resolve({ value: notification, done: false });
    this.waiting = this.waitForNext();
    return this.waiting;
  }

  private async waitForNext(): Promise<IteratorResult<Notification, void>> {
    try {
      for (;;) {
        if (!(await this.wait())) this.done = true;
        if (this.done) return finished;
        const notification = this.take();
        if (notification !== null) return { value: notification, done: false };
      }
    } catch (error) {
      this.done = true;
      throw error;
    } finally {
      this.waiting = undefined;
    }
  }

  return(): Promise<IteratorResult<Notification, void>> {
    this.done = true;
    return Promise.resolve(finished);
  }

  throw(error: unknown): Promise<IteratorResult<Notification, void>> {
    this.done = true;
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}
