import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { atomically, type Database } from '../../src/db/database.js';
import { openTestSqliteFileWithUser } from '../helpers.js';

// SQLite's writes share commits (GroupCommitDriver in src/db/group-commit.ts). These tests hold
// it to what it promises, whichever database the rest of the suite runs on: writes of one turn
// commit together, each is answered only once committed, a failing one undoes only itself, and
// reads neither see a group before its commit nor wait for it.

const AT = '2026-11-30T00:00:00.000000Z';

interface Fixture {
  database: Database;
  ownerId: number;
  /** Another process's view of the file: what is committed, and only that. */
  committedTitles(): string[];
  addTask(title: string): Promise<void>;
}

async function fixture(t: TestContext): Promise<Fixture> {
  const { database, userId: ownerId, observer } = await openTestSqliteFileWithUser(t, AT);
  const byOwner = observer.prepare('select title from tasks where owner_id = ? order by id').pluck();
  return {
    database,
    ownerId,
    committedTitles: () => byOwner.all(ownerId) as string[],
    addTask: async (title) => {
      await database.db
        .insertInto('tasks')
        .values({ owner_id: ownerId, title, description: '', due_date: null, completed: false, created_at: AT, updated_at: AT, completed_at: null })
        .execute();
    },
  };
}

/** Runs `observe` in the check phase of this turn, before the group's commit scheduled after it. */
function beforeTheCommit<T>(observe: () => T): Promise<T> {
  return new Promise((resolve) => setImmediate(() => resolve(observe())));
}

const titles = (count: number, prefix = 'task') => Array.from({ length: count }, (_, i) => `${prefix} ${i}`);

describe('SQLite group commit', () => {
  test('when many writes arrive in one turn, then they run at once, are committed together, and each is answered only after that commit', async (t) => {
    const { addTask, committedTitles } = await fixture(t);
    const observed = beforeTheCommit(() => ({ committed: committedTitles() }));
    let answered = 0;
    const writes = titles(50).map((title) => addTask(title).then(() => (answered += 1)));
    // Every write has run by the check phase, in the group's open transaction: none is visible
    // to another connection yet, and none has been answered.
    const before = await observed;
    assert.deepEqual(before.committed, []);
    assert.equal(answered, 0);
    await Promise.all(writes);
    assert.deepEqual(committedTitles(), titles(50));
  });

  test('when one write of a group fails, then it alone is refused and the others are committed', async (t) => {
    const { database, ownerId, addTask, committedTitles } = await fixture(t);
    const results = await Promise.allSettled([
      addTask('first'),
      // A task of a user who does not exist: the foreign key refuses it.
      database.db
        .insertInto('tasks')
        .values({ owner_id: ownerId + 1000, title: 'orphan', description: '', due_date: null, completed: false, created_at: AT, updated_at: AT, completed_at: null })
        .execute(),
      addTask('last'),
    ]);
    assert.deepEqual(results.map((result) => result.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(committedTitles(), ['first', 'last']);
  });

  test('when a transaction of a group fails after writing, then its writes are undone and the rest of the group is committed', async (t) => {
    const { database, addTask, committedTitles } = await fixture(t);
    await addTask('before');
    const failing = atomically(database.db, async (trx) => {
      await trx.updateTable('tasks').set({ title: 'renamed by a failed use case' }).execute();
      await trx.insertInto('tasks').values({ owner_id: -1, title: 'orphan', description: '', due_date: null, completed: false, created_at: AT, updated_at: AT, completed_at: null }).execute();
    });
    const results = await Promise.allSettled([addTask('beside'), failing, addTask('after')]);
    assert.deepEqual(results.map((result) => result.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(committedTitles(), ['before', 'beside', 'after']);
  });

  test('when a transaction catches a failed statement and goes on, then the rest of what it wrote is committed', async (t) => {
    const { database, ownerId, committedTitles } = await fixture(t);
    const task = (owner: number, title: string) => ({ owner_id: owner, title, description: '', due_date: null, completed: false, created_at: AT, updated_at: AT, completed_at: null });
    await atomically(database.db, async (trx) => {
      await trx.insertInto('tasks').values(task(ownerId, 'kept')).execute();
      await assert.rejects(trx.insertInto('tasks').values(task(-1, 'orphan')).execute());
      await trx.insertInto('tasks').values(task(ownerId, 'also kept')).execute();
    });
    assert.deepEqual(committedTitles(), ['kept', 'also kept']);
  });

  test('when a transaction holds the connection across other I/O, then reads do not wait for it, and writes behind it are committed after it', async (t) => {
    const { database, addTask, committedTitles } = await fixture(t);
    await addTask('existing');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = atomically(database.db, async (trx) => {
      await trx.updateTable('tasks').set({ title: 'renamed' }).execute();
      await held;
    });
    const queued = addTask('queued');
    // Reads outside transactions run on the read connection: answered at once, without the
    // transaction's uncommitted change.
    const read = await database.db.selectFrom('tasks').select('title').orderBy('id').execute();
    assert.deepEqual(read.map((row) => row.title), ['existing']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(committedTitles(), ['existing'], 'nothing is committed while the transaction runs');
    release();
    await Promise.all([slow, queued]);
    assert.deepEqual(committedTitles(), ['renamed', 'queued']);
  });
});
