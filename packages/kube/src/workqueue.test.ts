import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from './clock.ts';
import { ExponentialFailureRateLimiter } from './rate-limit.ts';
import { WorkQueue } from './workqueue.ts';

/** One turn of the event loop: every pending promise continuation runs before it ends. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Whether `promise` has settled after the event loop has had a turn. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => { done = true; }, () => { done = true; });
  await tick();
  return done;
}

function newQueue(): { queue: WorkQueue<string>; clock: FakeClock } {
  const clock = new FakeClock();
  return { queue: new WorkQueue<string>({ clock, rateLimiter: new ExponentialFailureRateLimiter<string>(10, 1000) }), clock };
}

/** Seeded PRNG (mulberry32), so the model test replays the same run every time. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('WorkQueue', () => {
  it('hands out keys in the order they were added', async () => {
    const { queue } = newQueue();
    for (const key of ['c', 'a', 'b']) queue.add(key);
    assert.deepEqual([await queue.get(), await queue.get(), await queue.get()], ['c', 'a', 'b']);
  });

  it('queues a key added again while it waits only once, in its first place', async () => {
    const { queue } = newQueue();
    for (const key of ['a', 'b', 'a', 'c', 'b', 'a']) queue.add(key);
    assert.equal(queue.len(), 3);
    assert.deepEqual([await queue.get(), await queue.get(), await queue.get()], ['a', 'b', 'c']);
    assert.equal(queue.len(), 0);
  });

  it('keeps order over a long queue taken a little at a time', async () => {
    const { queue } = newQueue();
    const taken: string[] = [];
    for (let i = 0; i < 5000; i++) {
      queue.add(`k${i}`);
      if (i % 3 === 0) taken.push((await queue.get())!);
    }
    while (queue.len() > 0) taken.push((await queue.get())!);
    assert.deepEqual(taken, Array.from({ length: 5000 }, (_, i) => `k${i}`));
  });

  it('queues a key added during its processing again after done, and not before', async () => {
    const { queue } = newQueue();
    queue.add('a');
    const key = await queue.get();
    queue.add('a');
    queue.add('a');
    assert.equal(queue.len(), 0, 'not queued while in process');
    queue.done(key!);
    assert.equal(queue.len(), 1, 'queued once');
    assert.equal(await queue.get(), 'a');
    queue.done('a');
    assert.equal(queue.len(), 0, 'not queued a third time');
  });

  it('never hands one key to two workers at once', async () => {
    const { queue } = newQueue();
    queue.add('a');
    const first = queue.get();
    const second = queue.get();
    assert.equal(await first, 'a');
    queue.add('a');
    queue.add('b');
    assert.equal(await second, 'b', 'the second worker skips the key in process');
    const third = queue.get();
    assert.equal(await settled(third), false, 'a third worker waits rather than take "a"');
    queue.done('a');
    assert.equal(await third, 'a');
  });

  it('serves waiting workers in the order they asked', async () => {
    const { queue } = newQueue();
    const workers = [queue.get(), queue.get(), queue.get()];
    for (const key of ['x', 'y', 'z']) queue.add(key);
    assert.deepEqual(await Promise.all(workers), ['x', 'y', 'z']);
  });

  it('ignores done for a key no worker holds', async () => {
    const { queue } = newQueue();
    queue.add('a');
    queue.done('a');
    queue.done('never-added');
    assert.equal(queue.len(), 1);
    assert.equal(await queue.get(), 'a');
    assert.equal(queue.len(), 0);
  });

  it('get with an already aborted signal resolves undefined and takes no key', async () => {
    const { queue } = newQueue();
    queue.add('a');
    assert.equal(await queue.get(AbortSignal.abort()), undefined);
    assert.equal(queue.len(), 1);
  });

  it('a worker that stops waiting does not swallow the next key', async () => {
    const { queue } = newQueue();
    const abort = new AbortController();
    const leaving = queue.get(abort.signal);
    const staying = queue.get();
    abort.abort();
    assert.equal(await leaving, undefined);
    queue.add('a');
    assert.equal(await staying, 'a');
  });

  it('addAfter adds once the delay passes, and a key already waiting keeps the earlier time', async () => {
    const { queue, clock } = newQueue();
    queue.addAfter('a', 100);
    queue.addAfter('a', 50);
    queue.addAfter('a', 500);
    queue.addAfter('b', 70);
    assert.equal(clock.pending(), 2, 'one timer per key');
    clock.advance(49);
    assert.equal(queue.len(), 0);
    clock.advance(1);
    assert.equal(queue.len(), 1);
    clock.advance(1000);
    assert.deepEqual([await queue.get(), await queue.get()], ['a', 'b']);
    assert.equal(queue.len(), 0, 'the later times for "a" were dropped, not added as well');
    assert.equal(clock.pending(), 0);
  });

  it('addAfter with no delay adds at once', () => {
    const { queue, clock } = newQueue();
    queue.addAfter('a', 0);
    queue.addAfter('b', -5);
    assert.equal(queue.len(), 2);
    assert.equal(clock.pending(), 0);
  });

  it('addAfter for a key in process queues it after the delay and its done, whichever is later', async () => {
    const { queue, clock } = newQueue();
    queue.add('a');
    const key = (await queue.get())!;
    queue.addAfter(key, 10);
    clock.advance(10);
    assert.equal(queue.len(), 0);
    queue.done(key);
    assert.equal(await queue.get(), 'a');
  });

  it('addRateLimited waits as long as the limiter says; forget clears the count', async () => {
    const { queue, clock } = newQueue();
    queue.addRateLimited('a'); // 10 ms
    queue.addRateLimited('a'); // 20 ms: the earlier time stands
    assert.equal(queue.numRequeues('a'), 2);
    clock.advance(9);
    assert.equal(queue.len(), 0);
    clock.advance(1);
    assert.equal(await queue.get(), 'a');
    queue.addRateLimited('a'); // third failure: 40 ms
    queue.done('a');
    clock.advance(39);
    assert.equal(queue.len(), 0);
    clock.advance(1);
    assert.equal(queue.len(), 1);
    queue.forget('a');
    assert.equal(queue.numRequeues('a'), 0);
  });

  it('shutDown resolves waiting workers with undefined, drops queued and delayed keys, and ignores adds', async () => {
    const { queue, clock } = newQueue();
    const waiting = queue.get();
    queue.shutDown();
    assert.equal(await waiting, undefined);
    assert.equal(queue.isShuttingDown(), true);

    const other = newQueue();
    other.queue.add('queued');
    other.queue.addAfter('delayed', 10);
    other.queue.shutDown();
    assert.equal(other.queue.len(), 0);
    assert.equal(other.clock.pending(), 0, 'the delay timer is cleared');
    assert.equal(await other.queue.get(), undefined, 'no key is handed out after shutDown');

    queue.add('a');
    queue.addAfter('b', 5);
    queue.addRateLimited('c');
    assert.equal(queue.len(), 0);
    assert.equal(clock.pending(), 0);
    assert.equal(queue.numRequeues('c'), 0, 'no failure recorded after shutDown');
    await queue.drain();
  });

  it('shutDown leaves a key in process with its worker; drain resolves after its done', async () => {
    const { queue } = newQueue();
    queue.add('a');
    const key = (await queue.get())!;
    queue.add('a');
    queue.shutDown();
    const drained = queue.drain();
    assert.equal(await settled(drained), false);
    queue.done(key);
    await drained;
    assert.equal(queue.len(), 0, 'the re-add during processing is dropped too');
  });

  it('shutDownWithDrain hands out queued keys, waits for keys in process, then stops', async () => {
    const { queue, clock } = newQueue();
    queue.add('a');
    queue.add('b');
    queue.addAfter('delayed', 10);
    const a = (await queue.get())!;
    const shutting = queue.shutDownWithDrain();
    assert.equal(queue.isShuttingDown(), true);
    assert.equal(clock.pending(), 0, 'keys waiting for a delay are dropped');
    queue.add('late');
    queue.add('a');
    assert.equal(queue.len(), 1, 'adds are ignored while draining');
    const b = (await queue.get())!;
    assert.equal(b, 'b', 'queued keys are still handed out');
    queue.done(a);
    const nextGet = queue.get();
    assert.equal(await settled(shutting), false, '"b" is still in process');
    queue.done(b);
    await shutting;
    assert.equal(await nextGet, undefined, 'a waiting worker is released');
    assert.equal(await queue.get(), undefined);
  });

  it('shutDownWithDrain on an idle queue resolves at once and releases waiting workers', async () => {
    const { queue } = newQueue();
    const waiting = queue.get();
    await queue.shutDownWithDrain();
    assert.equal(await waiting, undefined);
  });

  it('drain waits for queued, in-process and delayed keys', async () => {
    const { queue, clock } = newQueue();
    await queue.drain();
    queue.add('a');
    queue.addAfter('b', 10);
    const drained = queue.drain();
    const a = (await queue.get())!;
    queue.done(a);
    assert.equal(await settled(drained), false, '"b" is waiting for its delay');
    clock.advance(10);
    assert.equal(await settled(drained), false, '"b" is queued');
    const b = (await queue.get())!;
    assert.equal(await settled(drained), false, '"b" is in process');
    queue.done(b);
    await drained;
  });

  it('model: 2 producers and 4 workers over 2000 random operations never share a key and lose no add', { timeout: 20_000 }, async () => {
    const random = prng(20240611);
    const pick = (n: number): number => Math.floor(random() * n);
    const KEYS = 20;
    const clock = new FakeClock();
    const queue = new WorkQueue<string>({ clock, rateLimiter: new ExponentialFailureRateLimiter<string>(1, 30) });

    // The model: a key needs processing from an add (or a delay falling due) until a worker takes it.
    // Every producer operation follows a tick, so a key handed out earlier has reached its worker.
    const needsProcessing = new Set<string>();
    const delayedUntil = new Map<string, number>();
    const inProcess = new Set<string>();
    const violations: string[] = [];
    const counts = { adds: 0, delayed: 0, readdsInProcess: 0, processed: 0, maxTimers: 0 };

    const request = (key: string): void => {
      needsProcessing.add(key);
      counts.adds++;
    };
    const add = (key: string): void => {
      request(key);
      queue.add(key);
    };
    const addAfter = (key: string, ms: number): void => {
      if (ms <= 0) request(key);
      else {
        const at = clock.now() + ms;
        delayedUntil.set(key, Math.min(delayedUntil.get(key) ?? Infinity, at));
        counts.delayed++;
      }
      queue.addAfter(key, ms);
      counts.maxTimers = Math.max(counts.maxTimers, clock.pending());
    };
    const advance = (ms: number): void => {
      for (const [key, at] of delayedUntil) {
        if (at <= clock.now() + ms) {
          delayedUntil.delete(key);
          request(key);
        }
      }
      clock.advance(ms);
    };

    let finishing = false;
    const worker = async (): Promise<void> => {
      for (;;) {
        const key = await queue.get();
        if (key === undefined) return;
        if (inProcess.has(key)) violations.push(`${key} handed to two workers`);
        if (!needsProcessing.has(key)) violations.push(`${key} processed without an add since its last processing`);
        inProcess.add(key);
        needsProcessing.delete(key);
        counts.processed++;
        // Slow enough that keys pile up, so adds of a key already queued are common.
        for (let i = pick(12); i > 0; i--) await tick();
        if (!finishing && random() < 0.15) {
          counts.readdsInProcess++;
          if (random() < 0.5) add(key);
          else addAfter(key, pick(30));
        }
        inProcess.delete(key);
        queue.done(key);
      }
    };
    const producer = async (operations: number): Promise<void> => {
      for (let i = 0; i < operations; i++) {
        for (let n = 1 + pick(3); n > 0; n--) await tick();
        const key = `k${pick(KEYS)}`;
        const roll = random();
        if (roll < 0.6) add(key);
        else if (roll < 0.85) addAfter(key, pick(40));
        else advance(1 + pick(25));
      }
    };

    const workers = Array.from({ length: 4 }, worker);
    await Promise.all([producer(1000), producer(1000)]);
    finishing = true;
    while (clock.pending() > 0 || queue.len() > 0 || inProcess.size > 0) {
      advance(10);
      await tick();
    }
    await queue.drain();

    assert.deepEqual(violations, []);
    assert.deepEqual([...needsProcessing], [], 'every add was followed by a processing that started after it');
    assert.equal(queue.len(), 0);
    assert.ok(counts.maxTimers <= KEYS, `at most one delay timer per key, saw ${counts.maxTimers}`);
    // The run must have exercised the interesting paths, or the checks above prove little.
    assert.ok(counts.processed > 500 && counts.adds - counts.processed > 100, `processed ${counts.processed} of ${counts.adds} adds`);
    assert.ok(counts.delayed > 100 && counts.readdsInProcess > 20, JSON.stringify(counts));

    // Bounded memory: nothing per key is left once all work is done.
    const internals = queue as unknown as { dirty: Set<string>; processing: Set<string>; delayed: Map<string, unknown>; queue: string[] };
    assert.deepEqual([internals.dirty.size, internals.processing.size, internals.delayed.size, internals.queue.length], [0, 0, 0, 0]);

    queue.shutDown();
    await Promise.all(workers);
  });
});
