import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Database } from '../../src/db/database.js';
import { buildTestApp, createTask, createUser, dialectName, login, PASSWORD, type TestUser } from '../helpers.js';

async function makeStaff(database: Database, user: TestUser, superuser = false) {
  await database.db.updateTable('users').set({ is_staff: true, is_superuser: superuser }).where('id', '=', user.id).execute();
}

/** Everything an admin request could change. */
async function state(database: Database) {
  return {
    users: await database.db.selectFrom('users').select(['id', 'is_active', 'session_epoch']).orderBy('id').execute(),
    sessions: await database.db.selectFrom('auth_tokens').select('id').orderBy('id').execute(),
    audit: await database.db.selectFrom('admin_audit').selectAll().orderBy('id').execute(),
  };
}

const as = (app: FastifyInstance, user: TestUser | undefined) => (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string) =>
  app.inject({ method, url, headers: user?.auth ?? {} });

describe(`[${dialectName}] admin API`, () => {
  test('when anyone but staff calls an admin URL, then it is 401 without a session and 403 with one, after 405, and nothing changes', async (t) => {
    const { app, database } = await buildTestApp(t);
    const [alice, bob] = await Promise.all([createUser(app), createUser(app)]);
    const urls: ['GET' | 'POST', string][] = [
      ['GET', '/api/admin/users/'],
      ['GET', `/api/admin/users/${bob.id}/`],
      ['POST', `/api/admin/users/${bob.id}/deactivate/`],
      ['POST', `/api/admin/users/${bob.id}/reactivate/`],
      ['POST', `/api/admin/users/${bob.id}/revoke-sessions/`],
      ['POST', '/api/admin/users/999999/deactivate/'],
      ['GET', '/api/admin/totals/'],
      ['GET', '/api/admin/audit/'],
    ];
    const before = await state(database);
    for (const [method, url] of urls) {
      const anonymous = await as(app, undefined)(method, url);
      assert.equal(anonymous.statusCode, 401, url);
      const plain = await as(app, alice)(method, url);
      assert.equal(plain.statusCode, 403, url);
      assert.deepEqual(plain.json(), { detail: 'You do not have permission to perform this action.' });
      assert.equal((await as(app, alice)('PUT', url)).statusCode, 405, url);
    }
    assert.deepEqual(await state(database), before);
  });

  test('when staff list and search accounts, then each comes with its task and session counts, a page at a time', async (t) => {
    const { app, database } = await buildTestApp(t);
    const staff = await createUser(app, { username: 'staffer' });
    await makeStaff(database, staff);
    const carol = await createUser(app, { username: 'Carol', email: 'carol@example.com' });
    await login(app, 'Carol', PASSWORD);
    for (let index = 0; index < 3; index += 1) await createTask(app, carol);
    const page = (await as(app, staff)('GET', '/api/admin/users/?search=CAR')).json();
    assert.equal(page.count, 1);
    assert.deepEqual(
      { ...page.results[0], date_joined: undefined, last_login: undefined },
      { id: carol.id, username: 'Carol', email: 'carol@example.com', is_active: true, is_staff: false, is_superuser: false, date_joined: undefined, last_login: undefined, task_count: 3, session_count: 2 },
    );
    assert.equal((await as(app, staff)('GET', '/api/admin/users/?search=example.com')).json().count, 1);
    const first = (await as(app, staff)('GET', '/api/admin/users/?page_size=1')).json();
    assert.equal(first.count, 2);
    assert.equal(first.results.length, 1);
    assert.match(first.next, /page=2/);
    assert.equal((await as(app, staff)('GET', `/api/admin/users/${carol.id}/`)).json().task_count, 3);
    assert.equal((await as(app, staff)('GET', '/api/admin/users/999999/')).statusCode, 404);
    assert.deepEqual((await as(app, staff)('GET', '/api/admin/totals/')).json(), { users: 2, active_users: 2, tasks: 3 });
  });

  test('when staff deactivate, reactivate and end the sessions of an account, then it takes effect at once and each action is in the audit log', async (t) => {
    const { app, database } = await buildTestApp(t);
    const staff = await createUser(app, { username: 'auditor' });
    await makeStaff(database, staff);
    const dave = await createUser(app);

    const deactivated = await as(app, staff)('POST', `/api/admin/users/${dave.id}/deactivate/`);
    assert.equal(deactivated.statusCode, 200);
    assert.equal(deactivated.json().is_active, false);
    assert.equal((await app.inject({ method: 'GET', url: '/api/user/', headers: dave.auth })).statusCode, 401);
    await assert.rejects(() => login(app, dave.username, PASSWORD));
    assert.deepEqual((await as(app, staff)('GET', '/api/admin/totals/')).json().active_users, 1);

    assert.equal((await as(app, staff)('POST', `/api/admin/users/${dave.id}/reactivate/`)).json().is_active, true);
    const token = await login(app, dave.username, PASSWORD);
    const revoked = await as(app, staff)('POST', `/api/admin/users/${dave.id}/revoke-sessions/`);
    assert.deepEqual(revoked.json(), { revoked: 1 });
    assert.equal((await app.inject({ method: 'GET', url: '/api/user/', headers: { authorization: `Token ${token}` } })).statusCode, 401);

    const audit = (await as(app, staff)('GET', '/api/admin/audit/')).json();
    assert.equal(audit.count, 3);
    assert.deepEqual(
      audit.results.map((entry: { action: string; actor: unknown; target: unknown }) => [entry.action, entry.actor, entry.target]),
      ['revoke_sessions', 'reactivate', 'deactivate'].map((action) => [action, { id: staff.id, username: 'auditor' }, { id: dave.id, username: dave.username }]),
    );
  });

  test('when staff act on another member of staff or on themselves, then only a superuser may, and never on themselves', async (t) => {
    const { app, database } = await buildTestApp(t);
    const [staff, other, root] = await Promise.all([createUser(app), createUser(app), createUser(app)]);
    await makeStaff(database, staff);
    await makeStaff(database, other);
    await makeStaff(database, root, true);
    const before = await state(database);
    assert.equal((await as(app, staff)('POST', `/api/admin/users/${other.id}/deactivate/`)).statusCode, 403);
    assert.equal((await as(app, staff)('POST', `/api/admin/users/${root.id}/revoke-sessions/`)).statusCode, 403);
    assert.equal((await as(app, staff)('POST', `/api/admin/users/${staff.id}/deactivate/`)).statusCode, 403);
    const self = await as(app, root)('POST', `/api/admin/users/${root.id}/deactivate/`);
    assert.deepEqual([self.statusCode, self.json()], [400, { detail: 'Staff cannot use the admin API on their own account.' }]);
    assert.deepEqual(await state(database), before);
    assert.equal((await as(app, root)('POST', `/api/admin/users/${other.id}/deactivate/`)).statusCode, 200);
  });
});
