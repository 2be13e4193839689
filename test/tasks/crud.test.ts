import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, test } from 'node:test';
import { TIMESTAMP, buildTestApp, createTask, createUser, dialectName, sharedTestApp, storedTasks, type TestUser } from '../helpers.js';

const NOT_FOUND = '{"detail":"Not found."}';

describe(`[${dialectName}] GET /api/tasks/`, () => {
  test('when a new user lists tasks, then the list is an empty array', async (t) => {
    const { app } = await buildTestApp(t);
    const alice = await createUser(app);
    const response = await app.inject({ method: 'GET', url: '/api/tasks/', headers: alice.auth });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.equal(response.body, '[]');
  });

  test("when users have interleaved tasks, then each sees a plain array of only their own, ascending by id", async (t) => {
    const { app } = await buildTestApp(t);
    const alice = await createUser(app);
    const bob = await createUser(app);
    const a1 = await createTask(app, alice, { title: 'a1' });
    const b1 = await createTask(app, bob, { title: 'b1' });
    const a2 = await createTask(app, alice, { title: 'a2', completed: true });
    const b2 = await createTask(app, bob, { title: 'b2' });
    const a3 = await createTask(app, alice, { title: 'a3' });
    // A later change must not reorder the list.
    await app.inject({ method: 'PATCH', url: `/api/tasks/${a1.id}/`, headers: alice.auth, payload: { title: 'a1 edited' } });

    const aliceList = await app.inject({ method: 'GET', url: '/api/tasks/', headers: alice.auth });
    assert.equal(aliceList.statusCode, 200);
    assert.deepEqual(aliceList.json().map((task: { title: string }) => task.title), ['a1 edited', 'a2', 'a3']);
    assert.deepEqual(aliceList.json().slice(1), [a2, a3]);

    const bobList = await app.inject({ method: 'GET', url: '/api/tasks/', headers: bob.auth });
    assert.deepEqual(bobList.json(), [b1, b2]);
    assert.ok(a1.id < b1.id && b1.id < a2.id && a2.id < b2.id && b2.id < a3.id, 'ids are global and increasing');
  });

  test('when the list is asked for with unrelated query parameters, as a cache-busting client sends, then it is still the whole plain list', async (t) => {
    const { app } = await buildTestApp(t);
    const alice = await createUser(app);
    const tasks = [await createTask(app, alice, { title: 'one' }), await createTask(app, alice, { title: 'two' })];
    const response = await app.inject({ method: 'GET', url: '/api/tasks/?_=1732400000000&foo=bar', headers: alice.auth });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), tasks);
  });

  test('when HEAD is sent to the list, then it answers like GET without a body', async (t) => {
    const { app } = await buildTestApp(t);
    const alice = await createUser(app);
    await createTask(app, alice);
    const response = await app.inject({ method: 'HEAD', url: '/api/tasks/', headers: alice.auth });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.equal(response.body, '');
  });
});

