/**
 * The retry policy of everything that reconnects (the Listener, the durable stream): how
 * long to wait before each attempt and when to give up. Pure: no timers, no clock; the
 * caller sleeps for the delay it is given, and passes its own random source.
 */

/** Options that shape the retry policy; any left out takes its default (see retryDefaults). */
export interface RetryOptions {
  /** Delay before the second attempt (the first is immediate); the backoff starts here. */
  reconnectInitialDelayMs?: number;
  /** Longest delay between two attempts. */
  reconnectMaxDelayMs?: number;
  /** Consecutive failed attempts before giving up; Infinity never gives up. */
  reconnectMaxAttempts?: number;
}

/** A retry policy with every setting resolved (resolveRetryPolicy). */
export interface RetryPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Infinity when unlimited. */
  readonly maxAttempts: number;
}

/** The defaults, written once: 250 ms, doubling up to 30 s, never giving up. */
export const retryDefaults: RetryPolicy = Object.freeze({
  initialDelayMs: 250,
  maxDelayMs: 30_000,
  maxAttempts: Number.POSITIVE_INFINITY,
});

/**
 * Resolves retry options into a policy, taking the default for each one left out. Throws
 * RangeError for a negative or non-numeric delay, or an attempt limit below 1.
 */
export function resolveRetryPolicy(options: RetryOptions = {}): RetryPolicy {
  const initialDelayMs = options.reconnectInitialDelayMs ?? retryDefaults.initialDelayMs;
  const maxDelayMs = options.reconnectMaxDelayMs ?? retryDefaults.maxDelayMs;
  const maxAttempts = options.reconnectMaxAttempts ?? retryDefaults.maxAttempts;
  for (const [name, value] of [
    ['reconnectInitialDelayMs', initialDelayMs],
    ['reconnectMaxDelayMs', maxDelayMs],
  ] as const) {
    if (!Number.isFinite(value) || value < 0)
      throw new RangeError(`${name} must be a number of at least 0, got ${value}`);
  }
  if (Number.isNaN(maxAttempts) || maxAttempts < 1)
    throw new RangeError(`reconnectMaxAttempts must be at least 1, got ${maxAttempts}`);
  return Object.freeze({ initialDelayMs, maxDelayMs, maxAttempts });
}

/**
 * The delay in milliseconds before attempt number `attempt` (1 for the first): none for the
 * first, then exponential backoff from `initialDelayMs`, doubling per attempt and capped at
 * `maxDelayMs`, with "equal jitter": a random value between half the step and the whole
 * step. `random` returns a number in [0, 1), as Math.random does (inject one in tests).
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  if (attempt <= 1) return 0;
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 2));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** True when `attempt` failed attempts in a row reach the policy's limit. */
export function retriesExhausted(policy: RetryPolicy, attempt: number): boolean {
  return attempt >= policy.maxAttempts;
}
