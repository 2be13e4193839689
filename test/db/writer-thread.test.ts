import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import SQLite from 'better-sqlite3';
import { Migrator, sql, type Kysely } from 'kysely';
import { openTestSqliteFile, openTestSqliteFileWithUser } from '../helpers.js';

// A SQLite file's writes run on a thread of their own (src/db/writer-thread.ts, driven by
// WriterThreadDriver in src/db/writer-client.ts), whichever database the rest of the suite
// runs on. These tests hold the parts that thread adds to what group-commit.test.ts covers.

const AT = '2026-12-01T00:00:00.000000Z';
const ROOT = join(import.meta.dirname, '..', '..');

describe('SQLite writes on their own thread', () => {
  test('when a statement is refused there, then the caller gets SQLite\'s error with its code, and the next write goes through', async (t) => {
    const { database, observer } = await openTestSqliteFileWithUser(t, AT);
    const duplicate = database.db
      .insertInto('users')
      .values({ username: 'ann', username_key: 'ann', email: '', password: 'x', date_joined: AT })
      .execute();
    await assert.rejects(duplicate, (error: Error & { code?: string }) => error.code === 'SQLITE_CONSTRAINT_UNIQUE' && /UNIQUE constraint failed/.test(error.message));
    await database.db.insertInto('users').values({ username: 'bob', username_key: 'bob', email: '', password: 'x', date_joined: AT }).execute();
    assert.deepEqual(observer.prepare('select username from users order by id').pluck().all(), ['ann', 'bob']);
  });

  test('when a run of migrations fails part way, then none of that run is applied', async (t) => {
    const { database, file } = openTestSqliteFile(t);
    const migrator = new Migrator({
      db: database.db as unknown as Kysely<unknown>,
      provider: {
        getMigrations: async () => ({
          '001_first': { up: async (db) => void (await sql`create table first (id integer primary key)`.execute(db)) },
          '002_second': {
            up: async (db) => {
              await sql`create table second (id integer primary key)`.execute(db);
              await sql`insert into no_such_table values (1)`.execute(db);
            },
          },
        }),
      },
    });
    const { error } = await migrator.migrateToLatest();
    assert.ok(error instanceof Error);
    const observer = new SQLite(file, { readonly: true });
    t.after(() => observer.close());
    const tables = observer.prepare("select name from sqlite_master where type = 'table' and name in ('first', 'second')").pluck().all();
    assert.deepEqual(tables, []);
    assert.equal(observer.prepare('select count(*) from kysely_migration').pluck().get(), 0);
  });

  test('when a script writes and never closes the database, then it gets its answer and the process still ends by itself', async (t) => {
    // The thread keeps the process alive only while a write is in flight, as a socket would.
    const folder = mkdtempSync(join(tmpdir(), 'writer-exit-'));
    t.after(() => rmSync(folder, { recursive: true, force: true }));
    const script = join(folder, 'script.mts');
    writeFileSync(
      script,
      `import { openSqlite } from ${JSON.stringify(join(ROOT, 'src', 'db', 'sqlite.ts'))};
      const database = openSqlite(${JSON.stringify(join(folder, 'db.sqlite3'))});
      await database.db.schema.createTable('t').addColumn('id', 'integer', (column) => column.primaryKey()).addColumn('v', 'text').execute();
      const rows = await database.db.insertInto('t').values({ v: 'kept' }).returning('v').execute();
      console.log(JSON.stringify(rows));`,
    );
    const run = promisify(execFile)(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, timeout: 20_000 });
    const { stdout } = await run;
    assert.equal(stdout.trim(), JSON.stringify([{ v: 'kept' }]));
  });
});
