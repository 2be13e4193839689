import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryBudget } from '../../src/http/memory-budget.js';

describe('the memory budget of long replies', () => {
  test('when the budget is spent, then the next request waits until bytes are released, in the order of asking', async () => {
    const budget = new MemoryBudget(100);
    await budget.acquire(60);
    await budget.acquire(40);
    const granted: string[] = [];
    const first = budget.acquire(50).then(() => granted.push('first'));
    const second = budget.acquire(10).then(() => granted.push('second'));
    await new Promise((done) => setImmediate(done));
    assert.deepEqual(granted, []);

    budget.release(40);
    await new Promise((done) => setImmediate(done));
    // 40 bytes free: not enough for the first, and the second does not jump the queue.
    assert.deepEqual(granted, []);
    budget.release(60);
    await Promise.all([first, second]);
    assert.deepEqual(granted, ['first', 'second']);
    assert.equal(budget.inUse, 60);
  });

  test('when one request is larger than the whole budget, then it runs alone', async () => {
    const budget = new MemoryBudget(100);
    await budget.acquire(500);
    assert.equal(budget.inUse, 500);
    let small = false;
    const waiting = budget.acquire(1).then(() => (small = true));
    await new Promise((done) => setImmediate(done));
    assert.equal(small, false);
    budget.release(500);
    await waiting;
    assert.equal(budget.inUse, 1);
  });
});
