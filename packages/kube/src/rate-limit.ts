import { realClock, type Clock } from './clock.ts';

/** Absorbs float rounding in token counts, so 1/qps of elapsed time always yields a whole token. */
const EPSILON = 1e-9;

/**
 * Client-side QPS/burst limiter (a token bucket), as client-go's. Tokens refill continuously at
 * `qps` up to `burst`; `reserve` may go into debt, which later callers wait out in order.
 * A qps of 0 or less, NaN or Infinity means unlimited. A burst below 1 is treated as 1, since a
 * bucket that can never hold a token would block every caller for ever.
 */
export class TokenBucket {
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private readonly unlimited: boolean;
  private tokens: number;
  private updated: number;

  constructor(options: { qps: number; burst: number; clock?: Clock }) {
    if (Number.isNaN(options.burst)) throw new RangeError('TokenBucket: burst is NaN');
    this.qps = options.qps;
    this.burst = Math.max(1, options.burst);
    this.clock = options.clock ?? realClock;
    this.unlimited = !(this.qps > 0) || !Number.isFinite(this.qps);
    this.tokens = this.burst;
    this.updated = this.clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    // A wall clock set back must not take tokens away.
    const elapsed = Math.max(0, now - this.updated);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.qps);
    this.updated = now;
  }

  /** Takes a token if one is available now; never goes into debt. */
  tryAccept(): boolean {
    if (this.unlimited) return true;
    this.refill();
    if (this.tokens < 1 - EPSILON) return false;
    this.tokens -= 1;
    return true;
  }

  /** Takes a token now, possibly in debt; returns the ms to wait before using it (0: go now). */
  reserve(): number {
    if (this.unlimited) return 0;
    this.refill();
    this.tokens -= 1;
    if (this.tokens >= -EPSILON) return 0;
    return Math.ceil((-this.tokens / this.qps) * 1000 - EPSILON);
  }

  /** Waits for a token. If `signal` aborts first, rejects with its reason and gives the token back. */
  async wait(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const delay = this.reserve();
    if (delay === 0) return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.clock.clearTimeout(handle);
        this.tokens += 1; // refill() caps at burst, so this cannot grow the bucket
        reject(signal!.reason as Error);
      };
      const handle = this.clock.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, delay);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Decides how long a key waits before its next retry. */
export interface ItemRateLimiter<K> {
  /** Records a failure of `key` and returns the ms to wait before retrying it. */
  when(key: K): number;
  /** Clears the key's history (on success); the limiter keeps nothing for it afterwards. */
  forget(key: K): void;
  /** Failures recorded for `key` since it was last forgotten. */
  retries(key: K): number;
}

/** Per key: base * 2^failures, capped at max. A key's history goes on forget, so memory stays bounded. */
export class ExponentialFailureRateLimiter<K> implements ItemRateLimiter<K> {
  private readonly failures = new Map<K, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(baseMs = 5, maxMs = 1_000_000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  /** Keys with a failure history. */
  get size(): number {
    return this.failures.size;
  }

  when(key: K): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    // 2^1023 is the largest finite power of two: past it, base * 2^n would be Infinity, or NaN for base 0.
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(failures, 1023));
  }

  forget(key: K): void {
    this.failures.delete(key);
  }

  retries(key: K): number {
    return this.failures.get(key) ?? 0;
  }
}

/** One overall rate for all keys together (a token bucket); keeps no per-key state. */
export class BucketRateLimiter<K> implements ItemRateLimiter<K> {
  private readonly bucket: TokenBucket;

  constructor(qps = 10, burst = 100, clock?: Clock) {
    this.bucket = new TokenBucket({ qps, burst, ...(clock ? { clock } : {}) });
  }

  when(_key: K): number {
    return this.bucket.reserve();
  }

  forget(_key: K): void {}

  retries(_key: K): number {
    return 0;
  }
}

/** The longest wait any of the limiters asks for; every limiter records each failure. */
export class MaxOfRateLimiter<K> implements ItemRateLimiter<K> {
  private readonly limiters: readonly ItemRateLimiter<K>[];

  constructor(...limiters: ItemRateLimiter<K>[]) {
    this.limiters = limiters;
  }

  when(key: K): number {
    // Ask every limiter, not just until the largest, so each one records the failure.
    return this.limiters.reduce((longest, limiter) => Math.max(longest, limiter.when(key)), 0);
  }

  forget(key: K): void {
    for (const limiter of this.limiters) limiter.forget(key);
  }

  retries(key: K): number {
    return this.limiters.reduce((most, limiter) => Math.max(most, limiter.retries(key)), 0);
  }
}

/** client-go's default: per key exponential from 5 ms up to 1000 s, and 10 qps / burst 100 overall. */
export function defaultControllerRateLimiter<K>(clock?: Clock): ItemRateLimiter<K> {
  return new MaxOfRateLimiter<K>(
    new ExponentialFailureRateLimiter<K>(5, 1_000_000),
    new BucketRateLimiter<K>(10, 100, clock),
  );
}
