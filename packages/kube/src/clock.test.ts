import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock, realClock } from './clock.ts';

describe('FakeClock', () => {
  it('runs the timers due within the window in time order, ties in the order they were set', () => {
    const clock = new FakeClock(1000);
    const ran: string[] = [];
    clock.setTimeout(() => ran.push(`c@${clock.now()}`), 30);
    clock.setTimeout(() => ran.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => ran.push(`b@${clock.now()}`), 10);
    clock.setTimeout(() => ran.push('late'), 51);
    clock.advance(50);
    assert.deepEqual(ran, ['a@1010', 'b@1010', 'c@1030']);
    assert.equal(clock.now(), 1050);
    assert.equal(clock.pending(), 1);
    clock.advance(1);
    assert.deepEqual(ran.at(-1), 'late');
  });

  it('runs timers set by timers when they fall due within the same advance, and no later ones', () => {
    const clock = new FakeClock();
    const ran: number[] = [];
    clock.setTimeout(() => {
      ran.push(clock.now());
      clock.setTimeout(() => ran.push(clock.now()), 0);
      clock.setTimeout(() => {
        ran.push(clock.now());
        clock.setTimeout(() => ran.push(clock.now()), 100);
      }, 20);
    }, 10);
    clock.advance(50);
    assert.deepEqual(ran, [10, 10, 30]);
    assert.equal(clock.pending(), 1, 'the timer due at 130 waits');
    clock.advance(80);
    assert.deepEqual(ran, [10, 10, 30, 130]);
  });

  it('does not run a cleared timer, and clearing twice or clearing a stranger is harmless', () => {
    const clock = new FakeClock();
    let ran = false;
    const handle = clock.setTimeout(() => { ran = true; }, 5);
    clock.clearTimeout(handle);
    clock.clearTimeout(handle);
    clock.clearTimeout({});
    clock.advance(10);
    assert.equal(ran, false);
    assert.equal(clock.pending(), 0);
  });

  it('refuses to go back in time', () => {
    const clock = new FakeClock(5);
    assert.throws(() => clock.advance(-1), RangeError);
    assert.throws(() => clock.advance(Number.NaN), RangeError);
    assert.equal(clock.now(), 5);
  });
});

describe('realClock', () => {
  it('splits a delay longer than Node allows into several timers, and can clear it midway', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const scheduled = t.mock.method(globalThis, 'setTimeout');
    const thirtyDays = 30 * 24 * 3600 * 1000;
    let fired = 0;
    realClock.setTimeout(() => { fired++; }, thirtyDays);
    const cleared = realClock.setTimeout(() => { fired += 100; }, thirtyDays);
    t.mock.timers.tick(2 ** 31 - 1);
    realClock.clearTimeout(cleared);
    t.mock.timers.tick(thirtyDays - 2 ** 31);
    assert.equal(fired, 0, 'nothing fires early');
    t.mock.timers.tick(1);
    assert.equal(fired, 1);
    const delays = scheduled.mock.calls.map((call) => call.arguments[1] as number);
    assert.ok(delays.length >= 3 && delays.every((ms) => ms <= 2 ** 31 - 1), `delays: ${delays.join(', ')}`);
  });
});
