import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { createDatabase, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { djangoTimestamp } from '../../src/import/mapping.js';
import { djangoArgon2, djangoPbkdf2 } from '../accounts/support.js';
import { buildTestApp, createTask, createUser, dialectName, login } from '../helpers.js';
import { freePort, runCli, tempDatabaseUrl, tempPostgresUrl } from '../server-process.js';
import { djangoPostgres, djangoSource, djangoSqlite, drfKey, POSTGRES_SERVER, type DjangoData, type SourceKind } from './django-schema.js';

/** Our database at a URL the command line reaches; migrated here only when asked (the command migrates). */
async function target(t: TestContext, { migrate = true } = {}) {
  const url = await tempDatabaseUrl(t);
  const database = createDatabase(url);
  t.after(() => database.close());
  if (migrate) await migrateToLatest(database.db);
  return { url, database };
}

async function appOn(t: TestContext, database: Database) {
  return (await buildTestApp(t, { database })).app;
}

/** Every row the import could write, and PostgreSQL's id sequences, to show that nothing changed. */
async function snapshot(database: Database) {
  const { db } = database;
  return {
    users: await db.selectFrom('users').selectAll().orderBy('id').execute(),
    sessions: await db.selectFrom('auth_tokens').selectAll().orderBy('id').execute(),
    tasks: await db.selectFrom('tasks').selectAll().orderBy('id').execute(),
    deleted: await db.selectFrom('deleted_tasks').selectAll().orderBy('change_id').execute(),
    sync: await db.selectFrom('sync_state').selectAll().execute(),
    sequences:
      database.dialect === 'postgres'
        ? (await sql`select pg_sequence_last_value(pg_get_serial_sequence('users', 'id')::regclass) as users,
                            pg_sequence_last_value(pg_get_serial_sequence('tasks', 'id')::regclass) as tasks`.execute(db)).rows
        : [],
  };
}

const auth = (key: string) => ({ authorization: `Token ${key}` });

const PASSWORDS = { alice: 'alice original passphrase', bob: 'bob original passphrase', carol: 'carol original passphrase', gwen: 'gwen original passphrase' };
const KEYS = { alice: drfKey(), bob: drfKey(), carol: drfKey() };

/** An installation of the original: ids with gaps, a staff superuser, an inactive user, hashes of every kind. */
const INSTALLATION: DjangoData = {
  users: [
    { id: 3, username: 'alice', password: djangoPbkdf2(PASSWORDS.alice, 1000), email: 'alice@example.com', first_name: 'Alice', last_name: 'Liddell', date_joined: '2024-01-15 08:00:00.123456', last_login: '2024-06-01 12:00:00' },
    { id: 4, username: 'gwen', password: await djangoArgon2(PASSWORDS.gwen, { memoryCost: 1024, timeCost: 1, parallelism: 1 }), date_joined: '2024-01-15 09:00:00' },
    { id: 5, username: 'Bob', password: djangoPbkdf2(PASSWORDS.bob, 1000), is_staff: true, is_superuser: true, date_joined: '2024-01-16 09:00:00' },
    { id: 8, username: 'carol', password: djangoPbkdf2(PASSWORDS.carol, 1000), is_active: false, date_joined: '2024-02-01 10:00:00.5' },
    { id: 9, username: 'dave', password: '!Mq3kXpT9aBcDeFgHiJkLmNoPqRsTuVwXyZ012345', date_joined: '2024-02-02 10:00:00' },
    { id: 12, username: 'erin', password: 'bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuu5GzQ1Jm3g0bF8QkM2xQy7xXo5bS3Bq', date_joined: '2024-02-03 10:00:00' },
  ],
  tokens: [
    { key: KEYS.alice, created: '2024-01-15 08:05:00.000001', user_id: 3 },
    { key: KEYS.bob, created: '2024-01-16 09:05:00', user_id: 5 },
    { key: KEYS.carol, created: '2024-02-01 10:05:00', user_id: 8 },
  ],
  tasks: [
    { id: 10, title: 'Buy milk', due_date: '2025-03-30', created_at: '2024-02-10 07:30:15.250000', owner_id: 3 },
    { id: 11, title: 'Call the Straße office', description: 'Ask for İstanbul', completed: true, created_at: '2024-02-11 07:30:15', owner_id: 3 },
    { id: 20, title: 'Review accounts', created_at: '2024-03-01 00:00:00', owner_id: 5 },
    { id: 40, title: 'Archived', created_at: '2024-03-02 00:00:00', owner_id: 8 },
  ],
};

const FIRST_RUN = [
  'Users: 6 imported, 0 already here.',
  'Tokens: 3 imported, 0 already here.',
  'Tasks: 4 imported, 0 already here.',
  'Imported accounts whose password cannot be checked here: 2 (dave, erin); set one with task-tracker changepassword <username>.',
  '',
].join('\n');

const SECOND_RUN = [
  'Users: 0 imported, 6 already here.',
  'Tokens: 0 imported, 3 already here.',
  'Tasks: 0 imported, 4 already here.',
  'Imported accounts whose password cannot be checked here: 0.',
  '',
].join('\n');

const importTask = (fields: { id: number; title: string; owner: number; created_at: string; description?: string; due_date?: string | null; completed?: boolean }) => ({
  description: '',
  due_date: null,
  completed: false,
  ...fields,
  updated_at: fields.created_at,
  completed_at: null,
  list: null,
  assignee: null,
});

for (const kind of ['sqlite', 'postgres'] as SourceKind[]) {
  describe(`[${dialectName}] task-tracker import-django from ${kind}`, () => {
    test('when an installation of the original is imported, then its users log in, its tokens work, its tasks keep their ids, and new ids come after', async (t) => {
      const source = await djangoSource(t, kind, INSTALLATION);
      const { url, database } = await target(t, { migrate: false });
      const imported = await runCli(t, ['import-django', source], url);
      assert.deepEqual(imported, { code: 0, stdout: FIRST_RUN, stderr: '' });
      const app = await appOn(t, database);

      const tasks = await app.inject({ method: 'GET', url: '/api/tasks/', headers: auth(KEYS.alice) });
      assert.equal(tasks.statusCode, 200);
      assert.deepEqual(tasks.json(), [
        importTask({ id: 10, title: 'Buy milk', due_date: '2025-03-30', created_at: '2024-02-10T07:30:15.250000Z', owner: 3 }),
        importTask({ id: 11, title: 'Call the Straße office', description: 'Ask for İstanbul', completed: true, created_at: '2024-02-11T07:30:15.000000Z', owner: 3 }),
      ]);
      const details = await app.inject({ method: 'GET', url: '/dj-rest-auth/user/', headers: auth(KEYS.alice) });
      assert.deepEqual(details.json(), { pk: 3, username: 'alice', email: 'alice@example.com', first_name: 'Alice', last_name: 'Liddell' });
      const found = await app.inject({ method: 'GET', url: '/api/tasks/?search=STRASSE%20office', headers: auth(KEYS.alice) });
      assert.deepEqual(found.json().map((task: { id: number }) => task.id), [11]);
      const [session] = (await app.inject({ method: 'GET', url: '/api/sessions/', headers: auth(KEYS.alice) })).json();
      assert.equal(session.created_at, '2024-01-15T08:05:00.000001Z');
      const lifetimeLeft = Date.parse(session.expires_at) - Date.now();
      assert.ok(lifetimeLeft > 29 * 86_400_000 && lifetimeLeft <= 30 * 86_400_000, session.expires_at);

      const before = (await database.db.selectFrom('users').select('password').where('id', '=', 3).executeTakeFirstOrThrow()).password;
      assert.ok(await login(app, 'alice', PASSWORDS.alice));
      const after = (await database.db.selectFrom('users').select('password').where('id', '=', 3).executeTakeFirstOrThrow()).password;
      assert.notEqual(after, before);
      assert.match(after, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.ok(await login(app, 'alice', PASSWORDS.alice));

      assert.ok(await login(app, 'gwen', PASSWORDS.gwen));
      await assert.rejects(() => login(app, 'carol', PASSWORDS.carol));
      assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/', headers: auth(KEYS.carol) })).statusCode, 401);

      const staff = await app.inject({ method: 'GET', url: '/api/admin/users/5/', headers: auth(KEYS.bob) });
      assert.equal(staff.statusCode, 200);
      assert.deepEqual(
        { ...(staff.json() as object), session_count: undefined },
        { id: 5, username: 'Bob', email: '', is_active: true, is_staff: true, is_superuser: true, date_joined: '2024-01-16T09:00:00.000000Z', last_login: null, task_count: 1, session_count: undefined },
      );
      const alice = (await app.inject({ method: 'GET', url: '/api/admin/users/3/', headers: auth(KEYS.bob) })).json();
      assert.deepEqual([alice.email, alice.date_joined], ['alice@example.com', '2024-01-15T08:00:00.123456Z']);
      assert.equal((await app.inject({ method: 'GET', url: '/api/admin/totals/', headers: auth(KEYS.alice) })).statusCode, 403);

      const newcomer = await createUser(app);
      assert.ok(newcomer.id > 12, `new user ${newcomer.id}`);
      const task = await createTask(app, newcomer);
      assert.ok(task.id > 40, `new task ${task.id}`);
    });

    test('when the import runs again, then it finds everything here, writes nothing and says so', async (t) => {
      const source = await djangoSource(t, kind, INSTALLATION);
      const { url, database } = await target(t);
      assert.equal((await runCli(t, ['import-django', source], url)).code, 0);
      const app = await appOn(t, database);
      await createTask(app, await createUser(app));
      const before = await snapshot(database);
      const again = await runCli(t, ['import-django', source], url);
      assert.deepEqual(again, { code: 0, stdout: SECOND_RUN, stderr: '' });
      assert.deepEqual(await snapshot(database), before);
    });
  });
}

describe(`[${dialectName}] task-tracker import-django: size`, () => {
  test('when the source holds more rows than one statement can bind values for, then they are checked and written in batches', async (t) => {
    // 33,000 ids are more than SQLite binds in one statement (32,766); 33,000 tasks of 11 columns
    // more than PostgreSQL does (65,535).
    const count = 33_000;
    const tasks = Array.from({ length: count }, (_, index) => ({ id: index + 1, title: `Task ${index + 1}`, created_at: '2024-01-01 00:00:00', owner_id: 1 }));
    const source = djangoSqlite(t, { users: [{ id: 1, username: 'busy', password: '!x', date_joined: '2024-01-01 00:00:00' }], tasks });
    const { url, database } = await target(t);
    const imported = await runCli(t, ['import-django', source], url);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /^Tasks: 33000 imported, 0 already here\.$/m);
    const stored = await database.db.selectFrom('tasks').select((eb) => [eb.fn.countAll<number | string>().as('count'), eb.fn.max('id').as('largest')]).executeTakeFirstOrThrow();
    assert.deepEqual([Number(stored.count), Number(stored.largest)], [count, count]);
    const again = await runCli(t, ['import-django', source], url);
    assert.match(again.stdout, /^Tasks: 0 imported, 33000 already here\.$/m);
  });
});

describe(`[${dialectName}] task-tracker import-django: conflicts`, () => {
  test('when the source overlaps accounts, tasks or sessions here, then each conflict is named, the exit code is 1 and nothing is written', async (t) => {
    const { url, database } = await target(t);
    const app = await appOn(t, database);
    const upper = await createUser(app, { username: 'ALICE' });
    const zed = await createUser(app, { username: 'zed' });
    const owner = await createUser(app);
    const tasks: { id: number }[] = [];
    for (let index = 0; index < 25; index += 1) tasks.push(await createTask(app, owner));
    const held = tasks[0]!;
    const gone = await createTask(app, owner);
    assert.equal((await app.inject({ method: 'DELETE', url: `/api/tasks/${gone.id}/`, headers: owner.auth })).statusCode, 204);
    const before = await snapshot(database);
    const user = (id: number, username: string) => ({ id, username, password: djangoPbkdf2('whatever passphrase', 1000), date_joined: '2024-01-01 00:00:00' });

    const cases: [string, DjangoData, string[]][] = [
      [
        'a username taken here in another case',
        { users: [user(1000, 'alice')] },
        [`auth_user id 1000 "alice": the username is taken here by account ${upper.id} "ALICE" (usernames are unique regardless of case).`],
      ],
      ['an id taken here by another username', { users: [user(zed.id, 'bob')] }, [`auth_user id ${zed.id} "bob": id ${zed.id} here is the account "zed".`]],
      [
        'two usernames of the source that differ only in case',
        { users: [user(1001, 'carol'), user(1002, 'CAROL')] },
        ['auth_user ids 1001 "carol", 1002 "CAROL": the usernames differ only in case, and here they would name one account.'],
      ],
      [
        'a task id held here by another owner',
        { users: [user(1003, 'dora')], tasks: [{ id: held.id, title: 'Mine', created_at: '2024-01-01 00:00:00', owner_id: 1003 }] },
        [`tasks_task id ${held.id} of user_id 1003: task ${held.id} here belongs to account ${owner.id}.`],
      ],
      [
        'a task id deleted here',
        { users: [user(1004, 'ed')], tasks: [{ id: gone.id, title: 'Back', created_at: '2024-01-01 00:00:00', owner_id: 1004 }] },
        [`tasks_task id ${gone.id} of user_id 1004: task ${gone.id} was deleted here (its deletion record is kept for sync).`],
      ],
      [
        "a token key that is another account's session here",
        { users: [user(1005, 'fay')], tokens: [{ key: zed.token, created: '2024-01-01 00:00:00', user_id: 1005 }] },
        [`authtoken_token of user_id 1005: its key is a session of account ${zed.id} here.`],
      ],
    ];
    for (const [situation, data, conflicts] of cases) {
      await t.test(`when the source has ${situation}`, async (st) => {
        const refused = await runCli(st, ['import-django', djangoSqlite(st, data)], url);
        const summary = `Nothing was imported: ${conflicts.length} conflict with the accounts and tasks stored here.`;
        assert.deepEqual(refused, { code: 1, stdout: '', stderr: [summary, ...conflicts.map((line) => `  ${line}`), ''].join('\n') });
        assert.deepEqual(await snapshot(database), before);
      });
    }

    await t.test('when there are many conflicts, then twenty are listed and the total given', async (st) => {
      const data = { users: [user(1006, 'gil')], tasks: tasks.map((task) => ({ id: task.id, title: 'Clash', created_at: '2024-01-01 00:00:00', owner_id: 1006 })) };
      const refused = await runCli(st, ['import-django', djangoSqlite(st, data)], url);
      const lines = refused.stderr.trimEnd().split('\n');
      assert.equal(refused.code, 1);
      assert.equal(lines[0], 'Nothing was imported: 25 conflicts with the accounts and tasks stored here.');
      assert.equal(lines.length, 22);
      assert.equal(lines[21], '  … and 5 more.');
      assert.deepEqual(await snapshot(database), before);
    });
  });
});

describe(`[${dialectName}] task-tracker import-django: sources it cannot use`, () => {
  test('when the SQLite source is missing, not a database, or not the original\'s, then it answers 1 with the reason and writes nothing', async (t) => {
    const { url, database } = await target(t);
    const before = await snapshot(database);
    const usage = await runCli(t, ['import-django'], url);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^import-django takes <source>\.\n/);

    const folder = join(djangoSqlite(t, { users: [] }), '..');
    const missing = await runCli(t, ['import-django', join(folder, 'missing.sqlite3')], url);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `Cannot open the SQLite database ${join(folder, 'missing.sqlite3')}: unable to open database file\n`);

    const text = join(folder, 'notes.txt');
    writeFileSync(text, 'not a database at all, but long enough to be read as a header of one\n'.repeat(20));
    const notDatabase = await runCli(t, ['import-django', text], url);
    assert.deepEqual([notDatabase.code, notDatabase.stderr], [1, `Cannot read ${text}: file is not a database\n`]);

    const other = djangoSqlite(t, { users: [] }, ['create table auth_user (id integer primary key)', 'create table polls_question (id integer primary key)']);
    const wrongTables = await runCli(t, ['import-django', other], url);
    assert.deepEqual([wrongTables.code, wrongTables.stderr], [1, `Not a database of the original app: ${other} has no authtoken_token, tasks_task tables.\n`]);
    assert.deepEqual(await snapshot(database), before);
  });

  test('when the PostgreSQL source is unreachable or not the original\'s, then it answers 1 with the reason and writes nothing', async (t) => {
    const { url, database } = await target(t);
    const before = await snapshot(database);
    const port = await freePort();
    const unreachable = await runCli(t, ['import-django', `postgres://root:secret@127.0.0.1:${port}/original`], url);
    assert.deepEqual(
      [unreachable.code, unreachable.stderr],
      [1, `Cannot connect to the PostgreSQL database original on 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`],
    );
    const empty = await tempPostgresUrl(t, POSTGRES_SERVER);
    const { pathname, host } = new URL(empty);
    const wrong = await runCli(t, ['import-django', empty], url);
    assert.deepEqual(
      [wrong.code, wrong.stderr],
      [1, `Not a database of the original app: the PostgreSQL database ${pathname.slice(1)} on ${host} has no auth_user, authtoken_token, tasks_task tables.\n`],
    );
    assert.deepEqual(await snapshot(database), before);
  });

  test('when the SQLite source holds values our API refuses or a database cannot store, then each is named and nothing is written', async (t) => {
    const { url, database } = await target(t);
    const before = await snapshot(database);
    const at = '2024-01-01 00:00:00';
    const source = djangoSqlite(t, {
      users: [
        { id: 1, username: '', password: '!x', date_joined: at },
        { id: 2, username: 'fine', password: 'pbkdf2_sha256$1000$salt$hash', email: 'not an address', is_staff: 2, date_joined: 'yesterday' },
        { id: 3, username: 'nul\u0000name', password: '!x', date_joined: at },
      ],
      tasks: [
        { id: 1, title: 'x'.repeat(201), created_at: at, owner_id: 2 },
        { id: 2, title: 'a\u0000b', description: 'd'.repeat(8193), created_at: at, owner_id: 2 },
        { id: 3, title: '   ', due_date: '2025-02-30', completed: 'yes', created_at: '2024-13-01 00:00:00', owner_id: 99 },
      ],
    });
    const refused = await runCli(t, ['import-django', source], url);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      [
        "Nothing was imported: 13 values in the original's database cannot be imported; correct them there first.",
        '  auth_user id 1, username: This field may not be blank.',
        '  auth_user id 2, email: Enter a valid email address.',
        '  auth_user id 2, is_staff: 2 is not a boolean.',
        '  auth_user id 2, date_joined: "yesterday" is not a date and time in the years 0001 to 9999.',
        '  auth_user id 3, username: Null characters are not allowed.',
        '  tasks_task id 1, title: Ensure this field has no more than 200 characters.',
        '  tasks_task id 2, title: Null characters are not allowed.',
        '  tasks_task id 2, description: Ensure this field has no more than 8192 characters.',
        '  tasks_task id 3, owner_id: there is no user 99 in auth_user.',
        '  tasks_task id 3, title: This field may not be blank.',
        '  tasks_task id 3, due_date: "2025-02-30" is not a date from 0001-01-01 to 9999-12-31.',
        '  tasks_task id 3, completed: "yes" is not a boolean.',
        '  tasks_task id 3, created_at: "2024-13-01 00:00:00" is not a date and time in the years 0001 to 9999.',
        '',
      ].join('\n'),
    );
    assert.deepEqual(await snapshot(database), before);
  });

  test('when the PostgreSQL source holds dates beyond year 9999 or text past our limits, then they are named and nothing is written', async (t) => {
    const { url, database } = await target(t);
    const before = await snapshot(database);
    const source = await djangoPostgres(t, {
      users: [{ id: 1, username: 'bad name', password: '!x', date_joined: '10000-01-01 00:00:00' }],
      tasks: [{ id: 7, title: 'Far', description: 'd'.repeat(9000), due_date: '12345-06-07', created_at: '2024-01-01 00:00:00', owner_id: 1 }],
    });
    const refused = await runCli(t, ['import-django', source], url);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      [
        "Nothing was imported: 4 values in the original's database cannot be imported; correct them there first.",
        '  auth_user id 1, username: Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.',
        '  auth_user id 1, date_joined: "10000-01-01 00:00:00+00" is not a date and time in the years 0001 to 9999.',
        '  tasks_task id 7, description: Ensure this field has no more than 8192 characters.',
        '  tasks_task id 7, due_date: "12345-06-07" is not a date from 0001-01-01 to 9999-12-31.',
        '',
      ].join('\n'),
    );
    assert.deepEqual(await snapshot(database), before);
  });
});

