import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { describe, test, type TestContext } from 'node:test';
import SQLite from 'better-sqlite3';
import { createDatabase, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openTestSqliteFile } from '../helpers.js';

// SQLite's hot reads share one read transaction per turn of the event loop, on a second
// connection (see readSnapshots in src/db/database.ts). These tests hold it to what that
// promises, whichever database the rest of the suite runs on.

interface Fixture {
  database: Database;
  file: string;
  ownerId: number;
  /** The titles of the owner's tasks, read as the request path reads (a prepared hot read). */
  titles(): Promise<string[]>;
  addTask(title: string): Promise<void>;
}

/** A new task of the given owner, as stored; the long description makes each write span pages. */
function taskRow(ownerId: number, title: string) {
  const at = '2026-11-25T00:00:00.000000Z';
  return { owner_id: ownerId, title, description: 'x'.repeat(1000), due_date: null, completed: false, created_at: at, updated_at: at, completed_at: null };
}

function openInMemory(t: TestContext): { database: Database; file: string } {
  const database = createDatabase('sqlite::memory:');
  t.after(() => database.close());
  return { database, file: ':memory:' };
}

async function sqliteFixture(t: TestContext, { inMemory = false } = {}): Promise<Fixture> {
  const { database, file } = inMemory ? openInMemory(t) : openTestSqliteFile(t);
  await migrateToLatest(database.db);
  const { id: ownerId } = await database.db
    .insertInto('users')
    .values({ username: 'ann', username_key: 'ann', email: '', password: 'x', date_joined: '2026-11-25T00:00:00.000000Z' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const byOwner = database.prepare((p: { ownerId: number }) =>
    database.db.selectFrom('tasks').select('title').where('owner_id', '=', p.ownerId).orderBy('id'),
  );
  return {
    database,
    file,
    ownerId,
    titles: async () => (await byOwner({ ownerId })).map((row) => row.title),
    addTask: async (title) => {
      await database.db.insertInto('tasks').values(taskRow(ownerId, title)).execute();
    },
  };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('SQLite hot reads', () => {
  test('when this process writes after a hot read in the same turn, then the next hot read sees the write', async (t) => {
    const { titles, addTask } = await sqliteFixture(t);
    assert.deepEqual(await titles(), []);
    await addTask('first');
    assert.deepEqual(await titles(), ['first']);
    await addTask('second');
    assert.deepEqual(await titles(), ['first', 'second']);
  });

  test('when another process commits a write, then hot reads see it from the next turn of the event loop', async (t) => {
    const { file, ownerId, titles } = await sqliteFixture(t);
    const other = new SQLite(file);
    t.after(() => other.close());
    assert.deepEqual(await titles(), []);
    other
      .prepare(
        `insert into tasks (owner_id, title, description, completed, created_at, updated_at)
         values (?, 'from elsewhere', '', 0, '2026-11-25T00:00:00.000000Z', '2026-11-25T00:00:00.000000Z')`,
      )
      .run(ownerId);
    // Within the turn, hot reads keep the snapshot they began with.
    assert.deepEqual(await titles(), []);
    await nextTurn();
    assert.deepEqual(await titles(), ['from elsewhere']);
  });

  test('when a transaction of this process has written but not committed, then hot reads do not see it until it commits', async (t) => {
    const { database, ownerId, titles } = await sqliteFixture(t);
    await database.db.transaction().execute(async (transaction) => {
      await transaction.insertInto('tasks').values(taskRow(ownerId, 'pending')).execute();
      assert.deepEqual(await titles(), []);
    });
    assert.deepEqual(await titles(), ['pending']);
  });

  test('when hot reads and writes alternate within one turn many times, then checkpoints keep the write-ahead log small', async (t) => {
    const { file, titles, addTask } = await sqliteFixture(t);
    // Each write touches a few 4 KiB pages: without checkpoints the log would pass 16 MB.
    for (let index = 0; index < 1500; index += 1) {
      await titles();
      await addTask(`task ${index}`);
    }
    // SQLite checkpoints at 1,000 pages; a snapshot left open at a commit would hold it back.
    const walBytes = statSync(`${file}-wal`).size;
    assert.ok(walBytes < 6_000_000, `the write-ahead log has grown to ${walBytes} bytes`);
    assert.equal((await titles()).length, 1500);
  });

  test('when the database is closed right after a hot read, then the snapshot ends with it and nothing fails later', async (t) => {
    const { database, titles } = await sqliteFixture(t);
    await titles();
    await database.close();
    await nextTurn();
  });

  test('when a write statement is given to prepare(), then it is refused', async (t) => {
    const { database } = await sqliteFixture(t);
    assert.throws(
      () => database.prepare((p: { id: number }) => database.db.deleteFrom('tasks').where('id', '=', p.id)),
      /prepare\(\) is for reads only/,
    );
  });

  test('when the database is in memory, then hot reads run on its one connection and see every write', async (t) => {
    const { titles, addTask } = await sqliteFixture(t, { inMemory: true });
    await addTask('kept in memory');
    assert.deepEqual(await titles(), ['kept in memory']);
  });
});
