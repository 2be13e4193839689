import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { dialectName } from '../helpers.js';
import { get, listIds, queryFixture, reset, seed } from './support.js';

const fixture = queryFixture();

describe(`[${dialectName}] ordering the task list`, () => {
  // Ids in insertion order: t[0] < t[1] < ... Titles, dates and flags repeat so ties occur.
  let t: number[];

  before(async () => {
    const f = fixture();
    await reset(f);
    t = await seed(f.database, f.alice, [
      { title: 'banana', due_date: '2026-05-01', completed: false, created_at: '2026-01-03T00:00:00.000000Z', updated_at: '2026-02-01T00:00:00.000000Z' },
      { title: 'apple', due_date: null, completed: true, created_at: '2026-01-01T00:00:00.000000Z', updated_at: '2026-02-03T00:00:00.000000Z' },
      { title: 'cherry', due_date: '2026-03-01', completed: false, created_at: '2026-01-02T00:00:00.000000Z', updated_at: '2026-02-02T00:00:00.000000Z' },
      { title: 'apple', due_date: '2026-05-01', completed: true, created_at: '2026-01-05T00:00:00.000000Z', updated_at: '2026-02-05T00:00:00.000000Z' },
      { title: 'date', due_date: null, completed: false, created_at: '2026-01-04T00:00:00.000000Z', updated_at: '2026-02-04T00:00:00.000000Z' },
      { title: 'elder', due_date: '2025-12-31', completed: true, created_at: '2026-01-06T00:00:00.000000Z', updated_at: '2026-02-06T00:00:00.000000Z' },
    ]);
    // Bob's tasks would interleave in every order if they leaked in.
    await seed(f.database, f.bob, [{ title: 'aardvark', due_date: '2020-01-01' }, { title: 'zebra' }]);
  });

  const order = (ordering: string) => listIds(fixture().app, fixture().alice, `?ordering=${ordering}`);
  const at = (...indexes: number[]) => indexes.map((index) => t[index]!);

  test('when ordering by id or -id, then tasks come back ascending or descending by id', async () => {
    assert.deepEqual(await order('id'), at(0, 1, 2, 3, 4, 5));
    assert.deepEqual(await order('-id'), at(5, 4, 3, 2, 1, 0));
  });

  test('when ordering by title, then equal titles are ordered by id ascending', async () => {
    assert.deepEqual(await order('title'), at(1, 3, 0, 2, 4, 5));
  });

  test('when ordering by -title, then equal titles are ordered by id descending', async () => {
    assert.deepEqual(await order('-title'), at(5, 4, 2, 0, 3, 1));
  });

  test('when ordering by due_date, then the earliest date comes first and undated tasks come last', async () => {
    assert.deepEqual(await order('due_date'), at(5, 2, 0, 3, 1, 4));
  });

  test('when ordering by -due_date, then the latest date comes first and undated tasks still come last', async () => {
    assert.deepEqual(await order('-due_date'), at(3, 0, 2, 5, 4, 1));
  });

  test('when ordering by completed, then open tasks come first and ties follow the direction of the key', async () => {
    assert.deepEqual(await order('completed'), at(0, 2, 4, 1, 3, 5));
    assert.deepEqual(await order('-completed'), at(5, 3, 1, 4, 2, 0));
  });

  test('when ordering by created_at or updated_at, then tasks follow those moments', async () => {
    assert.deepEqual(await order('created_at'), at(1, 2, 0, 4, 3, 5));
    assert.deepEqual(await order('-created_at'), at(5, 3, 4, 0, 2, 1));
    assert.deepEqual(await order('updated_at'), at(0, 2, 1, 4, 3, 5));
    assert.deepEqual(await order('-updated_at'), at(5, 3, 4, 1, 2, 0));
  });

  test('when ordering by several keys, then later keys break the ties of earlier ones', async () => {
    assert.deepEqual(await order('completed,-due_date'), at(0, 2, 4, 3, 5, 1));
    assert.deepEqual(await order('-completed,title'), at(1, 3, 5, 0, 2, 4));
    assert.deepEqual(await order('due_date,-title'), at(5, 2, 0, 3, 4, 1));
  });

  test('when a tie on the first key is broken by a second key, then its direction is followed', async () => {
    // Dates tie on 2026-05-01 and among undated tasks; completed then decides, and nothing ties on both.
    assert.deepEqual(await order('-due_date,-completed'), at(3, 0, 2, 5, 1, 4));
    assert.deepEqual(await order('-due_date,completed'), at(0, 3, 2, 5, 4, 1));
  });

  test('when id is one of the keys, then it orders where it is named', async () => {
    assert.deepEqual(await order('completed,-id'), at(4, 2, 0, 5, 3, 1));
  });

  test('when the same ordering is asked twice, then the order is identical', async () => {
    for (const ordering of ['title', '-due_date', 'completed', '-updated_at']) {
      assert.deepEqual(await order(ordering), await order(ordering), ordering);
    }
  });

  test('when ordering is combined with a filter, then only matching tasks come back in that order', async () => {
    const { app, alice } = fixture();
    assert.deepEqual(await listIds(app, alice, '?completed=true&ordering=-due_date'), at(3, 5, 1));
    assert.deepEqual(await listIds(app, alice, '?search=apple&ordering=-id'), at(3, 1));
    assert.deepEqual(await listIds(app, alice, '?has_due_date=true&ordering=due_date,-id'), at(5, 2, 3, 0));
  });

  test('when bob orders his list, then none of alice\'s tasks are in it', async () => {
    const { app, bob } = fixture();
    const response = await get(app, bob, '/api/tasks/?ordering=title');
    assert.equal(response.statusCode, 200);
    assert.deepEqual(
      (response.json() as { title: string; owner: number }[]).map((task) => [task.title, task.owner]),
      [['aardvark', bob.id], ['zebra', bob.id]],
    );
  });
});

describe(`[${dialectName}] bad ordering values`, () => {
  const reply = (query: string) => get(fixture().app, fixture().alice, `/api/tasks/${query}`);

  for (const ordering of ['priority', 'owner', 'description', '-password', 'title,owner', 'due-date', '--title', '-']) {
    test(`when ordering by "${ordering}", then it is a 400 on the ordering field`, async () => {
      const response = await reply(`?ordering=${encodeURIComponent(ordering)}`);
      assert.equal(response.statusCode, 400);
      const body = response.json() as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), ['ordering']);
      assert.ok(Array.isArray(body.ordering) && body.ordering.length > 0 && body.ordering.every((m) => typeof m === 'string'));
    });
  }

  test('when the ordering is bad together with a filter, then both fields are reported', async () => {
    const response = await reply('?ordering=owner&completed=maybe');
    assert.equal(response.statusCode, 400);
    assert.deepEqual(Object.keys(response.json()).sort(), ['completed', 'ordering']);
  });

  test('when the ordering is bad on a paginated request, then it is a 400 and not a page', async () => {
    for (const pagination of ['page_size=2', 'limit=2', 'cursor=']) {
      const response = await reply(`?ordering=secret&${pagination}`);
      assert.equal(response.statusCode, 400, pagination);
      assert.deepEqual(Object.keys(response.json()), ['ordering'], pagination);
    }
  });
});
