import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from './clock.ts';
import { FakeClock } from './clock.ts';
import { BucketRateLimiter, ExponentialFailureRateLimiter, MaxOfRateLimiter, TokenBucket, defaultControllerRateLimiter } from './rate-limit.ts';

const takeAll = (bucket: TokenBucket, tries: number): boolean[] => Array.from({ length: tries }, () => bucket.tryAccept());

describe('TokenBucket', () => {
  it('hands out the whole burst at once, then one token per 1/qps', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 10, burst: 3, clock });
    assert.deepEqual(takeAll(bucket, 4), [true, true, true, false]);
    clock.advance(99);
    assert.equal(bucket.tryAccept(), false, 'not a whole token yet');
    clock.advance(1);
    assert.deepEqual(takeAll(bucket, 2), [true, false]);
    clock.advance(250);
    assert.deepEqual(takeAll(bucket, 3), [true, true, false], '2.5 tokens refilled: two whole ones');
  });

  it('refills no higher than burst', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 10, burst: 3, clock });
    takeAll(bucket, 3);
    clock.advance(60_000);
    assert.deepEqual(takeAll(bucket, 4), [true, true, true, false]);
  });

  it('counts a token as refilled after 1/qps even when time arrives in small steps', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 10, burst: 1, clock });
    assert.equal(bucket.tryAccept(), true);
    // Ten refills of 0.1 token add up to 0.9999999999999999 in floating point.
    for (let i = 0; i < 10; i++) {
      clock.advance(10);
      if (i < 9) assert.equal(bucket.tryAccept(), false);
    }
    assert.equal(bucket.tryAccept(), true);
  });

  it('reserve goes into debt, and each later caller waits one interval longer', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 10, burst: 2, clock });
    assert.deepEqual([bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve()], [0, 0, 100, 200]);
    clock.advance(150);
    assert.equal(bucket.reserve(), 150, 'debt of 2.5 tokens, less 1.5 refilled, plus this one');
    assert.equal(bucket.tryAccept(), false, 'tryAccept never goes into debt');
  });

  it('rounds a fractional wait up to whole milliseconds', () => {
    const bucket = new TokenBucket({ qps: 3, burst: 1, clock: new FakeClock() });
    assert.deepEqual([bucket.reserve(), bucket.reserve()], [0, 334]);
  });

  it('is unlimited when qps is 0, negative, NaN or Infinity', () => {
    for (const qps of [0, -1, Number.NaN, Infinity]) {
      const bucket = new TokenBucket({ qps, burst: 1, clock: new FakeClock() });
      for (let i = 0; i < 100; i++) {
        assert.equal(bucket.reserve(), 0, `qps ${qps}`);
        assert.equal(bucket.tryAccept(), true, `qps ${qps}`);
      }
    }
  });

  it('treats a burst below 1 as 1, and rejects NaN', () => {
    const bucket = new TokenBucket({ qps: 1, burst: 0, clock: new FakeClock() });
    assert.deepEqual(takeAll(bucket, 2), [true, false]);
    assert.throws(() => new TokenBucket({ qps: 1, burst: Number.NaN }), RangeError);
  });

  it('keeps its tokens when the wall clock is set back', () => {
    let now = 10_000;
    const clock: Clock = { now: () => now, setTimeout: () => undefined, clearTimeout: () => {} };
    const bucket = new TokenBucket({ qps: 1, burst: 2, clock });
    now = 5_000;
    assert.deepEqual(takeAll(bucket, 3), [true, true, false]);
    now = 6_000;
    assert.equal(bucket.tryAccept(), true, 'refills from the new time on');
  });

  it('wait resolves once the clock reaches the reserved time', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 1, burst: 1, clock });
    await bucket.wait();
    let resolved = false;
    const waiting = bucket.wait().then(() => { resolved = true; });
    clock.advance(999);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(resolved, false);
    clock.advance(1);
    await waiting;
    assert.equal(resolved, true);
  });

  it('wait rejects with the abort reason and gives its token back', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 1, burst: 1, clock });
    assert.equal(bucket.tryAccept(), true);
    const abort = new AbortController();
    const waiting = bucket.wait(abort.signal);
    const reason = new Error('stop');
    abort.abort(reason);
    await assert.rejects(waiting, (error) => error === reason);
    assert.equal(clock.pending(), 0, 'its timer is cleared');
    clock.advance(1000);
    assert.deepEqual(takeAll(bucket, 2), [true, false], 'the aborted wait holds no token');
  });

  it('wait with an already aborted signal rejects and takes no token', async () => {
    const bucket = new TokenBucket({ qps: 1, burst: 1, clock: new FakeClock() });
    const reason = new Error('gone');
    await assert.rejects(bucket.wait(AbortSignal.abort(reason)), (error) => error === reason);
    assert.equal(bucket.tryAccept(), true);
  });
});

