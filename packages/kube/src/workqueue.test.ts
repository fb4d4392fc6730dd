import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from './clock.ts';
import { ExponentialFailureRateLimiter } from './rate-limit.ts';
import { WorkQueue } from './workqueue.ts';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('WorkQueue', () => {
  it('hands out keys in order and processes a repeated key once', async () => {
    const queue = new WorkQueue<string>();
    for (const key of ['a', 'b', 'a', 'c', 'b']) queue.add(key);
    assert.equal(queue.len(), 3);
    assert.deepEqual([await queue.get(), await queue.get(), await queue.get()], ['a', 'b', 'c']);
    for (const key of ['a', 'b', 'c']) queue.done(key);
    await queue.drain();
    assert.equal(queue.len(), 0);
  });

  it('never gives a key to two workers; a key added while processing comes back after done', async () => {
    const queue = new WorkQueue<string>();
    queue.add('a');
    const first = await queue.get();
    queue.add('a');
    assert.equal(queue.len(), 0, 'not handed out again while in process');
    let second: string | undefined;
    void queue.get().then((key) => { second = key; });
    await tick();
    assert.equal(second, undefined, 'the second worker waits');
    queue.done(first!);
    await tick();
    assert.equal(second, 'a');
    queue.done('a');
    await queue.drain();
  });

  it('delays with addAfter (the earlier time wins, one entry per key) and rate-limits with backoff', async () => {
    const clock = new FakeClock();
    const queue = new WorkQueue<string>({ clock, rateLimiter: new ExponentialFailureRateLimiter<string>(10, 1000) });
    queue.addAfter('a', 100);
    queue.addAfter('a', 50);
    queue.addAfter('a', 500);
    assert.equal(clock.pending(), 1, 'one timer for the key');
    clock.advance(49);
    assert.equal(queue.len(), 0);
    clock.advance(1);
    assert.equal(queue.len(), 1);
    const key = await queue.get();
    queue.addRateLimited(key!);
    queue.addRateLimited(key!); // 10 ms then 20 ms: the earlier wins
    queue.done(key!);
    assert.equal(queue.numRequeues('a'), 2);
    clock.advance(10);
    assert.equal(queue.len(), 1);
    queue.forget('a');
    assert.equal(queue.numRequeues('a'), 0);
  });

  it('shutDown releases waiting workers; shutDownWithDrain waits for work in process', async () => {
    const queue = new WorkQueue<string>();
    const waiting = queue.get();
    queue.shutDown();
    assert.equal(await waiting, undefined);
    queue.add('ignored');
    assert.equal(queue.len(), 0);

    const draining = new WorkQueue<string>();
    draining.add('x');
    const key = await draining.get();
    let finished = false;
    const drained = draining.shutDownWithDrain().then(() => { finished = true; });
    draining.add('late');
    await tick();
    assert.equal(finished, false, 'waits for the key in process');
    draining.done(key!);
    await drained;
    assert.equal(await draining.get(), undefined);
  });

  it('model: random adds and 4 workers never process a key concurrently and lose no add', async () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const queue = new WorkQueue<string>();
    const inProcess = new Set<string>();
    const lastAdd = new Map<string, number>();
    const lastStart = new Map<string, number>();
    let step = 0;
    let stop = false;
    const workers = Array.from({ length: 4 }, async () => {
      for (;;) {
        const key = await queue.get();
        if (key === undefined) return;
        assert.ok(!inProcess.has(key), `${key} is processed by two workers`);
        inProcess.add(key);
        lastStart.set(key, ++step);
        for (let i = Math.floor(random() * 4); i > 0; i--) await tick();
        inProcess.delete(key);
        queue.done(key);
      }
    });
    const producer = (async () => {
      for (let i = 0; i < 2000 && !stop; i++) {
        const key = `k${Math.floor(random() * 25)}`;
        lastAdd.set(key, ++step);
        queue.add(key);
        if (random() < 0.3) await tick();
      }
    })();
    await producer;
    stop = true;
    await queue.drain();
    for (const [key, added] of lastAdd) {
      assert.ok((lastStart.get(key) ?? 0) > added, `${key} was added at step ${added} but last processed at ${lastStart.get(key)}`);
    }
    assert.equal(queue.len(), 0);
    queue.shutDown();
    await Promise.all(workers);
  });
});
