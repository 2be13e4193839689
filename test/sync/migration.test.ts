import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Migrator, sql, type Kysely } from 'kysely';
import { hashPassword } from '../../src/accounts/passwords.js';
import { timestampOf } from '../../src/db/clock.js';
import type { Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import * as initial from '../../src/db/migrations/001_initial.js';
import * as taskQueries from '../../src/db/migrations/002_task_queries.js';
import * as sync from '../../src/db/migrations/003_sync.js';
import { buildTestApp, dialectName, login, openTestDatabase, PASSWORD, type TestUser } from '../helpers.js';
import { serverList, SyncClient } from './support.js';

/** The database as it was before migration 003. */
async function migrateTo002(database: Database): Promise<void> {
  const schema =
    database.dialect === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(database.db)).rows[0]!.schema
      : undefined;
  const migrator = new Migrator({
    db: database.db,
    provider: { getMigrations: async () => ({ '001_initial': initial, '002_task_queries': taskQueries }) },
    migrationTableSchema: schema,
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

async function insertUserWithTasks(database: Database, username: string, titles: string[]): Promise<number[]> {
  const stamp = timestampOf(Date.now());
  const user = await database.db
    .insertInto('users')
    .values({ username, username_key: username, email: '', password: await hashPassword(PASSWORD), date_joined: stamp, last_login: null })
    .returning('id')
    .executeTakeFirstOrThrow();
  const rows = titles.map((title) => ({
    owner_id: Number(user.id),
    title,
    description: '',
    due_date: null,
    completed: false,
    created_at: stamp,
    updated_at: stamp,
    completed_at: null,
  }));
  const inserted = await database.db.insertInto('tasks').values(rows).returning('id').execute();
  return inserted.map((row) => Number(row.id));
}

describe(`[${dialectName}] migration 003 and existing data`, () => {
  test('when tasks were stored before migration 003, then a first sync after it brings them, and later writes follow', async (t) => {
    const database = await openTestDatabase(t, { migrate: false });
    await migrateTo002(database);
    const [kept, changed, removed] = await insertUserWithTasks(database, 'alice', ['Kept', 'Changed', 'Removed']);
    await migrateToLatest(database.db);
    const { app } = await buildTestApp(t, { database });
    const token = await login(app, 'alice', PASSWORD);
    const alice = { auth: { authorization: `Token ${token}` } } as TestUser;

    const client = new SyncClient(app, alice);
    await client.sync();
    assert.deepEqual([...client.tasks.keys()].sort((a, b) => a - b), [kept, changed, removed]);
    await client.settle();

    const patched = await app.inject({ method: 'PATCH', url: `/api/tasks/${changed}/`, headers: alice.auth, payload: { title: 'After' } });
    assert.equal(patched.statusCode, 200);
    assert.equal((await app.inject({ method: 'DELETE', url: `/api/tasks/${removed}/`, headers: alice.auth })).statusCode, 204);
    const [reply] = await client.sync();
    assert.deepEqual(reply!.changed, [patched.json()]);
    assert.deepEqual(reply!.deleted.map((item) => item.id), [removed]);
    assert.deepEqual(client.list(), await serverList(app, alice));
  });

  test('when migration 003 is undone, then its triggers, table and columns go, and redone, they come back', async (t) => {
    const database = await openTestDatabase(t, { migrate: false });
    await migrateTo002(database);
    await sync.up(database.db as unknown as Kysely<unknown>);
    await sync.down(database.db as unknown as Kysely<unknown>);
    const [task] = await insertUserWithTasks(database, 'bob', ['Before']);
    await database.db.updateTable('tasks').set({ title: 'Written without triggers' }).where('id', '=', task!).execute();
    await migrateToLatest(database.db);
    const { app } = await buildTestApp(t, { database });
    const bob = { auth: { authorization: `Token ${await login(app, 'bob', PASSWORD)}` } } as TestUser;
    const client = new SyncClient(app, bob);
    await client.sync();
    assert.deepEqual(client.list(), await serverList(app, bob));
    await app.inject({ method: 'PATCH', url: `/api/tasks/${task}/`, headers: bob.auth, payload: { completed: true } });
    await client.sync();
    assert.deepEqual(client.list(), await serverList(app, bob));
  });
});