describe('ExponentialFailureRateLimiter', () => {
  it('doubles the delay per failure of a key, up to the cap, each key on its own', () => {
    const limiter = new ExponentialFailureRateLimiter<string>(5, 100);
    assert.deepEqual(Array.from({ length: 7 }, () => limiter.when('a')), [5, 10, 20, 40, 80, 100, 100]);
    assert.equal(limiter.when('b'), 5);
    assert.equal(limiter.retries('a'), 7);
    assert.equal(limiter.retries('b'), 1);
    assert.equal(limiter.retries('never'), 0);
  });

  it('starts again from base after forget, and keeps no entry for forgotten keys', () => {
    const limiter = new ExponentialFailureRateLimiter<string>(5, 100);
    for (const key of ['a', 'a', 'b', 'c']) limiter.when(key);
    assert.equal(limiter.size, 3);
    for (const key of ['a', 'b', 'c']) limiter.forget(key);
    assert.equal(limiter.size, 0);
    assert.equal(limiter.retries('a'), 0);
    assert.equal(limiter.when('a'), 5);
  });

  it('stays at the cap, never Infinity or NaN, after thousands of failures', () => {
    const limiter = new ExponentialFailureRateLimiter<string>(5, 100);
    const zeroBase = new ExponentialFailureRateLimiter<string>(0, 100);
    for (let i = 0; i < 3000; i++) {
      limiter.when('a');
      zeroBase.when('a');
    }
    assert.equal(limiter.when('a'), 100);
    assert.equal(zeroBase.when('a'), 0);
  });

  it('defaults to 5 ms doubling up to 1000 s', () => {
    const limiter = new ExponentialFailureRateLimiter<string>();
    const delays = Array.from({ length: 20 }, () => limiter.when('a'));
    assert.deepEqual(delays.slice(0, 3), [5, 10, 20]);
    assert.equal(delays[17], 5 * 2 ** 17);
    assert.deepEqual(delays.slice(18), [1_000_000, 1_000_000]);
  });
});

describe('BucketRateLimiter', () => {
  it('paces all keys together and keeps no per-key history', () => {
    const clock = new FakeClock();
    const limiter = new BucketRateLimiter<string>(10, 2, clock);
    assert.deepEqual(['a', 'b', 'c', 'a'].map((key) => limiter.when(key)), [0, 0, 100, 200]);
    assert.equal(limiter.retries('a'), 0);
    limiter.forget('a');
    assert.equal(limiter.when('d'), 300, 'forget does not refund the bucket');
  });
});

describe('MaxOfRateLimiter', () => {
  it('waits the longest of its limiters, and records the failure in every one', () => {
    const clock = new FakeClock();
    const slow = new ExponentialFailureRateLimiter<string>(50, 1000);
    const fast = new ExponentialFailureRateLimiter<string>(1, 1000);
    const limiter = new MaxOfRateLimiter<string>(fast, slow, new BucketRateLimiter<string>(1, 1, clock));
    assert.equal(limiter.when('a'), 50);
    assert.equal(limiter.when('a'), 1000, 'the overall bucket is empty for a second');
    assert.deepEqual([fast.retries('a'), slow.retries('a')], [2, 2]);
  });

  it('forgets in every limiter and reports the most retries', () => {
    const first = new ExponentialFailureRateLimiter<string>();
    const second = new ExponentialFailureRateLimiter<string>();
    const limiter = new MaxOfRateLimiter<string>(first, second);
    limiter.when('a');
    second.when('a');
    assert.equal(limiter.retries('a'), 2);
    limiter.forget('a');
    assert.deepEqual([first.size, second.size, limiter.retries('a')], [0, 0, 0]);
  });

  it('asks for no wait when it has no limiters', () => {
    assert.equal(new MaxOfRateLimiter<string>().when('a'), 0);
  });
});

describe('defaultControllerRateLimiter', () => {
  it('backs a key off from 5 ms, and holds all keys to 10 qps after a burst of 100', () => {
    const clock = new FakeClock();
    const limiter = defaultControllerRateLimiter<string>(clock);
    assert.deepEqual([limiter.when('k'), limiter.when('k'), limiter.when('k')], [5, 10, 20]);
    for (let i = 0; i < 97; i++) assert.equal(limiter.when(`key-${i}`), 5);
    assert.equal(limiter.when('one-too-many'), 100, 'the 101st failure waits for the bucket');
    assert.equal(limiter.retries('k'), 3);
    limiter.forget('k');
    assert.equal(limiter.retries('k'), 0);
  });

  it('caps a failing key at 1000 s', () => {
    const limiter = defaultControllerRateLimiter<string>(new FakeClock());
    const delays = Array.from({ length: 20 }, () => limiter.when('k'));
    assert.deepEqual(delays.slice(17), [5 * 2 ** 17, 1_000_000, 1_000_000]);
  });
});
