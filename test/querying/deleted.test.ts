import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { dialectName, TIMESTAMP, type TestUser } from '../helpers.js';
import { get, queryFixture, reset, seed, stamp } from './support.js';

const DAY_MS = 86_400_000;

const remove = async (app: FastifyInstance, user: TestUser, id: number) => {
  const response = await app.inject({ method: 'DELETE', url: `/api/tasks/${id}/`, headers: user.auth });
  assert.equal(response.statusCode, 204);
};

describe(`[${dialectName}] listing deleted tasks with the default retention`, () => {
  const fixture = queryFixture();

  beforeEach(async () => {
    await reset(fixture());
  });

  const deleted = (user: TestUser, query: string) => get(fixture().app, user, `/api/tasks/deleted/${query}`);

  test('when tasks were deleted since a moment, then their ids and deletion times come back, oldest first', async () => {
    const { app, alice, database } = fixture();
    const [a, b, c] = await seed(database, alice, [{}, {}, {}]);
    const since = stamp(Date.now() - 1000);
    await remove(app, alice, b!);
    await remove(app, alice, a!);
    const response = await deleted(alice, `?since=${since}`);
    assert.equal(response.statusCode, 200);
    const body = response.json() as { id: number; deleted_at: string }[];
    assert.deepEqual(body.map((item) => item.id), [b, a]);
    for (const item of body) {
      assert.deepEqual(Object.keys(item), ['id', 'deleted_at']);
      assert.match(item.deleted_at, TIMESTAMP);
      assert.ok(item.deleted_at >= since);
    }
    assert.ok(body[0]!.deleted_at <= body[1]!.deleted_at);
    assert.ok(!body.some((item) => item.id === c));
  });

  test('when since is after some deletions, then only the later ones come back, and one exactly at since is included', async () => {
    const { app, alice, database } = fixture();
    const [a, b] = await seed(database, alice, [{}, {}]);
    await remove(app, alice, a!);
    await remove(app, alice, b!);
    const all = (await deleted(alice, `?since=${stamp(Date.now() - 60_000)}`)).json() as { id: number; deleted_at: string }[];
    const second = all.find((item) => item.id === b)!;
    await database.db.updateTable('deleted_tasks').set({ deleted_at: stamp(Date.now() - 30_000) }).where('task_id', '=', a!).execute();
    const response = await deleted(alice, `?since=${second.deleted_at}`);
    assert.deepEqual(response.json(), [second]);
    assert.deepEqual(((await deleted(alice, `?since=${stamp(Date.now() + 60_000)}`)).json()), []);
  });

  test('when since carries an offset or is a bare date, then it is read as that instant', async () => {
    const { app, alice, database } = fixture();
    const [a] = await seed(database, alice, [{}]);
    await remove(app, alice, a!);
    const deletedAt = new Date(Date.now() - 3_600_000);
    await database.db.updateTable('deleted_tasks').set({ deleted_at: stamp(deletedAt.getTime()) }).execute();
    const inParis = new Date(deletedAt.getTime() - 60_000 + 2 * 3_600_000).toISOString().slice(0, 19) + '+02:00';
    assert.deepEqual(((await deleted(alice, `?since=${encodeURIComponent(inParis)}`)).json() as { id: number }[]).map((item) => item.id), [a]);
    const laterInParis = new Date(deletedAt.getTime() + 60_000 + 2 * 3_600_000).toISOString().slice(0, 19) + '+02:00';
    assert.deepEqual((await deleted(alice, `?since=${encodeURIComponent(laterInParis)}`)).json(), []);
    const yesterday = new Date(Date.now() - DAY_MS).toISOString().slice(0, 10);
    assert.equal(((await deleted(alice, `?since=${yesterday}`)).json() as unknown[]).length, 1);
  });

  test('when another user deletes tasks, then they never appear in my list', async () => {
    const { app, alice, bob, database } = fixture();
    const [mine] = await seed(database, alice, [{}]);
    const [his, hisOther] = await seed(database, bob, [{}, {}]);
    const since = stamp(Date.now() - 1000);
    await remove(app, bob, his!);
    await remove(app, alice, mine!);
    await remove(app, bob, hisOther!);
    assert.deepEqual(((await deleted(alice, `?since=${since}`)).json() as { id: number }[]).map((item) => item.id), [mine]);
    assert.deepEqual(((await deleted(bob, `?since=${since}`)).json() as { id: number }[]).map((item) => item.id), [his, hisOther]);
  });

  test('when a delete is refused (another user\'s task, or a stale If-Match), then no deletion is listed', async () => {
    const { app, alice, bob, database } = fixture();
    const [mine] = await seed(database, alice, [{}]);
    const [his] = await seed(database, bob, [{}]);
    const since = stamp(Date.now() - 1000);
    const foreign = await app.inject({ method: 'DELETE', url: `/api/tasks/${his}/`, headers: alice.auth });
    assert.equal(foreign.statusCode, 404);
    const stale = await app.inject({ method: 'DELETE', url: `/api/tasks/${mine}/`, headers: { ...alice.auth, 'if-match': '"stale"' } });
    assert.equal(stale.statusCode, 412);
    assert.deepEqual((await deleted(alice, `?since=${since}`)).json(), []);
    assert.deepEqual((await deleted(bob, `?since=${since}`)).json(), []);
  });

  test('when nothing was deleted, then the list is empty', async () => {
    const response = await deleted(fixture().alice, `?since=${stamp(Date.now() - DAY_MS)}`);
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), []);
  });

  test('when since is missing, then it is a 400 saying the field is required', async () => {
    for (const query of ['', '?other=1']) {
      const response = await deleted(fixture().alice, query);
      assert.equal(response.statusCode, 400, query);
      assert.deepEqual(response.json(), { since: ['This field is required.'] }, query);
    }
  });

  for (const since of ['yesterday', '', '2025-02-30T00:00:00Z', '2025-01-01T24:00:00Z', '12345', '2025-01-01T00:00:00+25']) {
    test(`when since is "${since}", then it is a 400 naming the since field`, async () => {
      const response = await deleted(fixture().alice, `?since=${encodeURIComponent(since)}`);
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { since: ['Enter a valid date/time.'] });
    });
  }

  test('when since is older than the 30-day retention window, then it is a 410', async () => {
    for (const days of [31, 365]) {
      const response = await deleted(fixture().alice, `?since=${stamp(Date.now() - days * DAY_MS)}`);
      assert.equal(response.statusCode, 410, `${days} days`);
      const body = response.json() as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), ['detail']);
      assert.equal(typeof body.detail, 'string');
    }
  });

  test('when since is just inside the 30-day retention window, then the deletions come back', async () => {
    const response = await deleted(fixture().alice, `?since=${stamp(Date.now() - 29 * DAY_MS)}`);
    assert.equal(response.statusCode, 200);
  });

  test('when the request is not authenticated, then it is a 401', async () => {
    const response = await fixture().app.inject({ method: 'GET', url: `/api/tasks/deleted/?since=${stamp(Date.now())}` });
    assert.equal(response.statusCode, 401);
  });
});

describe(`[${dialectName}] listing deleted tasks with a configured retention`, () => {
  const fixture = queryFixture({ config: { tombstoneRetentionSeconds: 120 } });

  test('when since is older than the configured window, then it is a 410, and inside it a 200', async () => {
    const { app, alice } = fixture();
    const old = await get(app, alice, `/api/tasks/deleted/?since=${stamp(Date.now() - 180_000)}`);
    assert.equal(old.statusCode, 410);
    assert.equal(typeof old.json().detail, 'string');
    const recent = await get(app, alice, `/api/tasks/deleted/?since=${stamp(Date.now() - 60_000)}`);
    assert.equal(recent.statusCode, 200);
    assert.deepEqual(recent.json(), []);
  });
});
