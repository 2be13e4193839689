import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, sql, type Generated } from 'kysely';
import { GroupCommitDriver } from '../../src/db/group-commit.js';
import { isDatabaseUnavailable } from '../../src/db/errors.js';
import { openSqlite } from '../../src/db/sqlite.js';

// Attacks on the SQLite group commit driver (src/db/group-commit.ts): failed commits, a failing
// ROLLBACK, shutdown with a transaction in flight, another process holding the write lock, and
// the in-memory database's hot reads.

interface Faults {
  /** COMMIT throws (without running) while set. */
  commit?: Error;
  /** ROLLBACK on the write connection throws (without running) while set. */
  rollback?: Error;
}

function sqliteError(code: string): Error {
  return Object.assign(new Error(`simulated ${code}`), { code });
}

function folder(t: TestContext): string {
  const path = mkdtempSync(join(tmpdir(), 'group-commit-attacks-'));
  t.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

function connect(file: string, busyMs = 5000): SQLite.Database {
  const connection = new SQLite(file);
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = FULL');
  connection.pragma(`busy_timeout = ${busyMs}`);
  return connection;
}

/**
 * The driver as the writer thread runs it, on a file with a table `t (id, v unique)`, with
 * faults injectable into COMMIT and ROLLBACK of the write connection.
 */
function openFaulty(t: TestContext, { busyMs = 5000 } = {}) {
  const file = join(folder(t), 'db.sqlite3');
  const setup = connect(file);
  setup.exec('create table t (id integer primary key, v text not null unique)');
  setup.close();
  const faults: Faults = {};
  const writer = connect(file, busyMs);
  const prepare = writer.prepare.bind(writer);
  const faulty = new Proxy(writer, {
    get(target, property, receiver) {
      if (property !== 'prepare') return Reflect.get(target, property, receiver) as unknown;
      return (source: string) => {
        const statement = prepare(source);
        const fault = source === 'COMMIT' ? 'commit' : source === 'ROLLBACK' ? 'rollback' : undefined;
        if (fault === undefined) return statement;
        const run = statement.run.bind(statement);
        return Object.assign(Object.create(statement) as SQLite.Statement, {
          run: (...args: unknown[]) => {
            const error = faults[fault];
            if (error !== undefined) throw error;
            return run(...(args as []));
          },
        });
      };
    },
  });
  const cache = new Map<string, SQLite.Statement>();
  const driver = new GroupCommitDriver(faulty, { get: (source) => cache.get(source) ?? cache.set(source, prepare(source)).get(source)! });
  const db = new Kysely<{ t: { id: Generated<number>; v: string } }>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => driver,
      createIntrospector: (k) => new SqliteIntrospector(k),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
  const observer = new SQLite(file, { readonly: true });
  t.after(async () => {
    observer.close();
    faults.commit = undefined;
    faults.rollback = undefined;
    if (writer.inTransaction) writer.exec('ROLLBACK');
    await db.destroy().catch(() => {});
  });
  return {
    db,
    file,
    faults,
    committed: () => observer.prepare('select v from t order by id').pluck().all() as string[],
    insert: (v: string) => db.insertInto('t').values({ v }).execute(),
  };
}

/** Settles with the outcome, or 'pending' if still unsettled after `ms`. */
async function outcome(promise: Promise<unknown>, ms = 500): Promise<'resolved' | 'pending' | { rejected: unknown }> {
  return Promise.race([
    promise.then(
      () => 'resolved' as const,
      (error: unknown) => ({ rejected: error }),
    ),
    sleep(ms).then(() => 'pending' as const),
  ]);
}

describe('SQLite group commit under attack', () => {
  test('a write refused because of an uncommitted row of its group is not answered with that refusal when the group then fails to commit', async (t) => {
    const { insert, faults } = openFaulty(t);
    faults.commit = sqliteError('SQLITE_IOERR');
    // Both in one turn: one group. The second conflicts with the first, which is not committed.
    const first = outcome(insert('taken'));
    const second = outcome(insert('taken'));
    const [a, b] = await Promise.all([first, second]);
    faults.commit = undefined;
    assert.ok(typeof a === 'object' && isDatabaseUnavailable(a.rejected), 'the kept write fails with the commit');
    // The second was refused on the strength of a row that was never committed: it must not be
    // answered "already taken" (409); it should fail as the group did (503).
    assert.ok(typeof b === 'object', 'the conflicting write is refused');
    assert.ok(
      isDatabaseUnavailable(b.rejected),
      `the conflicting write was answered with ${(b.rejected as { code?: string }).code}, a conflict with a row that was never committed`,
    );
  });

  test('when COMMIT fails and then ROLLBACK throws, the process does not crash and every unit of the group settles', async (t) => {
    const { insert, faults } = openFaulty(t);
    const uncaught: unknown[] = [];
    const listener = (error: unknown) => uncaught.push(error);
    // Kept first so that this test, not the runner, sees the exception.
    process.prependListener('uncaughtException', listener);
    t.after(() => process.removeListener('uncaughtException', listener));
    faults.commit = sqliteError('SQLITE_IOERR');
    faults.rollback = sqliteError('SQLITE_IOERR');
    const write = outcome(insert('x'), 1000);
    const settled = await write;
    faults.commit = undefined;
    faults.rollback = undefined;
    assert.deepEqual(uncaught.map((error) => (error as Error).message), [], 'an exception escaped the commit in setImmediate (the process would end)');
    assert.notEqual(settled, 'pending', 'the unit never settles');
  });

  test('when the database is closed while a transaction is in flight, then the transaction is committed whole or not at all, as its caller is told', async (t) => {
    const file = join(folder(t), 'db.sqlite3');
    const database = openSqlite(file);
    const db = database.db as unknown as Kysely<{ t: { id: Generated<number>; v: string } }>;
    await sql`create table t (id integer primary key, v text not null)`.execute(db);
    const transaction = db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('t').values({ v: 'first half' }).execute();
        await sleep(100); // other I/O of the use case
        await trx.insertInto('t').values({ v: 'second half' }).execute();
      })
      .then(
        () => 'committed',
        () => 'failed',
      );
    await sleep(20);
    await database.close();
    const result = await transaction;
    const check = new SQLite(file, { readonly: true });
    const rows = check.prepare('select v from t').pluck().all();
    check.close();
    // Closing waits for the transaction, which then commits with the rest of its group.
    assert.equal(result, 'committed');
    assert.deepEqual(rows, ['first half', 'second half']);
  });

  test('when another process holds the write lock, writes queued in one turn wait busy_timeout once, not once each, fail as unavailable, and the driver recovers', async (t) => {
    const busyMs = 300;
    const { insert, file, committed } = openFaulty(t, { busyMs });
    const other = connect(file, 0);
    t.after(() => other.close());
    other.exec('BEGIN IMMEDIATE');
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => outcome(insert(`w${i}`), 10_000)));
    const elapsed = performance.now() - started;
    other.exec('ROLLBACK');
    for (const result of results) {
      assert.ok(typeof result === 'object' && isDatabaseUnavailable(result.rejected), `every write fails as unavailable: ${String(result)}`);
    }
    // Writes are refused until the end of the turn in which the lock could not be had.
    await new Promise((resolve) => setImmediate(resolve));
    await insert('after');
    assert.deepEqual(committed(), ['after'], 'the driver recovers once the lock is free');
    // Each waiting unit runs BEGIN IMMEDIATE in turn, each blocking the event loop busy_timeout.
    assert.ok(elapsed < 2.5 * busyMs, `the event loop was blocked ${Math.round(elapsed)} ms for 6 writes (busy_timeout ${busyMs} ms)`);
  });

  test('in memory, a hot read does not see the writes of a transaction that later rolls back', async () => {
    const database = openSqlite(':memory:');
    const db = database.db as unknown as Kysely<{ t: { id: Generated<number>; v: string } }>;
    try {
      await sql`create table t (id integer primary key, v text not null)`.execute(db);
      const all = database.prepare(() => db.selectFrom('t').select('v') as never) as unknown as (values: object) => Promise<{ v: string }[]>;
      const transaction = db
        .transaction()
        .execute(async (trx) => {
          await trx.insertInto('t').values({ v: 'phantom' }).execute();
          await sleep(50);
          throw new Error('the use case fails');
        })
        .catch(() => undefined);
      await sleep(10);
      const seen = await all({});
      await transaction;
      assert.deepEqual(seen, [], 'a hot read saw a row of a transaction still in flight, which then rolled back');
    } finally {
      await database.close();
    }
  });
});
