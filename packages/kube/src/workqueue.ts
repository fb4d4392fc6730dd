import { realClock, type Clock } from './clock.ts';
import { defaultControllerRateLimiter, type ItemRateLimiter } from './rate-limit.ts';

/**
 * A work queue with client-go's semantics. A key queued many times before a worker takes it is
 * processed once; a key is never held by two workers at once; a key added while being processed
 * is queued again when its worker calls `done`. Every per-key structure is emptied when the key
 * is done or forgotten, so memory follows the pending work, not the history.
 */
export class WorkQueue<K> {
  private readonly queue: K[] = [];
  private head = 0;
  /** Keys that need processing: queued, or added again while processing. */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  /** Keys waiting for a delay: their ready time and timer (one entry per key). */
  private readonly delayed = new Map<K, { at: number; handle: unknown }>();
  private readonly getters: ((key: K | undefined) => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private shuttingDown = false;
  private draining = false;
  private readonly rateLimiter: ItemRateLimiter<K>;
  private readonly clock: Clock;

  constructor(options: { rateLimiter?: ItemRateLimiter<K>; clock?: Clock; name?: string } = {}) {
    this.clock = options.clock ?? realClock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter<K>(this.clock);
  }

  add(key: K): void {
    if (this.shuttingDown || this.draining) return;
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // re-queued by done()
    this.push(key);
  }

  addAfter(key: K, ms: number): void {
    if (this.shuttingDown || this.draining) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const waiting = this.delayed.get(key);
    if (waiting && waiting.at <= at) return; // the earlier ready time wins
    if (waiting) this.clock.clearTimeout(waiting.handle);
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
      this.checkIdle();
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  addRateLimited(key: K): void {
    this.addAfter(key, this.rateLimiter.when(key));
  }

  forget(key: K): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.rateLimiter.retries(key);
  }

  /** The next key to process, or undefined once the queue is shut down (and drained). */
  get(signal?: AbortSignal): Promise<K | undefined> {
    const key = this.take();
    if (key !== undefined || this.shuttingDown) return Promise.resolve(key);
    return new Promise((resolve) => {
      const getter = (value: K | undefined): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const onAbort = (): void => {
        const index = this.getters.indexOf(getter);
        if (index >= 0) this.getters.splice(index, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.getters.push(getter);
    });
  }

  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
    else this.dirty.delete(key);
    this.checkIdle();
  }

  /** Keys waiting to be handed out (not counting those in process or waiting for a delay). */
  len(): number {
    return this.queue.length - this.head;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown || this.draining;
  }

  /** Stops at once: waiting and later `get` calls resolve undefined; adds are ignored. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    for (const getter of this.getters.splice(0)) getter(undefined);
    this.checkIdle();
  }

  /** Stops accepting adds, lets workers finish what is queued and in process, then shuts down. */
  async shutDownWithDrain(): Promise<void> {
    this.draining = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    await this.idle();
    this.shutDown();
  }

  /** Resolves when nothing is queued, in process, or waiting for a delay (for tests). */
  drain(): Promise<void> {
    return this.idle();
  }

  private idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.len() === 0 && this.processing.size === 0 && this.delayed.size === 0;
  }

  private checkIdle(): void {
    if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private push(key: K): void {
    const getter = this.getters.shift();
    if (getter) {
      this.dirty.delete(key);
      this.processing.add(key);
      getter(key);
      return;
    }
    this.queue.push(key);
  }

  private take(): K | undefined {
    if (this.len() === 0) return undefined;
    const key = this.queue[this.head]!;
    this.head += 1;
    // Compact now and then instead of shift(), which is O(n) per call on a long queue.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }
}
