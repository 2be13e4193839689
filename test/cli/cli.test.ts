import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { createDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { buildTestApp, createTask, createUser, dialectName, login, PASSWORD } from '../helpers.js';
import { tempDatabaseUrl } from '../server-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `task-tracker` as the package's `bin` does, with `input` on its standard input. */
function taskTracker(args: string[], databaseUrl: string, input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/task-tracker.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** An app on a database the command line can reach by URL. */
async function appOnUrl(t: TestContext) {
  const url = await tempDatabaseUrl(t);
  const database = createDatabase(url);
  t.after(() => database.close());
  await migrateToLatest(database.db);
  const { app } = await buildTestApp(t, { database });
  return { app, url };
}

describe('task-tracker command line: usage', () => {
  test('when it is called with help, without a command, with an unknown one or the wrong arguments, then it answers 0 with the usage or 2 with the mistake', async () => {
    const url = 'sqlite::memory:';
    const help = await taskTracker(['help'], url);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: task-tracker <command>/);
    for (const [args, message] of [
      [[], /^No command given\./],
      [['frobnicate'], /^Unknown command: frobnicate/],
      [['deactivate'], /^deactivate takes <username>\./],
      [['migrate', 'extra'], /^migrate takes no arguments\./],
    ] as const) {
      const outcome = await taskTracker([...args], url);
      assert.equal(outcome.code, 2, args.join(' '));
      assert.match(outcome.stderr, message);
      assert.match(outcome.stderr, /Exit codes: 0 done, 1 failed, 2 wrong usage\./);
    }
  });
});

describe(`[${dialectName}] task-tracker changepassword`, () => {
  test('when a new password comes on standard input, then it is set, every session ends, and the old password no longer works', async (t) => {
    const { app, url } = await appOnUrl(t);
    const alice = await createUser(app);
    const changed = await taskTracker(['changepassword', alice.username], url, 'a brand new passphrase 77\n');
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(changed.stdout, `Password changed for ${alice.username}; all their sessions have ended.\n`);
    assert.equal((await app.inject({ method: 'GET', url: '/api/user/', headers: alice.auth })).statusCode, 401);
    await assert.rejects(() => login(app, alice.username, PASSWORD));
    assert.ok(await login(app, alice.username, 'a brand new passphrase 77'));
  });

  test('when the new password fails the policy or the user does not exist, then it answers 1 and nothing changes', async (t) => {
    const { app, url } = await appOnUrl(t);
    const alice = await createUser(app);
    const weak = await taskTracker(['changepassword', alice.username], url, '12345678\n');
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /This password is too common\.\nThis password is entirely numeric\./);
    const missing = await taskTracker(['changepassword', 'nobody-at-all'], url, 'a brand new passphrase 77\n');
    assert.deepEqual([missing.code, missing.stderr], [1, 'No user named nobody-at-all.\n']);
    assert.equal((await app.inject({ method: 'GET', url: '/api/user/', headers: alice.auth })).statusCode, 200);
  });
});

describe(`[${dialectName}] task-tracker createsuperuser`, () => {
  test('when the values come from options or from the environment, then a superuser is created who may use the admin API', async (t) => {
    const { app, url } = await appOnUrl(t);
    const created = await taskTracker(['createsuperuser', '--username', 'root', '--email=root@example.com', '--password', 'a long admin passphrase 9'], url);
    assert.deepEqual(created, { code: 0, stdout: 'Superuser root created.\n', stderr: '' });
    const token = await login(app, 'root', 'a long admin passphrase 9');
    assert.equal((await app.inject({ method: 'GET', url: '/api/admin/totals/', headers: { authorization: `Token ${token}` } })).statusCode, 200);

    const child = spawn(process.execPath, [join(ROOT, 'bin/task-tracker.js'), 'createsuperuser'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: url, TASK_TRACKER_SUPERUSER_USERNAME: 'ops', TASK_TRACKER_SUPERUSER_PASSWORD: 'another admin passphrase 8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    assert.ok(await login(app, 'ops', 'another admin passphrase 8'));
  });

  test('when a value is missing without a terminal, the username is taken or the password weak, then it answers 2, 1 and 1 and creates nobody', async (t) => {
    const { app, url } = await appOnUrl(t);
    const alice = await createUser(app);
    const missing = await taskTracker(['createsuperuser', '--username', 'root'], url);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^createsuperuser needs --password or TASK_TRACKER_SUPERUSER_PASSWORD when no terminal is attached\./);
    const taken = await taskTracker(['createsuperuser', '--username', alice.username.toUpperCase(), '--password', 'a long admin passphrase 9'], url);
    assert.deepEqual([taken.code, taken.stderr], [1, 'A user with that username already exists.\n']);
    const weak = await taskTracker(['createsuperuser', '--username', 'root', '--password', 'password'], url);
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /This password is too common\./);
    const unknown = await taskTracker(['createsuperuser', '--staff'], url);
    assert.equal(unknown.code, 2);
    await assert.rejects(() => login(app, 'root', 'a long admin passphrase 9'));
  });
});

describe(`[${dialectName}] task-tracker backup`, () => {
  test('when the database is SQLite, then backup writes a consistent copy while the app runs; on PostgreSQL it points to pg_dump', async (t) => {
    const { app, url } = await appOnUrl(t);
    const alice = await createUser(app);
    for (let index = 0; index < 20; index += 1) await createTask(app, alice, { title: `Task ${index}` });
    const folder = mkdtempSync(join(tmpdir(), 'task-tracker-backup-'));
    t.after(() => rmSync(folder, { recursive: true, force: true }));
    const target = join(folder, 'copy.sqlite3');
    // Writes go on while the copy is made.
    const writing = Promise.all(Array.from({ length: 20 }, (_, index) => createTask(app, alice, { title: `During ${index}` })));
    const backup = await taskTracker(['backup', target], url);
    await writing;
    if (dialectName === 'postgres') {
      assert.equal(backup.code, 1);
      assert.match(backup.stderr, /pg_dump/);
      assert.equal(existsSync(target), false);
      return;
    }
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal(backup.stdout, `Backed up to ${target}.\n`);
    const copy = new SQLite(target, { readonly: true });
    t.after(() => copy.close());
    assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
    const count = (copy.prepare('select count(*) as n from tasks').get() as { n: number }).n;
    assert.ok(count >= 20 && count <= 40, `the copy holds ${count} tasks`);
    const again = await taskTracker(['backup', target], url);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^Could not write /);
  });
});
