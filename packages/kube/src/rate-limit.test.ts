import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from './clock.ts';
import { BucketRateLimiter, ExponentialFailureRateLimiter, MaxOfRateLimiter, TokenBucket, defaultControllerRateLimiter } from './rate-limit.ts';

describe('TokenBucket', () => {
  it('allows a burst at once, then paces at qps', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 10, burst: 3, clock });
    assert.deepEqual([bucket.tryAccept(), bucket.tryAccept(), bucket.tryAccept(), bucket.tryAccept()], [true, true, true, false]);
    clock.advance(100);
    assert.equal(bucket.tryAccept(), true, 'one token refills in 1/qps s');
    assert.equal(bucket.tryAccept(), false);
    assert.equal(bucket.reserve(), 100, 'in debt: wait one interval');
    assert.equal(bucket.reserve(), 200, 'later callers queue behind');
    clock.advance(10_000);
    assert.deepEqual([bucket.tryAccept(), bucket.tryAccept(), bucket.tryAccept(), bucket.tryAccept()], [true, true, true, false], 'refills no higher than burst');
  });

  it('waits on the clock, and gives the token back when aborted', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 1, burst: 1, clock });
    await bucket.wait();
    let done = false;
    const waiting = bucket.wait().then(() => { done = true; });
    await Promise.resolve();
    assert.equal(done, false);
    clock.advance(1000);
    await waiting;
    assert.equal(done, true);

    const abort = new AbortController();
    const aborted = bucket.wait(abort.signal);
    abort.abort(new Error('stop'));
    await assert.rejects(aborted, /stop/);
    clock.advance(1000);
    assert.equal(bucket.tryAccept(), true, 'the aborted wait did not keep its token');
  });

  it('is unlimited with qps Infinity', () => {
    const bucket = new TokenBucket({ qps: Infinity, burst: 1 });
    for (let i = 0; i < 1000; i++) assert.equal(bucket.reserve(), 0);
  });
});

describe('item rate limiters', () => {
  it('backs off exponentially per key, capped, and forgets', () => {
    const limiter = new ExponentialFailureRateLimiter<string>(5, 100);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => limiter.when('a')), [5, 10, 20, 40, 80, 100]);
    assert.equal(limiter.when('b'), 5, 'keys are independent');
    assert.equal(limiter.retries('a'), 6);
    limiter.forget('a');
    limiter.forget('b');
    assert.equal(limiter.size, 0, 'no entry outlives forget');
    assert.equal(limiter.when('a'), 5);
    for (let i = 0; i < 5000; i++) limiter.when('c');
    assert.equal(limiter.when('c'), 100, 'no overflow after many failures');
  });

  it('takes the longest wait of several limiters', () => {
    const clock = new FakeClock();
    const limiter = new MaxOfRateLimiter<string>(new ExponentialFailureRateLimiter<string>(5, 1000), new BucketRateLimiter<string>(1, 1, clock));
    assert.equal(limiter.when('a'), 5);
    assert.equal(limiter.when('b'), 1000, 'the overall bucket is empty');
    assert.equal(limiter.retries('a'), 1);
    assert.equal(defaultControllerRateLimiter<string>(clock).when('x'), 5);
  });
});
