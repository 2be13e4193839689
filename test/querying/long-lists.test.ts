import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { BATCH_SIZE } from '../../src/tasks/listing.js';
import { dialectName } from '../helpers.js';
import { get, pathOf, queryFixture, reset, seed } from './support.js';

const fixture = queryFixture();

/** More tasks than one batch, with titles in an order different from their ids. */
const COUNT = BATCH_SIZE * 2 + 7;

interface Listed {
  id: number;
  title: string;
  description: string;
}

describe(`[${dialectName}] lists longer than one batch`, () => {
  let ids: number[];

  beforeEach(async () => {
    const f = fixture();
    await reset(f);
    ids = await seed(
      f.database,
      f.alice,
      Array.from({ length: COUNT }, (_, index) => ({
        title: `Task ${String((index * 37) % COUNT).padStart(3, '0')}`,
        description: `Description ${index} ${'🚀'.repeat(index % 5)}`,
        completed: index % 3 === 0,
      })),
    );
    await seed(f.database, f.bob, [{ title: "Bob's" }]);
  });

  const list = async (url: string) => {
    const response = await get(fixture().app, fixture().alice, url);
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    return response;
  };

  test('when the whole list is asked for, then every task comes back once, in id order, as valid JSON', async () => {
    const tasks = (await list('/api/tasks/')).json() as Listed[];
    assert.deepEqual(tasks.map((task) => task.id), ids);
    assert.equal(tasks[4]!.description, `Description 4 ${'🚀'.repeat(4)}`);
    assert.ok(tasks.every((task) => task.title !== "Bob's"));
  });

  test('when the list is ordered and filtered, then it matches the same query answered in one piece', async () => {
    const tasks = (await list('/api/tasks/?ordering=-title&completed=false')).json() as Listed[];
    const expected = ((await list('/api/tasks/')).json() as (Listed & { completed: boolean })[])
      .filter((task) => !task.completed)
      .sort((a, b) => (a.title < b.title ? 1 : a.title > b.title ? -1 : b.id - a.id));
    assert.ok(expected.length > BATCH_SIZE);
    assert.deepEqual(tasks, expected);
  });

  test('when a numbered page is larger than a batch, then its envelope and results are whole', async () => {
    const page = (await list('/api/tasks/?page_size=1000')).json();
    assert.deepEqual(Object.keys(page), ['count', 'next', 'previous', 'results']);
    assert.equal(page.count, COUNT);
    assert.equal(page.next, null);
    assert.deepEqual(page.results.map((task: Listed) => task.id), ids);

    const window = (await list('/api/tasks/?limit=100&offset=5')).json();
    assert.equal(window.count, COUNT);
    assert.deepEqual(window.results.map((task: Listed) => task.id), ids.slice(5, 105));
    assert.match(window.next, /offset=105/);
  });

  test('when cursor pages are larger than a batch, then walking them forwards and back gives every task once', async () => {
    const forwards: number[] = [];
    let url: string | null = '/api/tasks/?cursor=&page_size=60&ordering=title';
    let last: { previous: string | null } | undefined;
    while (url !== null) {
      const page: { next: string | null; previous: string | null; results: Listed[] } = (await list(url)).json();
      assert.deepEqual(Object.keys(page), ['next', 'previous', 'results']);
      forwards.push(...page.results.map((task) => task.id));
      last = page;
      url = page.next === null ? null : pathOf(page.next);
    }
    const byTitle = ((await list('/api/tasks/?ordering=title')).json() as Listed[]).map((task) => task.id);
    assert.deepEqual(forwards, byTitle);

    const backwards: number[] = [];
    url = last!.previous === null ? null : pathOf(last!.previous);
    while (url !== null) {
      const page: { previous: string | null; results: Listed[] } = (await list(url)).json();
      backwards.unshift(...page.results.map((task) => task.id));
      url = page.previous === null ? null : pathOf(page.previous);
    }
    assert.deepEqual([...backwards, ...forwards.slice(backwards.length)], byTitle);
  });

  test('when a long list is asked for with HEAD, then it answers 200 without a body', async () => {
    const response = await fixture().app.inject({ method: 'HEAD', url: '/api/tasks/', headers: fixture().alice.auth });
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, '');
  });

  test('when tasks are deleted while a long list is read, then the reply is still valid JSON without them', async () => {
    const { app, alice, database } = fixture();
    const replies = await Promise.all([
      app.inject({ method: 'GET', url: '/api/tasks/', headers: alice.auth }),
      database.db.deleteFrom('tasks').where('id', 'in', ids.slice(BATCH_SIZE, BATCH_SIZE + 10)).execute(),
    ]);
    const tasks = replies[0].json() as Listed[];
    assert.ok(tasks.length === COUNT || tasks.length === COUNT - 10, String(tasks.length));
    assert.deepEqual(tasks.map((task) => task.id), ids.filter((id) => tasks.some((task) => task.id === id)));
  });
});
