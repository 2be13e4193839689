import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { now, timestampOf } from '../../src/db/clock.js';
import { createDatabase } from '../../src/db/database.js';
import { PASSWORD, TEST_DATABASE_URL } from '../helpers.js';
import {
  launchServer,
  start,
  register,
  runCli,
  startServer,
  tempPostgresUrl,
  tempSqliteUrl,
  within,
  type Running,
} from '../server-process.js';

/** Checks the server in `running` serves on a migrated database, then stops it with SIGTERM. */
async function assertServesThenStops(running: Running) {
  const tasks = await fetch(`${running.base}/api/tasks/`);
  assert.equal(tasks.status, 401);
  assert.deepEqual(await tasks.json(), { detail: 'Authentication credentials were not provided.' });
  const root = await fetch(`${running.base}/`);
  assert.equal(root.status, 200);
  assert.equal((await root.json()).name, 'Task Tracker API');
  // Signing up writes to the users table: the migrations were applied at start.
  assert.equal((await register(running.base, 'alice')).status, 201);

  running.child.kill('SIGTERM');
  assert.equal(await within(running.exited, 5_000, 'shutting down'), 0);
}

describe('the server process', { concurrency: 3 }, () => {
  test('when started on a new SQLite file, then it migrates, serves the API, and exits 0 promptly on SIGTERM', async (t) => {
    const running = await startServer(t, { DATABASE_URL: tempSqliteUrl(t) });
    await assertServesThenStops(running);
  });

  const postgresUrl = TEST_DATABASE_URL;
  if (postgresUrl) {
    test('when started on a new PostgreSQL database, then it migrates, serves the API, and exits 0 promptly on SIGTERM', async (t) => {
      const running = await startServer(t, { DATABASE_URL: await tempPostgresUrl(t, postgresUrl) });
      await assertServesThenStops(running);
    });
  }

  test('when the command line deactivates a user while the server runs, then the server refuses their token from then on', async (t) => {
    const databaseUrl = tempSqliteUrl(t);
    const running = await startServer(t, { DATABASE_URL: databaseUrl });
    assert.equal((await register(running.base, 'erin')).status, 201);
    const login = await fetch(`${running.base}/api/login/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'erin', password: PASSWORD }),
    });
    const { token } = (await login.json()) as { token: string };
    const tasks = () => fetch(`${running.base}/api/tasks/`, { headers: { authorization: `Token ${token}` } });
    assert.equal((await tasks()).status, 200);

    // Another process writes to the same SQLite file; the server's reads must see it.
    assert.equal((await runCli(t, ['deactivate', 'erin'], databaseUrl)).code, 0);
    const refused = await tasks();
    assert.equal(refused.status, 401);
    assert.deepEqual(await refused.json(), { detail: 'Invalid token.' });
  });

  test('when a request is in flight at SIGTERM, then it is finished before the server exits 0', async (t) => {
    const running = await startServer(t, { DATABASE_URL: tempSqliteUrl(t) });
    // Sign-up hashes a password, which takes a while: the signal arrives mid-request.
    const reply = register(running.base, 'bob');
    await new Promise((done) => setTimeout(done, 20));
    running.child.kill('SIGTERM');
    assert.equal((await reply).status, 201);
    // The client keeps its connection open, as browsers and proxies do.
    assert.equal(await within(running.exited, 5_000, 'exiting after the reply in flight'), 0);
  });

  test('when a request never completes, then SIGTERM still ends the process at the shutdown deadline, exiting 1 and saying why', async (t) => {
    const running = await startServer(t, {
      DATABASE_URL: tempSqliteUrl(t),
      SHUTDOWN_TIMEOUT_SECONDS: '2',
      REQUEST_TIMEOUT_SECONDS: '600',
      HEADERS_TIMEOUT_SECONDS: '600',
      CONNECTION_TIMEOUT_SECONDS: '600',
    });
    // An upload that stops halfway: the connection is busy with a request that never ends.
    const { port } = new URL(running.base);
    const stuck = connect(Number(port), '127.0.0.1');
    t.after(() => stuck.destroy());
    stuck.on('error', () => {});
    await new Promise<void>((done) => stuck.on('connect', done));
    stuck.write('POST /api/register/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"username"');
    // The server has the request once it answers another one after it.
    assert.equal((await fetch(`${running.base}/`)).status, 200);

    running.child.kill('SIGTERM');
    assert.equal(await within(running.exited, 15_000, 'shutting down past the deadline'), 1);
    assert.match(running.output().stdout, /requests still running 2 s after the shutdown began/);
  });

  test('when the reported multipart body that ends inside a file part arrives, then the process answers 400 and keeps serving', async (t) => {
    const running = await startServer(t, { DATABASE_URL: tempSqliteUrl(t) });
    const body = '--X\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nabc';
    for (const url of ['/api/login/', '/api/register/']) {
      const response = await fetch(`${running.base}${url}`, {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data; boundary=X' },
        body,
      });
      assert.equal(response.status, 400);
      assert.match(((await response.json()) as { detail: string }).detail, /^Multipart form parse error - ./);
    }
    assert.equal((await fetch(`${running.base}/`)).status, 200);
    running.child.kill('SIGTERM');
    assert.equal(await within(running.exited, 5_000, 'shutting down'), 0);
    assert.doesNotMatch(running.output().stderr, /Error/);
  });

  test('when PORT is invalid, then the server exits 1 naming PORT, without a stack trace', async (t) => {
    const running = start(t, 'src/server.ts', [], { PORT: 'abc', DATABASE_URL: tempSqliteUrl(t) });
    assert.equal(await within(running.exited, 20_000, 'refusing the settings'), 1);
    const { stderr } = running.output();
    assert.match(stderr, /PORT="abc"/);
    assert.doesNotMatch(stderr, /^\s+at /m);
  });

  test('when several settings are invalid, then the one message names them all', async (t) => {
    const running = start(t, 'src/server.ts', [], { PORT: '99999', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' });
    assert.equal(await within(running.exited, 20_000, 'refusing the settings'), 1);
    const { stderr } = running.output();
    for (const name of ['PORT', 'LOG_LEVEL', 'DATABASE_URL']) assert.match(stderr, new RegExp(`${name}=`));
    assert.doesNotMatch(stderr, /^\s+at /m);
  });

  test('when MIGRATE_ON_START is false on a new file, then the database stays unmigrated and sign-ups do not succeed', async (t) => {
    const databaseUrl = tempSqliteUrl(t);
    const running = await launchServer(t, { DATABASE_URL: databaseUrl, MIGRATE_ON_START: 'false' });
    if (typeof running === 'object' && running !== null) {
      const response = await register(running.base, 'carol');
      assert.equal(response.status, 500);
      assert.deepEqual(await response.json(), { detail: 'A server error occurred.' });
      running.child.kill('SIGTERM');
      assert.equal(await within(running.exited, 5_000, 'shutting down'), 0);
    } else {
      // Refusing to start on a database without tables is acceptable too, as long as it fails.
      assert.notEqual(running, 0);
    }

    const database = createDatabase(databaseUrl);
    t.after(() => database.close());
    assert.deepEqual(await database.db.introspection.getTables(), []);
  });
});

describe('the command line', { concurrency: 3 }, () => {
  test('when migrate runs on a new file, then it lists what it applied, and a second run applies nothing', async (t) => {
    const databaseUrl = tempSqliteUrl(t);
    assert.deepEqual(await runCli(t, ['migrate'], databaseUrl), {
      code: 0,
      stdout: 'Applied: 001_initial, 002_task_queries, 003_sync, 004_session_epoch_and_folded_text, 005_lists, 006_staff_and_audit, 007_password_reset, 008_browser_sessions, 009_task_change_id_on_insert\n',
      stderr: '',
    });
    assert.deepEqual(await runCli(t, ['migrate'], databaseUrl), { code: 0, stdout: 'No migrations to apply.\n', stderr: '' });
  });

  test('when a user is deactivated and activated again, then the flag follows and their sessions end on deactivation', async (t) => {
    const databaseUrl = tempSqliteUrl(t);
    assert.equal((await runCli(t, ['migrate'], databaseUrl)).code, 0);
    const database = createDatabase(databaseUrl);
    const user = await database.db
      .insertInto('users')
      .values({ username: 'Dave', username_key: 'dave', email: '', password: 'x', date_joined: now() })
      .returning('id')
      .executeTakeFirstOrThrow();
    await database.db
      .insertInto('auth_tokens')
      .values({ user_id: user.id, digest: 'd'.repeat(64), created_at: now(), last_used_at: now(), expires_at: timestampOf(Date.now() + 3_600_000), user_agent: '' })
      .execute();
    await database.close();
    const state = async () => {
      const db = createDatabase(databaseUrl);
      try {
        const row = await db.db.selectFrom('users').select('is_active').where('id', '=', user.id).executeTakeFirstOrThrow();
        const sessions = await db.db.selectFrom('auth_tokens').select('id').where('user_id', '=', user.id).execute();
        return { active: Boolean(row.is_active), sessions: sessions.length };
      } finally {
        await db.close();
      }
    };

    assert.deepEqual(await runCli(t, ['deactivate', 'dave'], databaseUrl), { code: 0, stdout: 'dave is now inactive.\n', stderr: '' });
    assert.deepEqual(await state(), { active: false, sessions: 0 });
    assert.deepEqual(await runCli(t, ['activate', 'DAVE'], databaseUrl), { code: 0, stdout: 'DAVE is now active.\n', stderr: '' });
    assert.deepEqual(await state(), { active: true, sessions: 0 });
  });

  test('when deactivate names an unknown user, then it exits 1 saying so; without a username, 2 with the usage', async (t) => {
    const databaseUrl = tempSqliteUrl(t);
    assert.equal((await runCli(t, ['migrate'], databaseUrl)).code, 0);
    const unknown = await runCli(t, ['deactivate', 'nobody'], databaseUrl);
    assert.deepEqual(unknown, { code: 1, stdout: '', stderr: 'No user named nobody.\n' });
    const missing = await runCli(t, ['deactivate'], databaseUrl);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^deactivate takes <username>\.\nUsage:/);
  });

  test('when cleanup runs, then it removes expired sessions and old deletion records and reports the numbers', async (t) => {
    const databaseUrl = tempSqliteUrl(t);
    assert.equal((await runCli(t, ['migrate'], databaseUrl)).code, 0);
    const database = createDatabase(databaseUrl);
    const user = await database.db
      .insertInto('users')
      .values({ username: 'erin', username_key: 'erin', email: '', password: 'x', date_joined: now() })
      .returning('id')
      .executeTakeFirstOrThrow();
    const hoursAgo = (hours: number) => timestampOf(Date.now() - hours * 3_600_000);
    await database.db
      .insertInto('auth_tokens')
      .values(
        ['1', '2', '3'].map((digit, index) => ({
          user_id: user.id,
          digest: digit.repeat(64),
          created_at: hoursAgo(48),
          last_used_at: hoursAgo(48),
          expires_at: index < 2 ? hoursAgo(1) : timestampOf(Date.now() + 3_600_000),
          user_agent: '',
        })),
      )
      .execute();
    await database.db
      .insertInto('deleted_tasks')
      .values([
        { task_id: 1, owner_id: user.id, deleted_at: hoursAgo(31 * 24) },
        { task_id: 2, owner_id: user.id, deleted_at: hoursAgo(1) },
      ])
      .execute();
    await database.close();

    assert.deepEqual(await runCli(t, ['cleanup'], databaseUrl), {
      code: 0,
      stdout: 'Removed 2 expired sessions, 1 old deletion records and 0 expired password reset links.\n',
      stderr: '',
    });
    const after = createDatabase(databaseUrl);
    t.after(() => after.close());
    assert.deepEqual(await after.db.selectFrom('auth_tokens').select('digest').execute(), [{ digest: '3'.repeat(64) }]);
    assert.deepEqual(await after.db.selectFrom('deleted_tasks').select('task_id').execute(), [{ task_id: 2 }]);
  });
});
