import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { createAccountsRepository } from '../../src/accounts/repository.js';
import { MAX_BATCH, renumbered, unionOf } from '../../src/db/batching.js';
import { now } from '../../src/db/clock.js';
import { createDatabase, type Database } from '../../src/db/database.js';
import { createTasksRepository } from '../../src/tasks/repository.js';
import type { Task } from '../../src/tasks/schemas.js';
import { insertSession, insertUser } from '../accounts/support.js';
import { dialectName, openTestDatabase, TEST_DATABASE_URL } from '../helpers.js';

/** Several users, each with tasks of their own, two of them sharing a list with tasks in it. */
async function seeded(t: TestContext) {
  const database = await openTestDatabase(t);
  const tasks = createTasksRepository(database);
  const users: number[] = [];
  for (let index = 0; index < 4; index += 1) {
    users.push(await insertUser(database, { username: `batch_${index}_${Date.now()}`, password: 'x' }));
  }
  const at = now();
  const { id: listId } = await database.db
    .insertInto('lists')
    .values({ name: 'shared', description: '', created_at: at, updated_at: at })
    .returning('id')
    .executeTakeFirstOrThrow();
  await database.db
    .insertInto('list_members')
    .values([
      { list_id: listId, user_id: users[0]!, role: 'owner', joined_at: at },
      { list_id: listId, user_id: users[1]!, role: 'editor', joined_at: at },
    ])
    .execute();
  const ids: number[] = [];
  // User i has i + 1 personal tasks (user 3 none: an empty personal part); the list has 3.
  for (const [index, userId] of users.entries()) {
    for (let n = 0; n < (index === 3 ? 0 : index + 1); n += 1) {
      ids.push((await tasks.create(database.db, { userId }, { title: `u${index} t${n}` }, now()))!.id);
    }
  }
  for (let n = 0; n < 3; n += 1) {
    ids.push((await tasks.create(database.db, { userId: users[0]! }, { title: `list t${n}` }, now(), { list_id: listId }))!.id);
  }
  return { database, tasks, users, ids };
}

/** The same PostgreSQL schema through a second Database of one connection, whose statements can be looked at. */
async function oneConnection(t: TestContext, database: Database): Promise<Database> {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(database.db);
  const single = createDatabase(TEST_DATABASE_URL!, { schema: rows[0]!.schema, poolSize: 1 });
  t.after(() => single.close());
  return single;
}

/** The named statements prepared on the only connection of `database`, with how often each ran. */
async function preparedStatements(database: Database) {
  const { rows } = await sql<{ name: string; statement: string; runs: number }>`
    select name, statement, generic_plans + custom_plans as runs from pg_prepared_statements order by name`.execute(database.db);
  return rows.map((row) => ({ ...row, calls: row.statement.split(' union all ').length, runs: Number(row.runs) }));
}

