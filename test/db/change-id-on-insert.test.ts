import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import SQLite from 'better-sqlite3';
import { createTasksRepository } from '../../src/tasks/repository.js';
import { openTestSqliteFileWithUser } from '../helpers.js';

// On SQLite a new task's insert carries the change counter's next value, so the trigger does
// not rewrite the row (migration 009). Change ids must still be what sync relies on: one per
// write, in commit order, with the counter at the newest; whatever the insert carried.

const AT = '2026-12-01T00:00:00.000000Z';

async function fixture(t: TestContext) {
  const { database, file, userId, observer } = await openTestSqliteFileWithUser(t, AT);
  const state = () => ({
    rows: observer.prepare('select id, title, change_id as changeId from tasks order by id').all() as Array<{ id: number; title: string; changeId: number }>,
    counter: (observer.prepare('select change_counter from sync_state').pluck().get() as number),
  });
  return { database, tasks: createTasksRepository(database), scope: { userId }, state, file };
}

/** Change ids in id order are 1, 2, 3, ... and the counter is the last. */
function assertStampedInOrder({ rows, counter }: ReturnType<Awaited<ReturnType<typeof fixture>>['state']>, titles: string[]) {
  assert.deepEqual(rows.map((row) => row.title), titles);
  assert.deepEqual(rows.map((row) => row.changeId), titles.map((_title, index) => index + 1));
  assert.equal(counter, titles.length);
}

test('when tasks are created one by one and many in one group commit, then each has the next change id and the counter the last', async (t) => {
  const { database, tasks, scope, state } = await fixture(t);
  await tasks.create(database.db, scope, { title: 'first' }, AT);
  await tasks.create(database.db, scope, { title: 'second' }, AT);
  const together = Array.from({ length: 20 }, (_value, index) => `together ${index}`);
  await Promise.all(together.map((title) => tasks.create(database.db, scope, { title }, AT)));
  assertStampedInOrder(state(), ['first', 'second', ...together]);
});

test('when a creation in a group fails, then the next ones still get consecutive change ids', async (t) => {
  const { database, tasks, scope, state } = await fixture(t);
  // An assignee outside any list: refused by a trigger before the row is written.
  const refused = tasks.create(database.db, scope, { title: 'refused' }, AT, { list_id: null, assignee_id: scope.userId });
  const kept = ['a', 'b', 'c'].map((title) => tasks.create(database.db, scope, { title }, AT));
  await assert.rejects(refused, /assignee is not a member/);
  await Promise.all(kept);
  assertStampedInOrder(state(), ['a', 'b', 'c']);
});

test('when a row is inserted without a change id, or with one that is not the next, then the trigger stamps it', async (t) => {
  const { database, tasks, scope, state, file } = await fixture(t);
  await tasks.create(database.db, scope, { title: 'through the repository' }, AT);
  await database.close();
  const writer = new SQLite(file);
  t.after(() => writer.close());
  const insert = writer.prepare(
    `insert into tasks (owner_id, title, created_at, updated_at, change_id) values (?, ?, '${AT}', '${AT}', ?)`,
  );
  insert.run(scope.userId, 'with none', 0);
  insert.run(scope.userId, 'with an old one', 1);
  insert.run(scope.userId, 'with one ahead', 99);
  writer.prepare(`insert into tasks (owner_id, title, created_at, updated_at) values (?, 'left out', '${AT}', '${AT}')`).run(scope.userId);
  assertStampedInOrder(state(), ['through the repository', 'with none', 'with an old one', 'with one ahead', 'left out']);
});
