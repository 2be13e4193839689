import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { millisecondTimestamps, now, secondsFromNow, timestampOf } from '../../src/db/clock.js';
import { isoTimestamp, withoutValuePlanning, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { sortKeys } from '../../src/tasks/ordering.js';
import { createTasksRepository } from '../../src/tasks/repository.js';
import pg from 'pg';
import { dialectName, openTestDatabase, TEST_DATABASE_URL, TIMESTAMP } from '../helpers.js';

const ALL_MIGRATIONS = ['001_initial', '002_task_queries', '003_sync', '004_session_epoch_and_folded_text', '005_lists', '006_staff_and_audit', '007_password_reset', '008_browser_sessions', '009_task_change_id_on_insert'];

async function insertUser(database: Database, username = `u_${randomBytes(4).toString('hex')}`): Promise<number> {
  const row = await database.db
    .insertInto('users')
    .values({ username, username_key: username, email: '', password: 'x', date_joined: '2026-11-24T03:15:53.617827Z' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

describe(`[${dialectName}] stored values`, () => {
  const timestamps = [
    '2026-11-24T03:15:53.617827Z',
    '2026-11-24T03:15:53.617800Z',
    '2026-11-24T03:15:53.100000Z',
    '2026-11-24T03:15:53.000000Z',
    '2026-11-24T03:15:53.000001Z',
    '2000-02-29T23:59:59.999999Z',
    '0001-01-01T00:00:00.000000Z',
    '9999-12-31T23:59:59.999999Z',
  ];
  const dates = ['2025-03-30', '2024-02-29', '0001-01-01', '9999-12-31', null];

  test('when timestamps, dates and booleans are written, then reading them back gives exactly the same values', async (t) => {
    const database = await openTestDatabase(t);
    const ownerId = await insertUser(database);
    const written = timestamps.map((timestamp, index) => ({
      owner_id: ownerId,
      title: `task ${index}`,
      description: '',
      due_date: dates[index % dates.length]!,
      completed: index % 2 === 0,
      created_at: timestamp,
      updated_at: timestamps[timestamps.length - 1 - index]!,
      completed_at: index % 2 === 0 ? timestamp : null,
    }));
    await database.db.insertInto('tasks').values(written).execute();

    const tasks = createTasksRepository(database);
    const listed = await tasks.list({ userId: ownerId }, 1000);
    assert.deepEqual(
      listed.map(({ title, due_date, completed, created_at, updated_at, completed_at }) => ({
        title, due_date, completed, created_at, updated_at, completed_at,
      })),
      written.map(({ title, due_date, completed, created_at, updated_at, completed_at }) => ({
        title, due_date, completed, created_at, updated_at, completed_at,
      })),
    );
    // The same values through the query builder (a different code path from the prepared list).
    const searched = await tasks.search({ userId: ownerId }, {}, sortKeys([]));
    assert.deepEqual(searched, listed);
    const found = await tasks.find({ userId: ownerId }, listed[3]!.id);
    assert.deepEqual(found, listed[3]);
  });

  test('when the repositories map tasks, then completed is a real boolean on both sides', async (t) => {
    const database = await openTestDatabase(t);
    const ownerId = await insertUser(database);
    const tasks = createTasksRepository(database);
    const done = (await tasks.create(database.db, { userId: ownerId }, { title: 'done', completed: true }, now()))!;
    const open = (await tasks.create(database.db, { userId: ownerId }, { title: 'open' }, now()))!;
    for (const task of [done, open, ...(await tasks.list({ userId: ownerId }, 1000)), (await tasks.find({ userId: ownerId }, done.id))!]) {
      assert.equal(typeof task.completed, 'boolean', JSON.stringify(task));
    }
    assert.deepEqual((await tasks.list({ userId: ownerId }, 1000)).map((task) => task.completed), [true, false]);
  });

  test('when a user row is read back, then its timestamps are in the stored form and a null stays null', async (t) => {
    const database = await openTestDatabase(t);
    const id = await insertUser(database);
    const row = await database.db.selectFrom('users').select(['date_joined', 'last_login']).where('id', '=', id).executeTakeFirstOrThrow();
    assert.deepEqual(row, { date_joined: '2026-11-24T03:15:53.617827Z', last_login: null });
  });

  test('when tasks are ordered by created_at, then the order is time order from year 1 to 9999', async (t) => {
    const database = await openTestDatabase(t);
    const ownerId = await insertUser(database);
    const shuffled = [timestamps[7]!, timestamps[0]!, timestamps[6]!, timestamps[3]!, timestamps[1]!, timestamps[4]!, timestamps[5]!];
    await database.db
      .insertInto('tasks')
      .values(shuffled.map((created_at) => ({ owner_id: ownerId, title: 't', description: '', due_date: null, completed: false, created_at, updated_at: created_at, completed_at: null })))
      .execute();
    const ordered = await database.db.selectFrom('tasks').select('created_at').orderBy('created_at').execute();
    assert.deepEqual(ordered.map((row) => row.created_at), [...shuffled].sort());
  });
});

describe('isoTimestamp', () => {
  const cases: [string, string][] = [
    ['2026-11-24 03:15:53.617827+00', '2026-11-24T03:15:53.617827Z'],
    ['2026-11-24 03:15:53.6178+00', '2026-11-24T03:15:53.617800Z'],
    ['2026-11-24 03:15:53.1+00', '2026-11-24T03:15:53.100000Z'],
    ['2026-11-24 03:15:53+00', '2026-11-24T03:15:53.000000Z'],
    ['0001-01-01 00:00:00+00', '0001-01-01T00:00:00.000000Z'],
  ];
  for (const [printed, stored] of cases) {
    test(`when PostgreSQL prints ${printed}, then it becomes ${stored}`, () => {
      assert.equal(isoTimestamp(printed), stored);
    });
  }

  for (const other of ['2026-11-24 03:15:53.617827+02', '2026-11-24T03:15:53.617827Z', 'infinity', '']) {
    test(`when the value is ${JSON.stringify(other)}, which is not a UTC timestamp as PostgreSQL prints it, then it is left as it is`, () => {
      assert.equal(isoTimestamp(other), other);
    });
  }
});

describe('clock', () => {
  test('when now() is read, then it is a stored timestamp of the current time', () => {
    const before = timestampOf(Date.now());
    const value = now();
    const after = timestampOf(Date.now() + 1);
    assert.match(value, TIMESTAMP);
    assert.ok(before <= value && value <= after, `${before} <= ${value} <= ${after}`);
  });

  test('when now() is read many times in a row, then the values never repeat or go backwards', () => {
    let previous = now();
    for (let i = 0; i < 200_000; i += 1) {
      const current = now();
      assert.ok(current > previous, `${current} came after ${previous}`);
      previous = current;
    }
  });

  const formatted: [number, string][] = [
    [0, '1970-01-01T00:00:00.000000Z'],
    [1.5, '1970-01-01T00:00:00.001500Z'],
    [Date.UTC(2026, 10, 24, 3, 15, 53, 617) + 0.125, '2026-11-24T03:15:53.617125Z'],
    [Date.UTC(2026, 10, 24, 3, 15, 53, 617) + 0.999, '2026-11-24T03:15:53.617999Z'],
    [Date.UTC(2199, 11, 31, 23, 59, 59, 999) + 0.5, '2199-12-31T23:59:59.999500Z'],
  ];
  for (const [epochMs, text] of formatted) {
    test(`when ${epochMs} ms is formatted, then it reads ${text}`, () => {
      assert.equal(timestampOf(epochMs), text);
    });
  }

  test('when instants increase, then their formatted text sorts in the same order', () => {
    const instants = [0, 0.001, 0.5, 1, 999.999, 1000, Date.UTC(2000, 0, 1), Date.UTC(2026, 10, 24) + 0.25, Date.UTC(2199, 0, 1)];
    const texts = instants.map(timestampOf);
    assert.deepEqual([...texts].sort(), texts);
    assert.equal(new Set(texts).size, texts.length);
  });

  test('when a millisecond formatter is given instants, then each reads as its whole millisecond', () => {
    const format = millisecondTimestamps();
    const instant = Date.UTC(2026, 10, 24, 3, 15, 53, 617);
    assert.equal(format(instant + 0.25), '2026-11-24T03:15:53.617000Z');
    assert.equal(format(instant + 0.75), '2026-11-24T03:15:53.617000Z');
    assert.equal(format(instant + 1), '2026-11-24T03:15:53.618000Z');
    assert.equal(format(instant), '2026-11-24T03:15:53.617000Z');
  });

  test('when a time is asked for seconds from now, then it lies that far ahead', () => {
    const before = timestampOf(Date.now() + 3600_000);
    const value = secondsFromNow(3600);
    const after = timestampOf(Date.now() + 3600_000 + 1);
    assert.match(value, TIMESTAMP);
    assert.ok(before <= value && value <= after, `${before} <= ${value} <= ${after}`);
  });
});

describe(`[${dialectName}] prepared statements`, () => {
  test('when a prepared statement runs with parameters, then it returns the matching rows', async (t) => {
    const database = await openTestDatabase(t);
    const alice = await insertUser(database);
    const bob = await insertUser(database);
    const tasks = createTasksRepository(database);
    await tasks.create(database.db, { userId: alice }, { title: 'a1', completed: true }, now());
    await tasks.create(database.db, { userId: alice }, { title: 'a2' }, now());
    await tasks.create(database.db, { userId: bob }, { title: 'b1', completed: true }, now());

    const byOwnerAndState = database.prepare((p: { ownerId: number; completed: boolean }) =>
      database.db.selectFrom('tasks').select('title').where('owner_id', '=', p.ownerId).where('completed', '=', p.completed).orderBy('id'),
    );
    assert.deepEqual(await byOwnerAndState({ ownerId: alice, completed: true }), [{ title: 'a1' }]);
    assert.deepEqual(await byOwnerAndState({ completed: false, ownerId: alice }), [{ title: 'a2' }]);
    assert.deepEqual(await byOwnerAndState({ ownerId: bob, completed: true }), [{ title: 'b1' }]);
    assert.deepEqual(await byOwnerAndState({ ownerId: bob, completed: false }), []);
  });

  test('when a named parameter appears twice or its query places it after another, then each placeholder gets its own value', async (t) => {
    const database = await openTestDatabase(t);
    const alice = await insertUser(database);
    const bob = await insertUser(database);
    const tasks = createTasksRepository(database);
    const [a1] = await Promise.all([tasks.create(database.db, { userId: alice }, { title: 'a1' }, now()), tasks.create(database.db, { userId: bob }, { title: 'b1' }, now())]);
    // The id comes first in the query, the owner twice after it.
    const ownTask = database.prepare((p: { ownerId: number; id: number }) =>
      database.db
        .selectFrom('tasks')
        .select('title')
        .where('id', '=', p.id)
        .where((eb) => eb.or([eb('owner_id', '=', p.ownerId), eb('owner_id', '=', p.ownerId)])),
    );
    assert.deepEqual(await ownTask({ ownerId: alice, id: a1!.id }), [{ title: 'a1' }]);
    assert.deepEqual(await ownTask({ ownerId: bob, id: a1!.id }), []);
    await assert.rejects(() => ownTask({ id: a1!.id } as never), /no value for parameter ownerId/);
  });

  test('when more distinct statements run than the statement cache holds, then each one, early ones included, still gives its own result', async (t) => {
    const database = await openTestDatabase(t);
    const ownerId = await insertUser(database);
    await createTasksRepository(database).create(database.db, { userId: ownerId }, { title: 'only' }, now());
    const early = database.prepare((p: { ownerId: number }) => database.db.selectFrom('tasks').select('title').where('owner_id', '=', p.ownerId));

    const distinct = (n: number) =>
      database.db
        .selectFrom('tasks')
        .select(['title', sql.lit(n).as('n')])
        .where('owner_id', '=', ownerId)
        .execute();
    for (let n = 0; n < 300; n += 1) {
      assert.deepEqual(await distinct(n), [{ title: 'only', n }]);
    }
    // The first statements were the least recently used; they run again, correctly.
    for (const n of [0, 1, 2, 150, 299]) {
      assert.deepEqual(await distinct(n), [{ title: 'only', n }]);
    }
    assert.deepEqual(await early({ ownerId }), [{ title: 'only' }]);
    assert.deepEqual(await createTasksRepository(database).list({ userId: ownerId }, 1000).then((rows) => rows.map((row) => row.title)), ['only']);
  });
});

describe('SQLite placeholders', () => {
  test('when SQL is prepared for SQLite, then each placeholder becomes +? and quoted text is left as it is', () => {
    assert.equal(
      withoutValuePlanning(`select "a?" from t where b = ? and c = 'it''s ?' and d in (?, ?) order by e limit ? offset ?`),
      `select "a?" from t where b = +? and c = 'it''s ?' and d in (+?, +?) order by e limit +? offset +?`,
    );
  });
});

describe(`[${dialectName}] bound values`, () => {
  test('when values that look like numbers or signs are written and compared, then they stay exactly as given', async (t) => {
    const database = await openTestDatabase(t);
    const ownerId = await insertUser(database);
    const titles = ['007', '-0', '+1', '1e3', ' 12 ', '?'];
    for (const title of titles) await createTasksRepository(database).create(database.db, { userId: ownerId }, { title, description: title }, now());
    for (const title of titles) {
      const rows = await database.db
        .selectFrom('tasks')
        .select(['title', 'description'])
        .where('owner_id', '=', ownerId)
        .where('title', '=', title)
        .orderBy('id')
        .limit(5)
        .execute();
      assert.deepEqual(rows, [{ title, description: title }], title);
    }
  });
});

describe(`[${dialectName}] migrations`, () => {
  test('when an empty database is migrated twice, then the first run applies every migration and the second applies nothing', async (t) => {
    const database = await openTestDatabase(t, { migrate: false });
    assert.deepEqual(await migrateToLatest(database.db), ALL_MIGRATIONS);
    assert.deepEqual(await migrateToLatest(database.db), []);
    for (const table of ['users', 'auth_tokens', 'tasks', 'deleted_tasks'] as const) {
      const { count } = await database.db.selectFrom(table).select((eb) => eb.fn.countAll().as('count')).executeTakeFirstOrThrow();
      assert.equal(Number(count), 0, table);
    }
  });

  test('when the test database, already migrated, is migrated again, then nothing is applied and its rows stay', async (t) => {
    const database = await openTestDatabase(t);
    const id = await insertUser(database);
    assert.deepEqual(await migrateToLatest(database.db), []);
    const row = await database.db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst();
    assert.deepEqual(row, { id });
  });
});

describe(`[${dialectName}] lost connections`, { skip: dialectName !== 'postgres' }, () => {
  test('when the database ends an idle pooled connection, then the process goes on and the next query gets a new one', async (t) => {
    const database = await openTestDatabase(t);
    const backend = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(database.db);
    const pid = backend.rows[0]!.pid;
    // Ended from another session, as a restart or an administrator would.
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    t.after(() => admin.end());
    await admin.query('select pg_terminate_backend($1)', [pid]);
    await new Promise((done) => setTimeout(done, 200));
    const after = await sql<{ one: number }>`select 1 as one`.execute(database.db);
    assert.equal(after.rows[0]!.one, 1);
  });
});
