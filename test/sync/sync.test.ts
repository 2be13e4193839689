import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { timestampOf } from '../../src/db/clock.js';
import { cleanUp } from '../../src/maintenance.js';
import {
  buildTestApp,
  createTask,
  createUser,
  dialectName,
  formBody,
  storedTasks,
  TASK_KEYS,
  TIMESTAMP,
  type TestUser,
} from '../helpers.js';
import { seedTasks, serverList, SyncClient, syncPage, syncRequest, tokenOf } from './support.js';
import type { FastifyInstance } from 'fastify';

const HOUR_MS = 3_600_000;

async function inject(app: FastifyInstance, user: TestUser, method: string, url: string, payload?: object, headers = {}) {
  return app.inject({ method: method as 'GET', url, headers: { ...user.auth, ...headers }, ...(payload ? { payload } : {}) });
}

describe(`[${dialectName}] syncing from the beginning`, () => {
  test('when a user has 250 tasks, then the first sync brings all of them in pages of 100, 100 and 50, as GET /api/tasks/ shows them', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    // One statement: on PostgreSQL all 250 rows share one change id, so pages split on the id.
    await seedTasks(database, alice.id, 250);
    const client = new SyncClient(app, alice);

    const replies = await client.sync();

    assert.deepEqual(replies.map((reply) => [reply.changed.length, reply.deleted.length, reply.more]), [
      [100, 0, true],
      [100, 0, true],
      [50, 0, false],
    ]);
    const delivered = replies.flatMap((reply) => reply.changed);
    assert.equal(new Set(delivered.map((task) => task.id)).size, 250);
    for (const task of delivered) assert.deepEqual(Object.keys(task), TASK_KEYS);
    assert.deepEqual(client.list(), await serverList(app, alice));
  });

  test('when tasks have long descriptions, then each reply stops near a megabyte of task text, and the pages still bring every task', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    // 8,000 characters of four bytes each: 32,000 bytes a task, so 31 tasks fit in 1,000,000.
    const ids = await seedTasks(database, alice.id, 70);
    await database.db.updateTable('tasks').set({ description: '🚀'.repeat(8000) }).where('id', 'in', ids).execute();
    const client = new SyncClient(app, alice);
    const replies = await client.sync();
    assert.deepEqual(replies.map((reply) => [reply.changed.length, reply.more]), [[31, true], [31, true], [8, false]]);
    assert.ok(client.sizes.every((size) => size < 1_100_000), client.sizes.join(' '));
    assert.deepEqual(client.list(), await serverList(app, alice));
  });

  test('when a user has no tasks, then the first sync is empty and its token brings later tasks', async (t) => {
    const { app } = await buildTestApp(t);
    const alice = await createUser(app);
    const first = await syncPage(app, alice);
    assert.deepEqual({ ...first, token: undefined }, { token: undefined, more: false, changed: [], deleted: [] });
    assert.equal(typeof first.token, 'string');
    const task = await createTask(app, alice);
    const next = await syncPage(app, alice, first.token);
    assert.deepEqual(next.changed, [task]);
    assert.deepEqual(next.deleted, []);
  });

  test('when the token is absent or empty, then both mean a first sync', async (t) => {
    const { app } = await buildTestApp(t);
    const alice = await createUser(app);
    const task = await createTask(app, alice);
    for (const url of ['/api/tasks/sync/', '/api/tasks/sync/?token=', '/api/tasks/sync/?other=1']) {
      const response = await app.inject({ method: 'GET', url, headers: alice.auth });
      assert.equal(response.statusCode, 200, url);
      assert.deepEqual(response.json().changed, [task], url);
    }
  });

  test('when nothing changed since the previous sync, then the reply is empty and more is false', async (t) => {
    const { app } = await buildTestApp(t);
    const alice = await createUser(app);
    await createTask(app, alice);
    const client = new SyncClient(app, alice);
    await client.settle();
    for (let round = 0; round < 3; round += 1) {
      const reply = await client.step();
      assert.deepEqual([reply.changed, reply.deleted, reply.more], [[], [], false]);
    }
  });
});

