import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Migrator, sql } from 'kysely';
import { migrateToLatest } from '../../src/db/migrate.js';
import { isSqlite } from '../../src/db/migrations/column-types.js';
import * as initial from '../../src/db/migrations/001_initial.js';
import * as taskQueries from '../../src/db/migrations/002_task_queries.js';
import * as sync from '../../src/db/migrations/003_sync.js';
import { sortKeys } from '../../src/tasks/ordering.js';
import { createTasksRepository } from '../../src/tasks/repository.js';
import { foldForSearch } from '../../src/tasks/search-text.js';
import { dialectName, openTestDatabase } from '../helpers.js';

describe(`[${dialectName}] migration 004 on a database with tasks`, () => {
  test('when tasks stored before the migration are migrated, then every one gets its folded text, batch after batch, and searches find them', async (t) => {
    const database = await openTestDatabase(t, { migrate: false });
    const { db } = database;
    // The migrations before 004, recorded where migrateToLatest looks for them.
    const schema = isSqlite(db as never) ? undefined : (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]!.schema;
    const before = new Migrator({
      db,
      provider: { getMigrations: async () => ({ '001_initial': initial, '002_task_queries': taskQueries, '003_sync': sync }) },
      migrationTableSchema: schema,
    });
    assert.equal((await before.migrateToLatest()).error, undefined);

    const owner = await sql<{ id: number }>`
      insert into users (username, username_key, email, password, date_joined)
      values ('old', 'old', '', 'x', '2026-01-01T00:00:00.000000Z') returning id`.execute(db);
    const ownerId = Number(owner.rows[0]!.id);
    const titles = Array.from({ length: 2345 }, (_, index) => (index % 100 === 7 ? `İstanbul ${index}` : `Task ${index} ΟΔΟΣ`));
    for (let start = 0; start < titles.length; start += 500) {
      const values = titles.slice(start, start + 500).map((title, offset) => sql`(${ownerId}, ${title}, ${offset % 2 ? 'GROẞE Pläne' : ''},
        ${false}, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`);
      await sql`insert into tasks (owner_id, title, description, completed, created_at, updated_at) values ${sql.join(values)}`.execute(db);
    }

    assert.deepEqual(await migrateToLatest(db), ['004_session_epoch_and_folded_text', '005_lists', '006_staff_and_audit', '007_password_reset', '008_browser_sessions', '009_task_change_id_on_insert']);

    const stored = await sql<{ title: string; description: string; title_folded: string; description_folded: string }>`
      select title, description, title_folded, description_folded from tasks order by id`.execute(db);
    assert.equal(stored.rows.length, titles.length);
    for (const row of stored.rows) {
      assert.equal(row.title_folded, foldForSearch(row.title));
      assert.equal(row.description_folded, foldForSearch(row.description));
    }
    const tasks = createTasksRepository(database);
    assert.equal((await tasks.search({ userId: ownerId }, { search: 'ISTANBUL' }, sortKeys([]))).length, 24);
    assert.equal(await tasks.count({ userId: ownerId }, { search: 'grosse' }), Math.floor(titles.length / 2));
    const epochs = await sql<{ session_epoch: number }>`select session_epoch from users`.execute(db);
    assert.deepEqual(epochs.rows.map((row) => Number(row.session_epoch)), [0]);
  });
});
