import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { dialectName, type TestUser } from '../helpers.js';
import { day, get, idsOf, pageOf, queryFixture, reset, seed, walk, type SeedRow } from './support.js';

const fixture = queryFixture();

/** Tasks that between them pass every filter, given to both users. */
const ROWS: SeedRow[] = [
  { title: 'Shared word overdue', due_date: day(-2) },
  { title: 'Shared word later', description: 'École', due_date: day(3) },
  { title: 'Shared word done', due_date: day(-5), completed: true },
  { title: 'Shared word undated' },
  { title: 'Shared word old', updated_at: '2020-01-01T00:00:00.000000Z', created_at: '2020-01-01T00:00:00.000000Z' },
];

const QUERIES = [
  '',
  '?completed=true',
  '?completed=false',
  `?due_before=${day(0)}`,
  `?due_after=${day(0)}`,
  '?overdue=true',
  '?overdue=false',
  '?has_due_date=true',
  '?has_due_date=false',
  '?search=shared',
  `?search=${encodeURIComponent('ÉCOLE')}`,
  '?updated_since=2019-01-01T00:00:00Z',
  '?ordering=-due_date',
  '?ordering=title&completed=false',
];

describe(`[${dialectName}] every query is scoped to the caller`, () => {
  let aliceIds: number[];

  before(async () => {
    const f = fixture();
    await reset(f);
    // Bob's tasks are inserted first and in between, so ids interleave.
    await seed(f.database, f.bob, ROWS);
    aliceIds = await seed(f.database, f.alice, ROWS);
    await seed(f.database, f.bob, ROWS);
  });

  const owners = (tasks: { owner: number }[]) => [...new Set(tasks.map((task) => task.owner))];

  async function plain(user: TestUser, query: string) {
    const response = await get(fixture().app, user, `/api/tasks/${query}`);
    assert.equal(response.statusCode, 200, query);
    return response.json() as { id: number; owner: number }[];
  }

  for (const query of QUERIES) {
    test(`when alice asks for ${query || 'her list'}, then only her tasks come back in every kind of page`, async () => {
      const { app, alice } = fixture();
      const tasks = await plain(alice, query);
      assert.ok(tasks.length > 0, 'the query matches some of her tasks');
      assert.deepEqual(owners(tasks), [alice.id]);
      assert.ok(idsOf(tasks).every((id) => aliceIds.includes(id)));

      const joiner = query === '' ? '?' : '&';
      const numbered = await walk(app, alice, `/api/tasks/${query}${joiner}page_size=2`);
      assert.ok(numbered.every((page) => page.count === tasks.length), 'count is hers alone');
      assert.deepEqual(numbered.flatMap((page) => idsOf(page.results)), idsOf(tasks));

      const offsets = await walk(app, alice, `/api/tasks/${query}${joiner}limit=2`);
      assert.ok(offsets.every((page) => page.count === tasks.length));
      assert.deepEqual(offsets.flatMap((page) => idsOf(page.results)), idsOf(tasks));

      const cursors = await walk(app, alice, `/api/tasks/${query}${joiner}cursor=&page_size=2`);
      assert.deepEqual(cursors.flatMap((page) => idsOf(page.results)), idsOf(tasks));
    });
  }

  test('when bob asks the same, then he gets the same number of his own tasks and none of alice\'s', async () => {
    const { alice, bob } = fixture();
    for (const query of QUERIES) {
      const his = await plain(bob, query);
      assert.equal(his.length, 2 * (await plain(alice, query)).length, query);
      assert.deepEqual(owners(his), [bob.id], query);
    }
  });

  test('when alice asks for a page past her own tasks, then bob\'s tasks do not fill it', async () => {
    const { app, alice } = fixture();
    const response = await get(app, alice, '/api/tasks/?page=2&page_size=5');
    assert.equal(response.statusCode, 404);
    const offset = pageOf(await get(app, alice, '/api/tasks/?limit=5&offset=5'));
    assert.deepEqual(offset.results, []);
    assert.equal(offset.count, 5);
  });
});