describe('Django timestamps', () => {
  test('when Django stored a timestamp in SQLite or PostgreSQL print, then it becomes our ISO 8601 UTC with microseconds', () => {
    const cases: [string, string | null][] = [
      ['2026-11-24 03:15:53.617827', '2026-11-24T03:15:53.617827Z'],
      ['2026-11-24 03:15:53', '2026-11-24T03:15:53.000000Z'],
      ['2026-11-24 03:15:53.6178+00', '2026-11-24T03:15:53.617800Z'],
      ['2026-11-24T03:15:53.5+05:30', '2026-11-23T21:45:53.500000Z'],
      ['2026-11-24 23:30:00-01', '2026-11-25T00:30:00.000000Z'],
      ['0001-01-01 00:00:00', '0001-01-01T00:00:00.000000Z'],
      ['9999-12-31 23:59:59.999999Z', '9999-12-31T23:59:59.999999Z'],
      ['9999-12-31 23:30:00-01', null],
      ['0001-01-01 00:30:00+01', null],
      ['2025-02-29 00:00:00', null],
      ['2025-01-01 24:00:00', null],
      ['2025-01-01 00:00:00.1234567', null],
      ['2025-01-01', null],
      ['infinity', null],
      ['0044-03-15 12:00:00+00 BC', null],
    ];
    for (const [stored, expected] of cases) assert.equal(djangoTimestamp(stored), expected, stored);
  });
});

