import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { batchingStatement, type NamedStatement } from '../../src/db/batching.js';
import { dialectName, openTestDatabase } from '../helpers.js';
import { insertUser } from '../accounts/support.js';

// Attacks on the batching of prepared reads (src/db/batching.ts): bad values mixed with good
// ones, very many calls in one turn, and rows reaching the wrong call.

describe('batched prepared reads under attack (no database)', () => {
  test('10,000 calls in one turn stay within the parameter limit and the batch size, and each gets its own rows', async () => {
    const sent: NamedStatement[] = [];
    const run = async (statement: NamedStatement) => {
      sent.push(statement);
      const calls = statement.values.length / 3;
      // Each call's row echoes its first value; the batch column first.
      const rows = Array.from({ length: calls }, (_, i) => [i + 1, statement.values[i * 3]]);
      return calls === 1 && statement.rowMode === undefined
        ? { rows: [{ v: statement.values[0] }], fields: [{ name: 'v' }] }
        : { rows, fields: [{ name: '#batch' }, { name: 'v' }] };
    };
    let names = 0;
    const call = batchingStatement('select $1::int as v where $2 = $3', 3, run, () => `s${(names += 1)}`);
    const results = await Promise.all(Array.from({ length: 10_000 }, (_, i) => call([i, 1, 1])));
    results.forEach((rows, i) => assert.deepEqual(rows, [{ v: i }]));
    assert.ok(sent.every((statement) => statement.values.length <= 65535 && statement.values.length / 3 <= 8));
    assert.equal(new Set(sent.map((statement) => statement.name)).size <= 8, true, 'a name per batch size, not per batch');
  });

  test('a row tagged with no call fails the batch it came in, not the process', async () => {
    const run = async () => ({ rows: [[99, 'x']], fields: [{ name: '#batch' }, { name: 'v' }] });
    const call = batchingStatement('select $1 as v', 1, run, () => 'n');
    const results = await Promise.allSettled([call([1]), call([2])]);
    assert.deepEqual(results.map((result) => result.status), ['rejected', 'rejected']);
  });
});

describe('batched prepared reads under attack (PostgreSQL)', { skip: dialectName !== 'postgres' }, () => {
  test('out-of-range and malformed values fail only their own calls; the others get their own user', async (t) => {
    const database = await openTestDatabase(t);
    const ids: number[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(await insertUser(database, { username: `attack_${i}_${Date.now()}`, password: 'x' }));
    const byId = database.prepare((p: { id: number; since: string }) =>
      database.db.selectFrom('users').select(['id', 'username']).where('id', '=', p.id).where('date_joined', '>', p.since),
    );
    const since = '2000-01-01T00:00:00.000000Z';
    const calls = [
      byId({ id: ids[0]!, since }),
      byId({ id: 2 ** 70, since }), // beyond bigint
      byId({ id: ids[1]!, since: 'not a timestamp' }),
      byId({ id: ids[2]!, since }),
      byId({ id: ids[1]!, since }),
    ];
    const results = await Promise.allSettled(calls);
    assert.deepEqual(results.map((result) => result.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
    const rowsOf = (index: number) => (results[index] as PromiseFulfilledResult<{ id: number }[]>).value.map((row) => row.id);
    assert.deepEqual([rowsOf(0), rowsOf(3), rowsOf(4)], [[ids[0]], [ids[2]], [ids[1]]]);
  });

  test('10,000 calls in one turn are all answered, each with its own row', async (t) => {
    const database = await openTestDatabase(t);
    const ids: number[] = [];
    for (let i = 0; i < 4; i += 1) ids.push(await insertUser(database, { username: `many_${i}_${Date.now()}`, password: 'x' }));
    const byId = database.prepare((p: { id: number }) => database.db.selectFrom('users').select('id').where('id', '=', p.id));
    const results = await Promise.all(Array.from({ length: 10_000 }, (_, i) => byId({ id: ids[i % 4]! })));
    results.forEach((rows, i) => assert.deepEqual(rows, [{ id: ids[i % 4] }]));
  });
});
