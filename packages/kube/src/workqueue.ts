import { realClock, type Clock } from './clock.ts';
import { defaultControllerRateLimiter, type ItemRateLimiter } from './rate-limit.ts';

/**
 * A work queue with client-go's semantics. A key queued many times before a worker takes it is
 * processed once; a key is never held by two workers at once; a key added while being processed
 * is queued again when its worker calls `done`. Every per-key structure is emptied when the key
 * is done or forgotten, so memory follows the pending work, not the history.
 *
 * A worker loop:
 *   for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
 *     try { await reconcile(key); queue.forget(key); } catch { queue.addRateLimited(key); }
 *     finally { queue.done(key); }
 *   }
 */
export class WorkQueue<K> {
  readonly name: string;
  private readonly rateLimiter: ItemRateLimiter<K>;
  private readonly clock: Clock;
  /** FIFO of keys to hand out, from `head`; invariant: a key is here at most once. */
  private queue: K[] = [];
  private head = 0;
  /** Keys that need processing: queued, or added again while processing. */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  /** Keys waiting for a delay: their ready time and timer (one entry per key). */
  private readonly delayed = new Map<K, { at: number; handle: unknown }>();
  /** Pending get() calls, oldest first; non-empty only while the queue is empty. */
  private readonly getters: ((key: K | undefined) => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  /** Adds are ignored (set by shutDown and shutDownWithDrain). */
  private shuttingDown = false;
  /** Stop once idle (shutDownWithDrain). */
  private draining = false;
  /** No keys are handed out any more (shutDown, or a drain that finished). */
  private stopped = false;

  constructor(options: { rateLimiter?: ItemRateLimiter<K>; clock?: Clock; name?: string } = {}) {
    this.name = options.name ?? '';
    this.clock = options.clock ?? realClock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter<K>(this.clock);
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // done() queues it again
    this.enqueue(key);
  }

  /** Adds `key` after `ms`; a key already waiting keeps the earlier of its two ready times. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const waiting = this.delayed.get(key);
    if (waiting && waiting.at <= at) return;
    if (waiting) this.clock.clearTimeout(waiting.handle);
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
      this.checkIdle();
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /** Adds `key` once the rate limiter allows it; each call counts as a failure of the key. */
  addRateLimited(key: K): void {
    // Checked here too, so a queue that is shutting down records no more failures.
    if (this.shuttingDown) return;
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** Clears the key's failure history (call it when the key was processed successfully). */
  forget(key: K): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.rateLimiter.retries(key);
  }

  /**
   * The next key, which the caller then holds until it calls `done(key)`; waits while the queue is
   * empty. Resolves undefined once the queue has stopped, or if `signal` aborts first (no key is
   * taken then).
   */
  get(signal?: AbortSignal): Promise<K | undefined> {
    if (this.stopped || signal?.aborted) return Promise.resolve(undefined);
    if (this.len() > 0) return Promise.resolve(this.take());
    return new Promise((resolve) => {
      const getter = (key: K | undefined): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(key);
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

  /** Ends the processing of `key`; queues it again if it was added meanwhile. */
  done(key: K): void {
    // A key nobody holds may be queued already; pushing it again would queue it twice.
    if (!this.processing.delete(key)) return;
    if (this.dirty.has(key)) this.enqueue(key);
    this.checkIdle();
  }

  /** Keys waiting to be handed out (not counting those in process or waiting for a delay). */
  len(): number {
    return this.queue.length - this.head;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Stops at once: waiting and later `get` calls resolve undefined, adds are ignored, and keys
   * queued or waiting for a delay are dropped. Keys in process stay so until their `done`.
   */
  shutDown(): void {
    this.shuttingDown = true;
    this.cancelDelayed();
    this.stop();
  }

  /**
   * Stops accepting adds and drops keys waiting for a delay, lets workers finish the queued keys
   * and those in process, then stops as `shutDown` does. Resolves once all of that is done.
   */
  shutDownWithDrain(): Promise<void> {
    this.shuttingDown = true;
    this.draining = true;
    this.cancelDelayed();
    const idle = this.idle();
    this.checkIdle();
    return idle;
  }

  /** Resolves when nothing is queued, in process, or waiting for a delay (for tests). */
  drain(): Promise<void> {
    return this.idle();
  }

  private stop(): void {
    this.stopped = true;
    this.queue = [];
    this.head = 0;
    this.dirty.clear(); // so done() queues nothing again
    for (const getter of this.getters.splice(0)) getter(undefined);
    this.checkIdle();
  }

  private cancelDelayed(): void {
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
  }

  private idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.len() === 0 && this.processing.size === 0 && this.delayed.size === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    if (this.draining && !this.stopped) this.stop(); // calls checkIdle again, which resolves the waiters
    else for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Hands `key` to the oldest waiting worker, or queues it. */
  private enqueue(key: K): void {
    const getter = this.getters.shift();
    if (getter === undefined) {
      this.queue.push(key);
      return;
    }
    this.dirty.delete(key);
    this.processing.add(key);
    getter(key);
  }

  private take(): K {
    const key = this.queue[this.head]!;
    this.head += 1;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      // Drop the taken prefix now and then; shift() per call would be O(n) on a long queue.
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }
}