describe(`[${dialectName}] tasks of one user`, () => {
  const testApp = sharedTestApp();
  let alice: TestUser;
  before(async () => {
    alice = await createUser(testApp().app);
  });

  const request = (method: 'GET' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD', id: number | string, payload?: unknown) =>
    testApp().app.inject({ method, url: `/api/tasks/${id}/`, headers: alice.auth, payload: payload as Record<string, unknown> | undefined });

  const rowOf = async (id: number) => (await storedTasks(testApp().database)).find((row) => row.id === id);

  test('when a task is created with only a title, then the defaults are filled in and it is stored', async () => {
    const response = await testApp().app.inject({ method: 'POST', url: '/api/tasks/', headers: alice.auth, payload: { title: 'Only a title' } });
    assert.equal(response.statusCode, 201);
    const task = response.json();
    assert.equal(typeof task.id, 'number');
    assert.match(task.created_at, TIMESTAMP);
    assert.ok(Math.abs(Date.now() - Date.parse(task.created_at)) < 60_000, task.created_at);
    assert.deepEqual(task, {
      id: task.id,
      title: 'Only a title',
      description: '',
      due_date: null,
      completed: false,
      created_at: task.created_at,
      owner: alice.id,
      updated_at: task.created_at,
      completed_at: null,
      list: null,
      assignee: null,
    });
    const row = await rowOf(task.id);
    assert.equal(row?.title, 'Only a title');
    assert.equal(row?.owner_id, alice.id);
  });

  test('when a task is created with every field, then the reply echoes them', async () => {
    const response = await testApp().app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: alice.auth,
      payload: { title: 'New Task', description: 'Do something important', due_date: '2025-03-30', completed: true },
    });
    assert.equal(response.statusCode, 201);
    const task = response.json();
    assert.deepEqual(task, {
      id: task.id,
      title: 'New Task',
      description: 'Do something important',
      due_date: '2025-03-30',
      completed: true,
      created_at: task.created_at,
      owner: alice.id,
      updated_at: task.created_at,
      completed_at: task.created_at,
      list: null,
      assignee: null,
    });
  });

  test('when a task is read, then it is the task as created', async () => {
    const task = await createTask(testApp().app, alice, { title: 'Read me', due_date: '2030-01-01' });
    const response = await request('GET', task.id);
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), task);
  });

  test('when HEAD is sent to a task, then it answers 200 without a body', async () => {
    const task = await createTask(testApp().app, alice);
    const response = await request('HEAD', task.id);
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, '');
  });

  test('when a task is PUT with every field, then all are replaced and created_at stays', async () => {
    const task = await createTask(testApp().app, alice, { title: 'Old', description: 'Old text', due_date: '2025-01-01' });
    await sleep(2);
    const response = await request('PUT', task.id, { title: 'New', description: 'New text', due_date: '2026-02-02', completed: true });
    assert.equal(response.statusCode, 200);
    const updated = response.json();
    assert.deepEqual(updated, {
      ...task,
      title: 'New',
      description: 'New text',
      due_date: '2026-02-02',
      completed: true,
      updated_at: updated.updated_at,
      completed_at: updated.completed_at,
    });
    assert.ok(updated.updated_at > task.updated_at, 'updated_at moves forward');
    assert.match(updated.completed_at, TIMESTAMP);
    const row = await rowOf(task.id);
    assert.equal(row?.title, 'New');
    assert.equal(row?.due_date, '2026-02-02');
    assert.deepEqual((await request('GET', task.id)).json(), updated);
  });

  test('when a task is PUT with only a title, then the omitted optional fields keep their values', async () => {
    const task = await createTask(testApp().app, alice, { title: 'Old', description: 'Keep', due_date: '2025-06-01', completed: true });
    const response = await request('PUT', task.id, { title: 'Renamed' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { ...task, title: 'Renamed', updated_at: response.json().updated_at });
  });

  test('when a task is PUT without a title, then the title is required and nothing changes', async () => {
    const task = await createTask(testApp().app, alice, { title: 'Titled' });
    const before = await storedTasks(testApp().database);
    const response = await request('PUT', task.id, { description: 'No title', completed: true });
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, '{"title":["This field is required."]}');
    assert.deepEqual(await storedTasks(testApp().database), before);
  });

  test('when a PUT sends the whole task object back, as the React client does, then the read-only fields are ignored', async () => {
    const bob = await createUser(testApp().app);
    const task = await createTask(testApp().app, alice, { title: 'Round trip' });
    const response = await request('PUT', task.id, {
      ...task,
      id: task.id + 1000,
      owner: bob.id,
      created_at: '2001-01-01T00:00:00.000000Z',
      updated_at: '2001-01-01T00:00:00.000000Z',
      completed_at: '2001-01-01T00:00:00.000000Z',
      title: 'Round trip edited',
      completed: true,
    });
    assert.equal(response.statusCode, 200);
    const updated = response.json();
    assert.equal(updated.id, task.id);
    assert.equal(updated.owner, alice.id);
    assert.equal(updated.created_at, task.created_at);
    assert.equal(updated.title, 'Round trip edited');
    assert.equal(updated.completed, true);
    assert.notEqual(updated.updated_at, '2001-01-01T00:00:00.000000Z');
    assert.notEqual(updated.completed_at, '2001-01-01T00:00:00.000000Z');
    assert.equal((await rowOf(task.id))?.owner_id, alice.id);
  });

  test('when a task is PATCHed with one field, then only that field changes', async () => {
    const task = await createTask(testApp().app, alice, { title: 'Patch me', description: 'Stay', due_date: '2025-04-04' });
    const response = await request('PATCH', task.id, { description: 'Changed' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { ...task, description: 'Changed', updated_at: response.json().updated_at });
    assert.equal((await rowOf(task.id))?.description, 'Changed');
  });

  test('when a task is PATCHed as completed, then it is completed and the rest stays', async () => {
    const task = await createTask(testApp().app, alice, { title: 'Finish me', description: 'Stay' });
    const response = await request('PATCH', task.id, { completed: true });
    assert.equal(response.statusCode, 200);
    const updated = response.json();
    assert.deepEqual(updated, { ...task, completed: true, updated_at: updated.updated_at, completed_at: updated.completed_at });
    assert.match(updated.completed_at, TIMESTAMP);
    assert.equal(Boolean((await rowOf(task.id))?.completed), true);
  });

  test('when a task is PATCHed with {}, then nothing but updated_at changes', async () => {
    const task = await createTask(testApp().app, alice, { title: 'Untouched', description: 'Same', due_date: '2025-07-07', completed: true });
    await sleep(2);
    const response = await request('PATCH', task.id, {});
    assert.equal(response.statusCode, 200);
    const { updated_at, ...rest } = response.json();
    const { updated_at: previous, ...expected } = task;
    assert.deepEqual(rest, expected);
    assert.match(updated_at, TIMESTAMP);
    assert.ok(updated_at >= previous);
  });

  test('when a task is PATCHed with {"due_date":null}, then its date is cleared', async () => {
    const task = await createTask(testApp().app, alice, { title: 'Dated', due_date: '2025-08-08' });
    const response = await request('PATCH', task.id, { due_date: null });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { ...task, due_date: null, updated_at: response.json().updated_at });
    assert.equal((await rowOf(task.id))?.due_date, null);
  });

  test('when a task is PATCHed with {"due_date":""}, then its date is cleared', async () => {
    const task = await createTask(testApp().app, alice, { title: 'Dated', due_date: '2025-08-08' });
    const response = await request('PATCH', task.id, { due_date: '' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().due_date, null);
  });

  test('when a PATCH sends only a blank title, then it may not be blank and nothing changes', async () => {
    const task = await createTask(testApp().app, alice, { title: 'Keep' });
    const before = await storedTasks(testApp().database);
    const response = await request('PATCH', task.id, { title: '   ' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { title: ['This field may not be blank.'] });
    assert.deepEqual(await storedTasks(testApp().database), before);
  });

  test('when a PATCH sends a blank description, then the description is cleared', async () => {
    const task = await createTask(testApp().app, alice, { title: 'Described', description: 'Something' });
    const response = await request('PATCH', task.id, { description: '' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().description, '');
  });

  test('when a task is deleted, then the reply is 204 with no body and the task is gone', async () => {
    const task = await createTask(testApp().app, alice);
    const response = await request('DELETE', task.id);
    assert.equal(response.statusCode, 204);
    assert.equal(response.body, '');
    assert.equal(response.headers['content-length'] ?? '0', '0');
    assert.equal(await rowOf(task.id), undefined);

    for (const method of ['GET', 'DELETE', 'PUT', 'PATCH'] as const) {
      const after = await request(method, task.id, method === 'PUT' || method === 'PATCH' ? { title: 'Back' } : undefined);
      assert.equal(after.statusCode, 404, method);
      assert.equal(after.body, NOT_FOUND, method);
    }
    assert.equal(await rowOf(task.id), undefined);
  });

  test('when a task is deleted, then the other tasks stay', async () => {
    const keep = await createTask(testApp().app, alice, { title: 'Keep' });
    const drop = await createTask(testApp().app, alice, { title: 'Drop' });
    assert.equal((await request('DELETE', drop.id)).statusCode, 204);
    assert.deepEqual((await request('GET', keep.id)).json(), keep);
  });
});

describe(`[${dialectName}] task ids that name no task`, () => {
  const testApp = sharedTestApp();
  let alice: TestUser;
  before(async () => {
    alice = await createUser(testApp().app);
    await createTask(testApp().app, alice, { title: 'Exists' });
  });

  const ids = [
    '0',
    '-1',
    '-0',
    'abc',
    '1.0',
    '1e3',
    '0x1',
    '999999',
    '2147483648',
    '9007199254740993',
    '9223372036854775807',
    '9223372036854775808',
    '18446744073709551616',
    '99999999999999999999999999999999',
    '%20',
    'null',
  ];
  for (const id of ids) {
    for (const method of ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'] as const) {
      test(`when ${method} is sent to /api/tasks/${id}/, then it is not found and nothing changes`, async () => {
        const { app, database } = testApp();
        const before = await storedTasks(database);
        const response = await app.inject({
          method,
          url: `/api/tasks/${id}/`,
          headers: alice.auth,
          payload: method === 'PUT' || method === 'PATCH' ? { title: 'Created by id?' } : undefined,
        });
        assert.equal(response.statusCode, 404);
        assert.equal(response.body, method === 'HEAD' ? '' : NOT_FOUND);
        assert.deepEqual(await storedTasks(database), before);
      });
    }
  }
});