describe(`[${dialectName}] syncing changes`, () => {
  test('when tasks are created, replaced, patched, completed, touched with an empty patch and deleted, then the next sync brings exactly those, in their latest version', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const [a, b, c, d, e, untouched] = await seedTasks(database, alice.id, 6);
    const client = new SyncClient(app, alice);
    await client.settle();

    const created = await createTask(app, alice, { title: 'New' });
    const form = formBody({ title: 'By form' });
    const byForm = (await app.inject({ method: 'POST', url: '/api/tasks/', payload: form.payload, headers: { ...alice.auth, ...form.headers } })).json();
    assert.equal((await inject(app, alice, 'PUT', `/api/tasks/${a}/`, { title: 'Replaced' })).statusCode, 200);
    assert.equal((await inject(app, alice, 'PATCH', `/api/tasks/${b}/`, { title: 'Patched' })).statusCode, 200);
    assert.equal((await inject(app, alice, 'PATCH', `/api/tasks/${b}/`, { description: 'Twice' })).statusCode, 200);
    assert.equal((await inject(app, alice, 'PATCH', `/api/tasks/${c}/`, { completed: true })).statusCode, 200);
    assert.equal((await inject(app, alice, 'PATCH', `/api/tasks/${d}/`, {})).statusCode, 200);
    const current = await inject(app, alice, 'GET', `/api/tasks/${e}/`);
    const etag = String(current.headers.etag);
    assert.equal((await inject(app, alice, 'DELETE', `/api/tasks/${e}/`, undefined, { 'if-match': etag })).statusCode, 204);
    assert.equal((await inject(app, alice, 'DELETE', `/api/tasks/${created.id}/`)).statusCode, 204);

    const [reply] = await client.sync();
    const latest = await serverList(app, alice);
    const changedIds = reply!.changed.map((task) => task.id).sort((x, y) => x - y);
    assert.deepEqual(changedIds, [a, b, c, d, byForm.id].sort((x, y) => x! - y!));
    for (const task of reply!.changed) assert.deepEqual(task, latest.find((stored) => stored.id === task.id));
    assert.deepEqual(reply!.deleted.map((item) => item.id).sort((x, y) => x - y), [e, created.id].sort((x, y) => x! - y!));
    for (const item of reply!.deleted) {
      assert.deepEqual(Object.keys(item), ['id', 'deleted_at']);
      assert.match(item.deleted_at, TIMESTAMP);
    }
    assert.ok(!changedIds.includes(untouched!));
    assert.deepEqual(client.list(), latest);
  });

  test('when writes are refused (another user\'s task, a stale If-Match, invalid fields, a missing task), then the next sync brings nothing and nothing changed', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const bob = await createUser(app);
    const mine = await createTask(app, alice);
    const his = await createTask(app, bob);
    const client = new SyncClient(app, alice);
    await client.settle();
    const before = await storedTasks(database);

    const refused = [
      await inject(app, alice, 'PATCH', `/api/tasks/${his.id}/`, { title: 'Mine now' }),
      await inject(app, alice, 'DELETE', `/api/tasks/${his.id}/`),
      await inject(app, alice, 'PATCH', `/api/tasks/${mine.id}/`, { title: 'Stale' }, { 'if-match': '"1-1"' }),
      await inject(app, alice, 'DELETE', `/api/tasks/${mine.id}/`, undefined, { 'if-match': '"1-1"' }),
      await inject(app, alice, 'PUT', `/api/tasks/${mine.id}/`, { title: '' }),
      await inject(app, alice, 'POST', '/api/tasks/', { title: 'x'.repeat(201) }),
      await inject(app, alice, 'PATCH', '/api/tasks/999999/', { title: 'Nobody' }),
    ];
    assert.deepEqual(refused.map((response) => response.statusCode), [404, 404, 412, 412, 400, 400, 404]);

    const [reply] = await client.sync();
    assert.deepEqual([reply!.changed, reply!.deleted, reply!.more], [[], [], false]);
    assert.deepEqual(await storedTasks(database), before);
  });

  test('when 150 tasks are deleted and 80 changed, then the deletions and changes come in pages of at most 100 and the copy ends empty of the deleted', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const ids = await seedTasks(database, alice.id, 250);
    const client = new SyncClient(app, alice);
    await client.settle();
    for (const id of ids.slice(0, 150)) assert.equal((await inject(app, alice, 'DELETE', `/api/tasks/${id}/`)).statusCode, 204);
    for (const id of ids.slice(150, 230)) assert.equal((await inject(app, alice, 'PATCH', `/api/tasks/${id}/`, { completed: true })).statusCode, 200);

    const replies = await client.sync();

    assert.deepEqual(replies.map((reply) => reply.more), [true, true, false]);
    assert.deepEqual(replies.map((reply) => reply.changed.length + reply.deleted.length), [100, 100, 30]);
    assert.equal(replies.flatMap((reply) => reply.deleted).length, 150);
    assert.equal(replies.flatMap((reply) => reply.changed).length, 80);
    assert.deepEqual(client.list(), await serverList(app, alice));
    assert.equal(client.tasks.size, 100);
  });

  test('when tasks change between the pages of one sync, then the copy still ends equal to the server', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const ids = await seedTasks(database, alice.id, 250);
    const client = new SyncClient(app, alice);
    const first = await client.step();
    assert.equal(first.more, true);
    const delivered = first.changed.map((task) => task.id);
    const pending = ids.filter((id) => !delivered.includes(id));
    // Already delivered, not yet delivered, deleted on either side, and new.
    await inject(app, alice, 'PATCH', `/api/tasks/${delivered[0]}/`, { title: 'Changed after delivery' });
    await inject(app, alice, 'PATCH', `/api/tasks/${pending[0]}/`, { title: 'Changed before delivery' });
    await inject(app, alice, 'DELETE', `/api/tasks/${delivered[1]}/`);
    await inject(app, alice, 'DELETE', `/api/tasks/${pending[1]}/`);
    await createTask(app, alice, { title: 'Created during the sync' });

    await client.sync();
    await client.sync();

    assert.deepEqual(client.list(), await serverList(app, alice));
  });
});

