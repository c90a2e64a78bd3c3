import { afterEach, describe, expect, it, vi } from 'vitest';
import { PullIterator } from '../../src/connection/pull-iterator.js';
import { Waiters } from '../../src/connection/waiters.js';

describe('Waiters', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('wake() resolves every pending wait with true, and only those', async () => {
    const waiters = new Waiters();
    const first = waiters.wait();
    const second = waiters.wait();
    expect(waiters.size).toBe(2);
    waiters.wake();
    expect(waiters.size).toBe(0);
    await expect(Promise.all([first, second])).resolves.toEqual([true, true]);
    const later = waiters.wait();
    let settled = false;
    void later.then(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    waiters.wake();
    await expect(later).resolves.toBe(true);
  });

  it('fail() rejects every pending wait with the error', async () => {
    const waiters = new Waiters();
    const error = new Error('gone');
    const waits = [waiters.wait(), waiters.wait({ timeout: 1000 })];
    waiters.fail(error);
    for (const wait of waits) await expect(wait).rejects.toBe(error);
    expect(waiters.size).toBe(0);
  });

  it('a timeout resolves false and clears itself; a wake clears the timer', async () => {
    vi.useFakeTimers();
    const waiters = new Waiters();
    const timed = waiters.wait({ timeout: 50 });
    vi.advanceTimersByTime(49);
    expect(waiters.size).toBe(1);
    vi.advanceTimersByTime(1);
    await expect(timed).resolves.toBe(false);
    expect(waiters.size).toBe(0);
    const woken = waiters.wait({ timeout: 50 });
    waiters.wake();
    await expect(woken).resolves.toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a wait that times out leaves the others pending, first or not', async () => {
    vi.useFakeTimers();
    const waiters = new Waiters();
    const timedFirst = waiters.wait({ timeout: 10 });
    const plain = waiters.wait();
    const timedLast = waiters.wait({ timeout: 20 });
    vi.advanceTimersByTime(10);
    await expect(timedFirst).resolves.toBe(false);
    expect(waiters.size).toBe(2);
    const another = waiters.wait();
    vi.advanceTimersByTime(10);
    await expect(timedLast).resolves.toBe(false);
    expect(waiters.size).toBe(2);
    waiters.wake();
    await expect(Promise.all([plain, another])).resolves.toEqual([true, true]);
    expect(waiters.size).toBe(0);
  });

  it("an abort rejects with the signal's reason, at once if it already aborted", async () => {
    const waiters = new Waiters();
    const controller = new AbortController();
    const pending = waiters.wait({ signal: controller.signal });
    controller.abort('stop');
    await expect(pending).rejects.toBe('stop');
    expect(waiters.size).toBe(0);
    await expect(waiters.wait({ signal: controller.signal })).rejects.toBe('stop');
    expect(waiters.size).toBe(0);
  });
});

describe('PullIterator', () => {
  it('takes queued items at once, waits when empty, ends once with onEnd', async () => {
    const queue = [1, 2];
    const arrivals = new Waiters();
    let ends = 0;
    const iterator = new PullIterator(
      () => queue.shift() ?? null,
      () => arrivals.wait(),
      () => {
        ends++;
      },
    );
    expect(await iterator.next()).toEqual({ value: 1, done: false });
    expect(await iterator.next()).toEqual({ value: 2, done: false });
    const third = iterator.next();
    const fourth = iterator.next();
    queue.push(3, 4);
    arrivals.wake();
    expect(await third).toEqual({ value: 3, done: false });
    expect(await fourth).toEqual({ value: 4, done: false });
    await iterator.return();
    await iterator.return();
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(ends).toBe(1);
  });

  it('ends when the wait says so, and passes on a failed wait once', async () => {
    let answer: Promise<boolean> = Promise.resolve(false);
    let ends = 0;
    const iterator = new PullIterator<number>(
      () => null,
      () => answer,
      () => {
        ends++;
      },
    );
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    const failing = new PullIterator<number>(
      () => null,
      () => answer,
      () => {
        ends++;
      },
    );
    const error = new Error('lost');
    answer = Promise.reject(error);
    await expect(failing.next()).rejects.toBe(error);
    expect(await failing.next()).toEqual({ value: undefined, done: true });
    expect(ends).toBe(2);
  });
});
