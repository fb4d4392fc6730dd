import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { LineSplitter, LogBudget } from './process.ts';

describe('plugin output', () => {
  it('splits lines across chunks and UTF-8 characters cut in two', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    const text = Buffer.from('one\ntwo é\nthr');
    splitter.push(text.subarray(0, 8)); // ends inside "é"
    splitter.push(text.subarray(8));
    splitter.push('ee\n');
    assert.deepEqual(lines, ['one', 'two é', 'three']);
  });

  it('clips a long line and drops the rest of it without keeping it', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line), 10);
    splitter.push('x'.repeat(25));
    splitter.push('y'.repeat(5) + '\nnext\n');
    splitter.push('tail');
    splitter.flush();
    assert.deepEqual(lines, [`${'x'.repeat(10)}... [20 more characters of this line dropped]`, 'next', 'tail']);
  });

  it('logs a burst, then counts what is over the budget and says so', () => {
    const logged: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => { logged.push(line); } });
    const budget = new LogBudget(log, 100, 0);
    assert.equal(budget.admit(60), true);
    assert.equal(budget.admit(60), false);
    assert.equal(budget.admit(30), true);
    assert.match(logged.join(''), /"droppedLines":1,"droppedBytes":60/);
  });
});