describe('[postgres] prepared statements batched per turn of the event loop', { skip: dialectName !== 'postgres' ? 'PostgreSQL only' : false }, () => {
  test('when 50 lookups of several users are made in one turn, then each gets exactly the rows it gets alone', async (t) => {
    const { tasks, users, ids } = await seeded(t);
    const calls: Array<() => Promise<Task[] | Task | undefined>> = [];
    for (let n = 0; n < 50; n += 1) {
      const scope = { userId: users[n % users.length]! };
      if (n % 2 === 0) calls.push(() => tasks.list(scope, 1 + (n % 7)));
      // Some of the ids are other users' tasks, one does not exist: their lookups find nothing.
      else calls.push(() => tasks.find(scope, n % 11 === 0 ? 999_999 : ids[n % ids.length]!));
    }
    const alone: unknown[] = [];
    for (const call of calls) alone.push(await call());
    const together = await Promise.all(calls.map((call) => call()));

    assert.deepEqual(together, alone);
    // The lookups did tell users apart: not every list was empty, not every find found nothing.
    assert.ok(together.some((result) => Array.isArray(result) && result.length > 1));
    assert.ok(together.some((result) => result !== undefined && !Array.isArray(result)));
    assert.ok(together.some((result) => result === undefined));
    // User 0 sees their own task and the list's, in the order of their ids.
    const [own, ...shared] = (await tasks.list({ userId: users[0]! }, 10)).map((task) => task.title);
    assert.deepEqual([own, ...shared], ['u0 t0', 'list t0', 'list t1', 'list t2']);
  });

  test('when statements have been answered, then pg\'s result objects hold none of their rows', async (t) => {
    // Rows left in a result object lived on into the old generation with it (see detached() in
    // src/db/postgres.ts): 1.2 MB per young collection under a list flood.
    const { database, tasks, users } = await seeded(t);
    const query = t.mock.method(pg.Client.prototype, 'query');
    const [batched, alone, built] = await Promise.all([
      Promise.all(users.map((userId) => tasks.list({ userId }, 10))),
      new Promise<Task[]>((resolve) => setImmediate(() => resolve(tasks.list({ userId: users[2]! }, 10)))),
      database.db.selectFrom('tasks').select(['id', 'title']).orderBy('id').execute(),
    ]);
    assert.deepEqual(batched.map((list) => list.length), [4, 5, 3, 0]);
    assert.equal(alone.length, 3);
    assert.equal(built.length, 9);

    const results = (await Promise.all(query.mock.calls.map((call) => call.result as unknown))) as pg.QueryResult[];
    assert.ok(results.length >= 3);
    for (const result of results) assert.equal(result.rows.length, 0);
  });

  test('when one call of a turn has a value PostgreSQL refuses, then it alone fails and the others are answered', async (t) => {
    const { database, tasks, users, ids } = await seeded(t);
    const accounts = createAccountsRepository(database);
    await insertSession(database, users[1]!);
    const { digest } = await database.db.selectFrom('auth_tokens').select('digest').where('user_id', '=', users[1]!).executeTakeFirstOrThrow();
    const [mine] = await tasks.list({ userId: users[0]! }, 1);

    const results = await Promise.allSettled([
      tasks.find({ userId: users[0]! }, mine!.id),
      tasks.find({ userId: users[0]! }, 1e20), // beyond bigint
      tasks.find({ userId: users[0]! }, ids.at(-1)!),
      accounts.findSession(digest, now()),
      accounts.findSession(digest, 'not a timestamp'),
      accounts.findSession('0'.repeat(64), now()),
    ]);
    assert.deepEqual(results.map((result) => result.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const value = (index: number) => (results[index] as PromiseFulfilledResult<unknown>).value;
    const reason = (index: number) => (results[index] as PromiseRejectedResult).reason as { code?: string };
    assert.equal((value(0) as Task).id, mine!.id);
    assert.equal((value(2) as Task).title, 'list t2');
    assert.equal((value(3) as { userId: number }).userId, users[1]);
    assert.equal(value(5), undefined);
    assert.equal(reason(1).code, '22003'); // numeric value out of range
    assert.equal(reason(4).code, '22007'); // invalid datetime format
  });

  test('when the calls of a turn are sent, then they go as one statement, and a lone call as the plain statement', async (t) => {
    const { database, users } = await seeded(t);
    const single = await oneConnection(t, database);
    const titles = single.prepare((p: { ownerId: number }) =>
      single.db.selectFrom('tasks').select('title').where('owner_id', '=', p.ownerId).orderBy('id'),
    );

    const first = await Promise.all([titles({ ownerId: users[0]! }), titles({ ownerId: users[3]! }), titles({ ownerId: users[2]! })]);
    assert.deepEqual(first, [[{ title: 'u0 t0' }, { title: 'list t0' }, { title: 'list t1' }, { title: 'list t2' }], [], [{ title: 'u2 t0' }, { title: 'u2 t1' }, { title: 'u2 t2' }]]);
    assert.deepEqual((await preparedStatements(single)).map(({ calls, runs }) => ({ calls, runs })), [{ calls: 3, runs: 1 }]);

    await Promise.all([titles({ ownerId: users[1]! }), titles({ ownerId: users[1]! }), titles({ ownerId: users[0]! })]);
    assert.deepEqual(await titles({ ownerId: users[1]! }), [{ title: 'u1 t0' }, { title: 'u1 t1' }]);
    const statements = await preparedStatements(single);
    assert.deepEqual(statements.map(({ calls, runs }) => ({ calls, runs })), [{ calls: 3, runs: 2 }, { calls: 1, runs: 1 }]);
    assert.doesNotMatch(statements[1]!.statement, /union all|#batch/);
  });

  test('when more calls are made in one turn than a statement takes, then they are split over several, each answered', async (t) => {
    const { database, users, ids } = await seeded(t);
    const single = await oneConnection(t, database);
    const tasks = createTasksRepository(single);
    // Three statements' worth, short of a few: the calls are spread evenly over the three.
    const total = 3 * MAX_BATCH - 4;
    const lookups = Array.from({ length: total }, (_, n) => ({ userId: users[n % users.length]!, id: ids[n % ids.length]! }));
    const alone: Array<string | undefined> = [];
    for (const { userId, id } of lookups) alone.push((await tasks.find({ userId }, id))?.title);

    const together = await Promise.all(lookups.map(({ userId, id }) => tasks.find({ userId }, id).then((task) => task?.title)));
    assert.deepEqual(together, alone);
    // Beside the lone lookups above, `total` calls in three statements of MAX_BATCH - 1 or so.
    const runs = (await preparedStatements(single)).map(({ calls, runs }) => ({ calls, runs })).sort((a, b) => a.calls - b.calls);
    const [lone, ...batches] = runs;
    assert.deepEqual(lone, { calls: 1, runs: total });
    assert.equal(batches.reduce((sum, { runs }) => sum + runs, 0), 3);
    assert.equal(batches.reduce((sum, { calls, runs }) => sum + calls * runs, 0), total);
    assert.ok(batches.every(({ calls }) => calls >= MAX_BATCH - 2 && calls <= MAX_BATCH - 1), JSON.stringify(runs));
  });

  test('when a batch fails for want of the server, then every call of it fails, and the next calls are answered', async (t) => {
    const database = await openTestDatabase(t);
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(database.db);
    const impatient = createDatabase(TEST_DATABASE_URL!, { schema: rows[0]!.schema, poolSize: 2, queryTimeoutMs: 300 });
    t.after(() => impatient.close());
    const sleep = impatient.prepare((p: { seconds: number }) => impatient.db.selectNoFrom(sql<number>`pg_sleep(${p.seconds}) is null`.as('slept')));

    // One slow call makes the batch's reply late: all three fail, none is sent again alone.
    const results = await Promise.allSettled([sleep({ seconds: 0 }), sleep({ seconds: 1 }), sleep({ seconds: 0 })]);
    assert.deepEqual(results.map((result) => result.status), ['rejected', 'rejected', 'rejected']);
    for (const result of results) assert.match(String((result as PromiseRejectedResult).reason), /Query read timeout/);

    assert.deepEqual(await Promise.all([sleep({ seconds: 0 }), sleep({ seconds: 0 })]), [[{ slept: false }], [{ slept: false }]]);
  });

  test('when a write has committed, then a lookup made afterwards sees it, in the same turn as other lookups or not', async (t) => {
    const { database, tasks, users } = await seeded(t);
    const accounts = createAccountsRepository(database);
    await insertSession(database, users[2]!);
    const { digest } = await database.db.selectFrom('auth_tokens').select('digest').where('user_id', '=', users[2]!).executeTakeFirstOrThrow();
    const session = () => accounts.findSession(digest, now());
    assert.ok(await session());

    await database.db.deleteFrom('auth_tokens').where('digest', '=', digest).execute();
    const [revoked, others] = await Promise.all([session(), tasks.list({ userId: users[2]! }, 10)]);
    assert.equal(revoked, undefined);
    assert.equal(others.length, 3);

    const created = await tasks.create(database.db, { userId: users[2]! }, { title: 'new' }, now());
    const [found, listed] = await Promise.all([tasks.find({ userId: users[2]! }, created!.id), tasks.list({ userId: users[2]! }, 10)]);
    assert.equal(found?.title, 'new');
    assert.deepEqual(listed.map((task) => task.title), ['u2 t0', 'u2 t1', 'u2 t2', 'new']);
  });
});

describe('batched statements\' placeholders', () => {
  test('when a statement is renumbered, then placeholders move and quoted text, names and comments stay', () => {
    assert.equal(renumbered('select $1, $12 from t where a = $2', 10), 'select $11, $22 from t where a = $12');
    assert.equal(
      renumbered(`select '$1', 'it''s $2', E'\\'$3', "$4", "a""$5", $$ $6 $$, $q$ $7 $q$, a$8 -- $9\n, /* $10 */ $11`, 100),
      `select '$1', 'it''s $2', E'\\'$3', "$4", "a""$5", $$ $6 $$, $q$ $7 $q$, a$8 -- $9\n, /* $10 */ $111`,
    );
    assert.equal(renumbered('select $1', 0), 'select $1');
  });

  test('when calls are joined, then each gets its own subquery, placeholders and number', () => {
    assert.equal(
      unionOf('select x from t where a = $1 and b = $2', 2, 3),
      'select 1 as "#batch", q1.* from (select x from t where a = $1 and b = $2) as q1' +
        ' union all select 2, q2.* from (select x from t where a = $3 and b = $4) as q2' +
        ' union all select 3, q3.* from (select x from t where a = $5 and b = $6) as q3',
    );
  });
});
