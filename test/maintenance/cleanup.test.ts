import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { timestampOf } from '../../src/db/clock.js';
import type { Database } from '../../src/db/database.js';
import { cleanUp } from '../../src/maintenance.js';
import { buildTestApp, createTask, createUser, dialectName } from '../helpers.js';

const HOUR_MS = 3_600_000;
const ago = (ms: number) => timestampOf(Date.now() - ms);

async function insertSession(database: Database, userId: number, digest: string, expiresAt: string) {
  await database.db
    .insertInto('auth_tokens')
    .values({ user_id: userId, digest: digest.padEnd(64, '0'), created_at: ago(2 * HOUR_MS), last_used_at: ago(2 * HOUR_MS), expires_at: expiresAt, user_agent: '' })
    .execute();
}

async function sessionDigests(database: Database) {
  const rows = await database.db.selectFrom('auth_tokens').select(['digest', 'user_id']).orderBy('id').execute();
  return rows.map((row) => row.digest.slice(0, 8));
}

async function tombstoneIds(database: Database) {
  const rows = await database.db.selectFrom('deleted_tasks').select('task_id').orderBy('task_id').execute();
  return rows.map((row) => row.task_id);
}

describe(`[${dialectName}] clean-up`, () => {
  test('when sessions have expired and tombstones are past the retention, then those are removed and the rest kept', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const bob = await createUser(app);
    const aliceLogin = (await sessionDigests(database))[0];
    const bobLogin = (await sessionDigests(database))[1];
    await insertSession(database, alice.id, 'aaaaaaa1', ago(24 * HOUR_MS));
    await insertSession(database, bob.id, 'bbbbbbb1', ago(1000));
    await insertSession(database, bob.id, 'bbbbbbb2', timestampOf(Date.now() + HOUR_MS));

    // A task deleted through the API leaves a fresh tombstone.
    const task = await createTask(app, alice);
    assert.equal((await app.inject({ method: 'DELETE', url: `/api/tasks/${task.id}/`, headers: alice.auth })).statusCode, 204);
    await database.db
      .insertInto('deleted_tasks')
      .values([
        { task_id: 900001, owner_id: alice.id, deleted_at: ago(2 * HOUR_MS) },
        { task_id: 900002, owner_id: bob.id, deleted_at: ago(HOUR_MS + 60_000) },
        { task_id: 900003, owner_id: bob.id, deleted_at: ago(HOUR_MS - 60_000) },
        { task_id: 900004, owner_id: alice.id, deleted_at: ago(1000) },
      ])
      .execute();

    const removed = await cleanUp(database, loadConfig({ TOMBSTONE_RETENTION_SECONDS: '3600' }));

    assert.deepEqual(removed, { sessions: 2, tombstones: 2, resetLinks: 0 });
    assert.deepEqual(await sessionDigests(database), [aliceLogin, bobLogin, 'bbbbbbb2']);
    assert.deepEqual(await tombstoneIds(database), [task.id, 900003, 900004]);
    // The users' live sessions still work.
    const me = await app.inject({ method: 'GET', url: '/api/user/', headers: alice.auth });
    assert.equal(me.statusCode, 200);
  });

  test('when clean-up runs again with nothing left to remove, then it removes nothing', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    await insertSession(database, alice.id, 'aaaaaaa1', ago(HOUR_MS));
    await database.db.insertInto('deleted_tasks').values({ task_id: 900001, owner_id: alice.id, deleted_at: ago(31 * 24 * HOUR_MS) }).execute();
    const config = loadConfig({});

    assert.deepEqual(await cleanUp(database, config), { sessions: 1, tombstones: 1, resetLinks: 0 });
    assert.deepEqual(await cleanUp(database, config), { sessions: 0, tombstones: 0, resetLinks: 0 });
    assert.equal((await sessionDigests(database)).length, 1);
    assert.deepEqual(await tombstoneIds(database), []);
  });

  test('when the default 30-day retention is used, then a 29-day-old tombstone is kept and a 31-day-old one removed', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    await database.db
      .insertInto('deleted_tasks')
      .values([
        { task_id: 900001, owner_id: alice.id, deleted_at: ago(31 * 24 * HOUR_MS) },
        { task_id: 900002, owner_id: alice.id, deleted_at: ago(29 * 24 * HOUR_MS) },
      ])
      .execute();

    assert.deepEqual(await cleanUp(database, loadConfig({})), { sessions: 0, tombstones: 1, resetLinks: 0 });
    assert.deepEqual(await tombstoneIds(database), [900002]);
  });

  test('when an expired session was removed, then its token is refused and no session row is left', async (t) => {
    const { app, database } = await buildTestApp(t, { env: { TOMBSTONE_RETENTION_SECONDS: '3600' } });
    const alice = await createUser(app);
    await database.db.updateTable('auth_tokens').set({ expires_at: ago(1000) }).execute();
    assert.deepEqual(await cleanUp(database, loadConfig({ TOMBSTONE_RETENTION_SECONDS: '3600' })), { sessions: 1, tombstones: 0, resetLinks: 0 });
    const response = await app.inject({ method: 'GET', url: '/api/tasks/', headers: alice.auth });
    assert.equal(response.statusCode, 401);
    assert.equal((await sessionDigests(database)).length, 0);
  });

  test('when password reset links have expired, then they are removed and those still outstanding kept', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const link = (digest: string, expiresAt: string) => ({
      user_id: alice.id,
      digest: digest.padEnd(64, '0'),
      account_fingerprint: 'f'.repeat(64),
      created_at: ago(2 * HOUR_MS),
      expires_at: expiresAt,
    });
    await database.db
      .insertInto('password_reset_tokens')
      .values([link('expired1', ago(HOUR_MS)), link('expired2', ago(1000)), link('current1', timestampOf(Date.now() + HOUR_MS))])
      .execute();

    assert.deepEqual(await cleanUp(database, loadConfig({})), { sessions: 0, tombstones: 0, resetLinks: 2 });
    const left = await database.db.selectFrom('password_reset_tokens').select('digest').execute();
    assert.deepEqual(left.map((row) => row.digest.slice(0, 8)), ['current1']);
  });
});
