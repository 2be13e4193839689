import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, createTask, createUser, dialectName } from '../helpers.js';

test(`[${dialectName}] a user creates a task and reads it back`, async (t) => {
  const { app } = await buildTestApp(t);
  const user = await createUser(app);
  const task = await createTask(app, user, { title: 'New Task', due_date: '2025-03-30' });
  const response = await app.inject({ method: 'GET', url: `/api/tasks/${task.id}/`, headers: user.auth });
  assert.equal(response.statusCode, 200);
  assert.deepEqual(response.json(), task);
  assert.equal(task.due_date, '2025-03-30');
  assert.equal(task.completed, false);
  assert.match(task.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
});
