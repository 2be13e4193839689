import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createTask, createUser, dialectName, sharedTestApp, storedTasks, type TestUser } from '../helpers.js';

const NOT_FOUND = '{"detail":"Not found."}';

describe(`[${dialectName}] URLs and the trailing slash`, () => {
  const testApp = sharedTestApp();
  let alice: TestUser;
  before(async () => {
    alice = await createUser(testApp().app);
  });

  for (const method of ['GET', 'HEAD'] as const) {
    test(`when a ${method} misses the trailing slash of the task list, then it is redirected to the slashed URL`, async () => {
      const response = await testApp().app.inject({ method, url: '/api/tasks', headers: alice.auth });
      assert.equal(response.statusCode, 301);
      assert.equal(response.headers.location, '/api/tasks/');
    });
  }

  test('when a GET without the slash has a query string, then the redirect keeps it', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: '/api/tasks?completed=true&page=2', headers: alice.auth });
    assert.equal(response.statusCode, 301);
    assert.equal(response.headers.location, '/api/tasks/?completed=true&page=2');
  });

  test('when a GET without the slash names a task, then it is redirected before authentication', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: '/api/tasks/12' });
    assert.equal(response.statusCode, 301);
    assert.equal(response.headers.location, '/api/tasks/12/');
  });

  test('when a GET without the slash names the login URL, which exists for POST, then it is redirected', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: '/api/login' });
    assert.equal(response.statusCode, 301);
    assert.equal(response.headers.location, '/api/login/');
  });

  test('when a GET without the slash names no known URL, then it is not found in JSON', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: '/api/nothing-here', headers: alice.auth });
    assert.equal(response.statusCode, 404);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.equal(response.body, NOT_FOUND);
  });

  for (const url of ['/api/nothing-here/', '/api/', '/api/tasks/1/extra/', '/static/app.js', '/api/tasks/1/2/']) {
    test(`when ${url} is requested, then it is not found in JSON`, async () => {
      const response = await testApp().app.inject({ method: 'GET', url, headers: alice.auth });
      assert.equal(response.statusCode, 404);
      assert.match(String(response.headers['content-type']), /^application\/json/);
      assert.equal(response.body, NOT_FOUND);
    });
  }

  test('when an unknown URL is posted to without a token, then it is not found rather than unauthorized', async () => {
    const response = await testApp().app.inject({ method: 'POST', url: '/api/unknown/', payload: { title: 'x' } });
    assert.equal(response.statusCode, 404);
    assert.equal(response.body, NOT_FOUND);
  });

  test('when a task is POSTed without the trailing slash, then it is created as if the slash were there', async () => {
    const response = await testApp().app.inject({ method: 'POST', url: '/api/tasks', headers: alice.auth, payload: { title: 'No slash' } });
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, 'No slash');
    assert.equal(response.json().owner, alice.id);
  });

  test('when a task is PUT without the trailing slash, then it is updated', async () => {
    const task = await createTask(testApp().app, alice);
    const response = await testApp().app.inject({
      method: 'PUT',
      url: `/api/tasks/${task.id}`,
      headers: alice.auth,
      payload: { title: 'Put without slash' },
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().title, 'Put without slash');
  });

  test('when a task is PATCHed without the trailing slash, then it is updated', async () => {
    const task = await createTask(testApp().app, alice);
    const response = await testApp().app.inject({
      method: 'PATCH',
      url: `/api/tasks/${task.id}`,
      headers: alice.auth,
      payload: { completed: true },
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().completed, true);
  });

  test('when a task is DELETEd without the trailing slash, then it is deleted', async () => {
    const { app, database } = testApp();
    const task = await createTask(app, alice);
    const response = await app.inject({ method: 'DELETE', url: `/api/tasks/${task.id}`, headers: alice.auth });
    assert.equal(response.statusCode, 204);
    assert.equal(response.body, '');
    assert.equal((await storedTasks(database)).some((row) => row.id === task.id), false);
  });

  test('when someone registers without the trailing slash, then the account is created', async () => {
    const response = await testApp().app.inject({
      method: 'POST',
      url: '/api/register',
      payload: { username: 'noslash_user', password: 'a long enough passphrase' },
    });
    assert.equal(response.statusCode, 201);
    assert.equal(response.body, '{"message":"User created successfully"}');
  });
});

describe(`[${dialectName}] the root URL`, () => {
  const testApp = sharedTestApp();

  test('when the root URL is opened without a token, then a JSON welcome links to the API', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: '/' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    const body = response.json();
    assert.equal(typeof body, 'object');
    assert.notEqual(body, null);
    assert.equal(Array.isArray(body), false);
    for (const path of ['/api/tasks/', '/api/login/', '/api/register/']) {
      assert.ok(response.body.includes(path), `the welcome links to ${path}: ${response.body}`);
    }
  });
});
