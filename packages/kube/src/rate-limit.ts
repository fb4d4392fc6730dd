import { realClock, type Clock } from './clock.ts';

/**
 * Client-side QPS/burst limiter (a token bucket), as client-go's. Tokens refill continuously at
 * `qps` up to `burst`; `reserve` may go into debt, which later callers wait out in order.
 */
export class TokenBucket {
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private updated: number;

  constructor(options: { qps: number; burst: number; clock?: Clock }) {
    this.qps = options.qps;
    this.burst = Math.max(1, options.burst);
    this.clock = options.clock ?? realClock;
    this.tokens = this.burst;
    this.updated = this.clock.now();
  }

  private get unlimited(): boolean {
    return !(this.qps > 0) || !Number.isFinite(this.qps);
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updated) / 1000) * this.qps);
    this.updated = now;
  }

  tryAccept(): boolean {
    if (this.unlimited) return true;
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Takes a token now, possibly in debt; returns the ms to wait before using it. */
  reserve(): number {
    if (this.unlimited) return 0;
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }

  async wait(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const delay = this.reserve();
    if (delay === 0) return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.clock.clearTimeout(handle);
        this.tokens += 1; // give back the token we did not use
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
  when(key: K): number;
  forget(key: K): void;
  retries(key: K): number;
}

/** base * 2^failures, capped; a key's history is dropped on forget, so memory stays bounded. */
export class ExponentialFailureRateLimiter<K> implements ItemRateLimiter<K> {
  private readonly failures = new Map<K, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(baseMs = 5, maxMs = 1_000_000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  get size(): number {
    return this.failures.size;
  }

  when(key: K): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    // 2^failures overflows to Infinity long after the cap; Math.min keeps it finite.
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(failures, 1024));
  }

  forget(key: K): void {
    this.failures.delete(key);
  }

  retries(key: K): number {
    return this.failures.get(key) ?? 0;
  }
}

/** An overall rate for all keys together. */
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

/** The longest wait any of the limiters asks for. */
export class MaxOfRateLimiter<K> implements ItemRateLimiter<K> {
  private readonly limiters: ItemRateLimiter<K>[];

  constructor(...limiters: ItemRateLimiter<K>[]) {
    this.limiters = limiters;
  }

  when(key: K): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(key)));
  }

  forget(key: K): void {
    for (const limiter of this.limiters) limiter.forget(key);
  }

  retries(key: K): number {
    return Math.max(0, ...this.limiters.map((l) => l.retries(key)));
  }
}

/** client-go's default: per-key exponential 5 ms .. 1000 s, and 10 qps / 100 burst overall. */
export function defaultControllerRateLimiter<K>(clock?: Clock): ItemRateLimiter<K> {
  return new MaxOfRateLimiter<K>(new ExponentialFailureRateLimiter<K>(5, 1_000_000), new BucketRateLimiter<K>(10, 100, clock));
}