describe(`[${dialectName}] sync scope`, () => {
  test("when another user creates, changes and deletes tasks, then they never appear in my sync, first or later", async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const bob = await createUser(app);
    await seedTasks(database, bob.id, 120);
    const [mine] = await seedTasks(database, alice.id, 1);
    const aliceClient = new SyncClient(app, alice);
    const bobClient = new SyncClient(app, bob);
    await aliceClient.settle();
    await bobClient.settle();
    assert.deepEqual([...aliceClient.tasks.keys()], [mine]);
    assert.equal(bobClient.tasks.size, 120);

    const his = await createTask(app, bob);
    await inject(app, bob, 'PATCH', `/api/tasks/${[...bobClient.tasks.keys()][0]}/`, { title: 'His' });
    await inject(app, bob, 'DELETE', `/api/tasks/${[...bobClient.tasks.keys()][1]}/`);
    const replies = await aliceClient.sync();
    assert.deepEqual(replies.map((reply) => [reply.changed, reply.deleted]), [[[], []]]);

    await bobClient.sync();
    assert.ok(bobClient.tasks.has(his.id));
    assert.deepEqual(bobClient.list(), await serverList(app, bob));
    for (const task of bobClient.tasks.values()) assert.equal(task.owner, bob.id);
  });

  test("when a user sends another user's token, then it is refused as invalid", async (t) => {
    const { app } = await buildTestApp(t);
    const alice = await createUser(app);
    const bob = await createUser(app);
    await createTask(app, alice);
    const alices = (await syncPage(app, alice)).token;
    const response = await syncRequest(app, bob, alices);
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { token: ['Invalid sync token.'] });
  });
});

