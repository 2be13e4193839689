import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KyselyPlugin } from 'kysely';
import type { Database } from '../../src/db/database.js';
import { buildTestApp, createTask, createUser, dialectName, openTestDatabase } from '../helpers.js';

/** The database, counting every statement the app runs on it, prepared ones included. */
function counting(database: Database): { database: Database; count: () => number } {
  let statements = 0;
  // Once per statement run: a query built from subqueries transforms each of them, but has one result.
  const counter: KyselyPlugin = {
    transformQuery: (args) => args.node,
    transformResult: async (args) => {
      statements += 1;
      return args.result;
    },
  };
  const prepare: Database['prepare'] = (build) => {
    const run = database.prepare(build);
    return (values) => {
      statements += 1;
      return run(values);
    };
  };
  return { database: { ...database, db: database.db.withPlugin(counter), prepare }, count: () => statements };
}

describe(`[${dialectName}] statements per page of tasks`, () => {
  test('when a member of five lists asks for a page in any mode, with filters and orderings, then it is one statement, plus one count for the numbered envelopes', async (t) => {
    const { database, count } = counting(await openTestDatabase(t));
    const { app } = await buildTestApp(t, { database });
    const [member, owner] = await Promise.all([createUser(app), createUser(app)]);
    for (let index = 0; index < 5; index += 1) {
      const list = (await app.inject({ method: 'POST', url: '/api/lists/', headers: owner.auth, payload: { name: `List ${index}` } })).json();
      await app.inject({ method: 'POST', url: `/api/lists/${list.id}/members/`, headers: owner.auth, payload: { username: member.username } });
      for (let task = 0; task < 6; task += 1) await createTask(app, owner, { title: `Shared ${index}.${task}`, list: list.id });
    }
    for (let task = 0; task < 10; task += 1) await createTask(app, member, { title: `Own ${task}`, due_date: `2030-01-${10 + task}` });

    // The authentication of each request is one statement of its own.
    const cases: [string, number][] = [
      ['/api/tasks/', 1],
      ['/api/tasks/?ordering=-due_date&completed=false', 1],
      ['/api/tasks/?page=1&page_size=20&ordering=title', 2],
      ['/api/tasks/?limit=20&offset=20&search=shared', 2],
      ['/api/tasks/?cursor=&page_size=20&ordering=-updated_at', 1],
      ['/api/tasks/?list=personal&assignee=none&updated_since=2020-01-01', 1],
    ];
    for (const [url, expected] of cases) {
      const before = count();
      const response = await app.inject({ method: 'GET', url, headers: member.auth });
      assert.equal(response.statusCode, 200, url);
      assert.equal(count() - before - 1, expected, url);
    }
    const all = (await app.inject({ method: 'GET', url: '/api/tasks/', headers: member.auth })).json();
    assert.equal(all.length, 40);
  });
});
