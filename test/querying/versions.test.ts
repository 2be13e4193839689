import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { dialectName, storedTasks, TIMESTAMP } from '../helpers.js';
import { get, queryFixture, reset, seed, stamp } from './support.js';

const fixture = queryFixture();

interface Task {
  id: number;
  title: string;
  completed: boolean;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

describe(`[${dialectName}] updated_at and completed_at`, () => {
  beforeEach(async () => {
    await reset(fixture());
  });

  const create = async (fields: Record<string, unknown>) => {
    const { app, alice } = fixture();
    const response = await app.inject({ method: 'POST', url: '/api/tasks/', headers: alice.auth, payload: fields });
    assert.equal(response.statusCode, 201);
    return response.json() as Task;
  };
  const write = async (method: 'PUT' | 'PATCH', id: number, payload: Record<string, unknown>) => {
    const { app, alice } = fixture();
    const response = await app.inject({ method, url: `/api/tasks/${id}/`, headers: alice.auth, payload });
    assert.equal(response.statusCode, 200, response.body);
    return response.json() as Task;
  };
  const read = async (id: number) => (await get(fixture().app, fixture().alice, `/api/tasks/${id}/`)).json() as Task;

  test('when a task is created open, then updated_at equals created_at and completed_at is null', async () => {
    const task = await create({ title: 'Fresh' });
    assert.match(task.updated_at, TIMESTAMP);
    assert.equal(task.updated_at, task.created_at);
    assert.equal(task.completed_at, null);
    assert.deepEqual(await read(task.id), task);
  });

  test('when a task is created completed, then completed_at is set at creation', async () => {
    const task = await create({ title: 'Done already', completed: true });
    assert.match(task.completed_at ?? '', TIMESTAMP);
    assert.equal(task.completed_at, task.created_at);
  });

  test('when a task is written by PATCH, PUT or an empty PATCH, then updated_at moves forward and created_at stays', async () => {
    const { database, alice } = fixture();
    const [id] = await seed(database, alice, [{ title: 'Old', updated_at: '2020-01-01T00:00:00.000000Z', created_at: '2020-01-01T00:00:00.000000Z' }]);
    let previous = '2020-01-01T00:00:00.000000Z';
    const writes: ['PUT' | 'PATCH', Record<string, unknown>][] = [['PATCH', { title: 'Renamed' }], ['PUT', { title: 'Replaced' }], ['PATCH', {}]];
    for (const [method, payload] of writes) {
      const before = stamp(Date.now() - 1);
      const task = await write(method, id!, payload);
      assert.match(task.updated_at, TIMESTAMP);
      assert.ok(task.updated_at > previous && task.updated_at >= before, `${method} ${JSON.stringify(payload)}: ${task.updated_at}`);
      assert.equal(task.created_at, '2020-01-01T00:00:00.000000Z');
      assert.deepEqual(await read(id!), task);
      previous = task.updated_at;
    }
  });

  test('when a write is refused as invalid, then updated_at does not move', async () => {
    const { app, alice, database } = fixture();
    const [id] = await seed(database, alice, [{ updated_at: '2020-01-01T00:00:00.000000Z' }]);
    const response = await app.inject({ method: 'PATCH', url: `/api/tasks/${id}/`, headers: alice.auth, payload: { title: '' } });
    assert.equal(response.statusCode, 400);
    assert.equal((await read(id!)).updated_at, '2020-01-01T00:00:00.000000Z');
  });

  test('when a task becomes completed, then completed_at is the moment of that write', async () => {
    const task = await create({ title: 'To do' });
    const done = await write('PATCH', task.id, { completed: true });
    assert.equal(done.completed, true);
    assert.equal(done.completed_at, done.updated_at);
    assert.ok(done.completed_at! >= task.created_at);
  });

  test('when a completed task is completed again or otherwise edited, then completed_at is kept', async () => {
    const { database, alice } = fixture();
    const firstDone = '2024-05-05T05:05:05.000005Z';
    const [id] = await seed(database, alice, [{ completed: true, completed_at: firstDone, updated_at: firstDone }]);
    const again = await write('PATCH', id!, { completed: true });
    assert.equal(again.completed_at, firstDone);
    assert.ok(again.updated_at > firstDone);
    const replaced = await write('PUT', id!, { title: 'Still done', completed: true });
    assert.equal(replaced.completed_at, firstDone);
    const renamed = await write('PATCH', id!, { title: 'Renamed' });
    assert.equal(renamed.completed_at, firstDone);
    const putWithoutCompleted = await write('PUT', id!, { title: 'Replaced without the flag' });
    assert.equal(putWithoutCompleted.completed, true);
    assert.equal(putWithoutCompleted.completed_at, firstDone);
  });

  test('when a task is reopened, then completed_at is cleared, and completing it again sets a new moment', async () => {
    const { database, alice } = fixture();
    const firstDone = '2024-05-05T05:05:05.000005Z';
    const [id] = await seed(database, alice, [{ completed: true, completed_at: firstDone }]);
    const reopened = await write('PATCH', id!, { completed: false });
    assert.equal(reopened.completed, false);
    assert.equal(reopened.completed_at, null);
    const stillOpen = await write('PATCH', id!, { completed: 'no' });
    assert.equal(stillOpen.completed_at, null);
    const redone = await write('PUT', id!, { title: 'Again', completed: 'true' });
    assert.equal(redone.completed_at, redone.updated_at);
    assert.ok(redone.completed_at! > firstDone);
  });

  test('when tasks change after a moment, then updated_since lists exactly those, for incremental sync', async () => {
    const { app, alice, database } = fixture();
    const old = '2020-01-01T00:00:00.000000Z';
    const [, b] = await seed(database, alice, [{ updated_at: old }, { updated_at: old }, { updated_at: old }]);
    const since = stamp(Date.now() - 1);
    await write('PATCH', b!, { completed: true });
    const created = await create({ title: 'New since' });
    const response = await get(app, alice, `/api/tasks/?updated_since=${since}`);
    assert.equal(response.statusCode, 200);
    assert.deepEqual((response.json() as Task[]).map((task) => task.id), [b, created.id]);
  });

  test('when a task is listed, then it carries updated_at and completed_at as stored', async () => {
    const { app, alice, database } = fixture();
    await seed(database, alice, [{ completed: true, completed_at: '2024-01-02T03:04:05.123456Z', updated_at: '2024-01-02T03:04:05.123456Z' }]);
    const [stored] = await storedTasks(database);
    const [listed] = (await get(app, alice, '/api/tasks/')).json() as Task[];
    assert.equal(listed!.updated_at, '2024-01-02T03:04:05.123456Z');
    assert.equal(listed!.completed_at, '2024-01-02T03:04:05.123456Z');
    assert.equal(listed!.id, Number(stored!.id));
  });
});