describe(`[${dialectName}] sync tokens`, () => {
  test('when the token is not one this server issued, then it is a 400 naming the token field, never a 500', async (t) => {
    const { app } = await buildTestApp(t);
    const alice = await createUser(app);
    await createTask(app, alice);
    const issued = (await syncPage(app, alice)).token;
    const [, userId, from] = Buffer.from(issued, 'base64url').toString('latin1').split('.');
    const tokens = [
      'abc',
      'x'.repeat(5000),
      `${issued}=`,
      `${issued}x`,
      issued.slice(1), // dropping the last character instead can leave a valid position (s1.1.3431 -> s1.1.343)
      ` ${issued}`,
      issued.replace(/[A-Za-z]/, (char) => (char === char.toUpperCase() ? char.toLowerCase() : char.toUpperCase())),
      '!!!',
      '\u0000',
      'é',
      'czE+MS4x',
      tokenOf('s1'),
      tokenOf(`s1.${userId}`),
      tokenOf(`s2.${userId}.${from}`),
      tokenOf(`s1.${userId}.${from}.1`),
      tokenOf(`s1.${userId}.-1`),
      tokenOf(`s1.${userId}.0${from}`),
      tokenOf(`s1.${userId}.1e3`),
      tokenOf(`s1.${userId}.${from}.`),
      tokenOf(`s1.${userId}.99999999999999999999`),
      tokenOf(`s1.${userId}.9007199254740993`),
      tokenOf(`s1.${userId}.${Number(from) + 1000000}`),
      tokenOf(`s1.${userId}.${from}.${Number(from) + 1000000}.1.1`),
      tokenOf(`s1.${userId}.${from}.${Number(from) - 1}.${from}.1`),
      tokenOf(`s1.${Number(userId) + 1}.${from}`),
      tokenOf(`s1.0.${from}`),
      tokenOf(`s1.${userId}.${from}\u0000`),
    ];
    for (const token of tokens) {
      const response = await syncRequest(app, alice, token);
      assert.equal(response.statusCode, 400, JSON.stringify(token));
      assert.deepEqual(response.json(), { token: ['Invalid sync token.'] }, JSON.stringify(token));
    }
    const twice = await app.inject({ method: 'GET', url: `/api/tasks/sync/?token=${issued}&token=${issued}`, headers: alice.auth });
    assert.equal(twice.statusCode, 400);
    assert.deepEqual(twice.json(), { token: ['Invalid sync token.'] });
    // The token that was issued still works.
    assert.equal((await syncRequest(app, alice, issued)).statusCode, 200);
  });

  test('when a sync is not authenticated, then it is a 401 before the token is looked at', async (t) => {
    const { app } = await buildTestApp(t);
    for (const headers of [{}, { authorization: 'Token unknown' }, { authorization: 'Basic YTpi' }]) {
      for (const url of ['/api/tasks/sync/', '/api/tasks/sync/?token=garbage']) {
        const response = await app.inject({ method: 'GET', url, headers });
        assert.equal(response.statusCode, 401, url);
        assert.equal(response.headers['www-authenticate'], 'Token');
        assert.deepEqual(Object.keys(response.json()), ['detail']);
      }
    }
  });

  test('when the sync URL is called with another method or without its slash, then it answers as the other endpoints do', async (t) => {
    const { app } = await buildTestApp(t);
    const alice = await createUser(app);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      const response = await app.inject({ method, url: '/api/tasks/sync/', headers: alice.auth });
      assert.equal(response.statusCode, 405, method);
      assert.equal(response.headers.allow, 'GET, HEAD, OPTIONS');
      assert.deepEqual(response.json(), { detail: `Method "${method}" not allowed.` });
    }
    const options = await app.inject({ method: 'OPTIONS', url: '/api/tasks/sync/', headers: alice.auth });
    assert.equal(options.statusCode, 200);
    const redirect = await app.inject({ method: 'GET', url: '/api/tasks/sync?token=', headers: alice.auth });
    assert.equal(redirect.statusCode, 301);
    assert.equal(redirect.headers.location, '/api/tasks/sync/?token=');
    assert.equal((await app.inject({ method: 'HEAD', url: '/api/tasks/sync/', headers: alice.auth })).statusCode, 200);
  });
});

