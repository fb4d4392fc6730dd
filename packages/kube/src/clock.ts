/** Time as the queue and rate limiters see it; tests swap in FakeClock. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node fires timers longer than this after 1 ms, so longer delays are made of several timers. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface RealTimer { timeout: NodeJS.Timeout | undefined }

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const timer: RealTimer = { timeout: undefined };
    const schedule = (remaining: number): void => {
      const step = Math.min(remaining, MAX_TIMER_MS);
      timer.timeout = setTimeout(() => {
        if (remaining > step) schedule(remaining - step);
        else fn();
      }, step);
    };
    schedule(Math.max(0, ms));
    return timer;
  },
  clearTimeout: (handle) => {
    const timer = handle as RealTimer | undefined;
    if (timer?.timeout !== undefined) clearTimeout(timer.timeout);
  },
};

interface FakeTimer { at: number; seq: number; fn: () => void }

/** A clock that moves only when told to; due timers run in time order (ties in the order set). */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  /** Sorted by (at, seq), so the next due timer is always first. */
  private readonly timers: FakeTimer[] = [];

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: FakeTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn };
    // Later seq always sorts after equal `at`, so insert after every timer not later than this one.
    let low = 0;
    let high = this.timers.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.timers[mid]!.at <= timer.at) low = mid + 1;
      else high = mid;
    }
    this.timers.splice(low, 0, timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    const index = this.timers.indexOf(handle as FakeTimer);
    if (index >= 0) this.timers.splice(index, 1);
  }

  /** Moves time forward, running every timer that falls due, including ones those timers set. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`FakeClock.advance: ms must be >= 0, got ${ms}`);
    const end = this.current + ms;
    for (let next = this.timers[0]; next !== undefined && next.at <= end; next = this.timers[0]) {
      this.timers.shift();
      this.current = next.at;
      next.fn();
    }
    this.current = end;
  }

  /** Timers set and not yet run or cleared. */
  pending(): number {
    return this.timers.length;
  }
}
