import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { createTask, createUser, dialectName, sharedTestApp, storedTasks, type TestUser } from '../helpers.js';

/**
 * The original project's own six API tests, ported: a user with a token and one task, then
 * list, create, full update, partial update, delete, and a request without credentials.
 */
describe(`[${dialectName}] the original project's task API tests`, () => {
  const testApp = sharedTestApp();
  let user: TestUser;
  let task: { id: number; title: string; description: string; due_date: string | null; completed: boolean };

  beforeEach(async () => {
    user = await createUser(testApp().app);
    task = await createTask(testApp().app, user, { title: 'Test Task', description: 'Test Description', due_date: '2025-03-30' });
  });

  test('test_get_tasks: the owner lists their one task', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().length, 1);
    assert.equal(response.json()[0].title, 'Test Task');
  });

  test('test_create_task: a new task is created for the owner', async () => {
    const response = await testApp().app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: user.auth,
      payload: { title: 'New Task', description: 'Do something important', due_date: '2025-03-30', completed: false },
    });
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, 'New Task');
    assert.equal(response.json().owner, user.id);
    const mine = (await storedTasks(testApp().database)).filter((row) => row.owner_id === user.id);
    assert.equal(mine.length, 2);
  });

  test('test_update_task: a full update replaces the fields', async () => {
    const response = await testApp().app.inject({
      method: 'PUT',
      url: `/api/tasks/${task.id}/`,
      headers: user.auth,
      payload: { title: 'Updated Task', description: 'Updated Description', due_date: '2025-04-01', completed: true },
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().title, 'Updated Task');
    assert.equal(response.json().completed, true);
    const row = (await storedTasks(testApp().database)).find((stored) => stored.id === task.id)!;
    assert.equal(row.title, 'Updated Task');
    assert.equal(row.description, 'Updated Description');
    assert.equal(row.due_date, '2025-04-01');
  });

  test('test_partial_update_task: a partial update changes only the given field', async () => {
    const response = await testApp().app.inject({
      method: 'PATCH',
      url: `/api/tasks/${task.id}/`,
      headers: user.auth,
      payload: { completed: true },
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().completed, true);
    assert.equal(response.json().title, 'Test Task');
    const row = (await storedTasks(testApp().database)).find((stored) => stored.id === task.id)!;
    assert.equal(Boolean(row.completed), true);
    assert.equal(row.title, 'Test Task');
  });

  test('test_delete_task: the task is deleted', async () => {
    const response = await testApp().app.inject({ method: 'DELETE', url: `/api/tasks/${task.id}/`, headers: user.auth });
    assert.equal(response.statusCode, 204);
    assert.equal((await storedTasks(testApp().database)).some((row) => row.id === task.id), false);
  });

  test('test_unauthenticated_access: without credentials the list is refused', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: '/api/tasks/' });
    assert.equal(response.statusCode, 401);
    assert.deepEqual(response.json(), { detail: 'Authentication credentials were not provided.' });
  });
});