describe(`[${dialectName}] sync and the retention of deletions`, () => {
  const config = { tombstoneRetentionSeconds: 3600 };

  /** Makes the user's deletion records older than the retention window and runs the clean-up. */
  async function forgetDeletions(testApp: Awaited<ReturnType<typeof buildTestApp>>, ids: number[]) {
    const { database } = testApp;
    await database.db.updateTable('deleted_tasks').set({ deleted_at: timestampOf(Date.now() - 2 * HOUR_MS) }).where('task_id', 'in', ids).execute();
    const removed = await cleanUp(database, testApp.config);
    assert.equal(removed.tombstones, ids.length);
  }

  test('when deletions made since a token were forgotten, then that token gets a 410, and a sync from the beginning starts afresh', async (t) => {
    const testApp = await buildTestApp(t, { config });
    const { app } = testApp;
    const alice = await createUser(app);
    const [kept, gone] = [await createTask(app, alice), await createTask(app, alice)];
    const client = new SyncClient(app, alice);
    await client.settle();
    const stale = client.token!;
    await inject(app, alice, 'DELETE', `/api/tasks/${gone.id}/`);
    await forgetDeletions(testApp, [gone.id]);

    const response = await syncRequest(app, alice, stale);
    assert.equal(response.statusCode, 410);
    assert.deepEqual(response.json(), { detail: 'Deletions are kept for 3600 seconds; sync again without a token.' });

    const fresh = new SyncClient(app, alice);
    await fresh.sync();
    assert.deepEqual(fresh.list(), [kept]);
    assert.equal((await fresh.step()).more, false);
  });

  test('when only deletions older than a token were forgotten, then the token keeps working', async (t) => {
    const testApp = await buildTestApp(t, { config });
    const { app } = testApp;
    const alice = await createUser(app);
    const old = await createTask(app, alice);
    await inject(app, alice, 'DELETE', `/api/tasks/${old.id}/`);
    const client = new SyncClient(app, alice);
    // Past the deletion: on PostgreSQL a first sync's token may still be below it.
    await client.settle();
    await forgetDeletions(testApp, [old.id]);
    const task = await createTask(app, alice);
    const [reply] = await client.sync();
    assert.deepEqual(reply!.changed, [task]);
  });

  test("when another account is deleted with its deletion records, then my token keeps working", async (t) => {
    const { app } = await buildTestApp(t, { config });
    const alice = await createUser(app);
    const bob = await createUser(app);
    const client = new SyncClient(app, alice);
    await client.settle();
    const his = await createTask(app, bob);
    await inject(app, bob, 'DELETE', `/api/tasks/${his.id}/`);
    const deleted = await inject(app, bob, 'DELETE', '/api/user/', { current_password: bob.password });
    assert.equal(deleted.statusCode, 204);
    const mine = await createTask(app, alice);
    const [reply] = await client.sync();
    assert.deepEqual(reply!.changed, [mine]);
  });

  test('when a first sync is under way while deletions are forgotten, then it completes and its token works', async (t) => {
    const testApp = await buildTestApp(t, { config });
    const { app, database } = testApp;
    const alice = await createUser(app);
    await seedTasks(database, alice.id, 150);
    const gone = await createTask(app, alice);
    await inject(app, alice, 'DELETE', `/api/tasks/${gone.id}/`);
    // On PostgreSQL another session's transaction may hold watermarks below the deletion for a
    // while, and a token below a forgotten deletion is refused; another device waits that out.
    await new SyncClient(app, alice).settle();
    const client = new SyncClient(app, alice);
    assert.equal((await client.step()).more, true);
    await forgetDeletions(testApp, [gone.id]);
    await client.sync();
    assert.deepEqual(client.list(), await serverList(app, alice));
    assert.equal((await client.step()).more, false);
  });
});
