import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createTask, createUser, dialectName, sharedAppWithTask, sharedTestApp, storedTasks, type TestUser } from '../helpers.js';

const LIST_ALLOW = 'GET, POST, HEAD, OPTIONS';
const DETAIL_ALLOW = 'GET, PUT, PATCH, DELETE, HEAD, OPTIONS';
const ACCOUNT_ALLOW = 'POST, OPTIONS';

describe(`[${dialectName}] methods a URL does not support`, () => {
  const testApp = sharedTestApp();
  let alice: TestUser;
  let bob: TestUser;
  let aliceTaskId: number;
  before(async () => {
    alice = await createUser(testApp().app);
    bob = await createUser(testApp().app);
    aliceTaskId = (await createTask(testApp().app, alice)).id;
  });

  const cases: { url: () => string; method: 'PUT' | 'PATCH' | 'DELETE' | 'POST' | 'GET' | 'HEAD'; allow: string; auth: boolean }[] = [
    { url: () => '/api/tasks/', method: 'PUT', allow: LIST_ALLOW, auth: true },
    { url: () => '/api/tasks/', method: 'PATCH', allow: LIST_ALLOW, auth: true },
    { url: () => '/api/tasks/', method: 'DELETE', allow: LIST_ALLOW, auth: true },
    { url: () => `/api/tasks/${aliceTaskId}/`, method: 'POST', allow: DETAIL_ALLOW, auth: true },
    { url: () => '/api/register/', method: 'GET', allow: ACCOUNT_ALLOW, auth: false },
    { url: () => '/api/register/', method: 'PUT', allow: ACCOUNT_ALLOW, auth: false },
    { url: () => '/api/register/', method: 'PATCH', allow: ACCOUNT_ALLOW, auth: false },
    { url: () => '/api/register/', method: 'DELETE', allow: ACCOUNT_ALLOW, auth: false },
    { url: () => '/api/login/', method: 'GET', allow: ACCOUNT_ALLOW, auth: false },
    { url: () => '/api/login/', method: 'PUT', allow: ACCOUNT_ALLOW, auth: false },
    { url: () => '/api/login/', method: 'PATCH', allow: ACCOUNT_ALLOW, auth: false },
    { url: () => '/api/login/', method: 'DELETE', allow: ACCOUNT_ALLOW, auth: false },
  ];
  for (const { url, method, allow, auth } of cases) {
    test(`when ${method} is sent to ${url().replace(/\/tasks\/[^/]+\//, '/tasks/<id>/')}, then it is 405 with Allow: ${allow}`, async () => {
      const response = await testApp().app.inject({ method, url: url(), headers: auth ? alice.auth : {}, payload: method === 'GET' ? undefined : { title: 'x' } });
      assert.equal(response.statusCode, 405);
      assert.equal(response.headers.allow, allow);
      assert.equal(response.body, `{"detail":"Method \\"${method}\\" not allowed."}`);
    });
  }

  for (const url of ['/api/register/', '/api/login/']) {
    test(`when HEAD is sent to ${url}, then it is 405 with Allow: ${ACCOUNT_ALLOW} and no body`, async () => {
      const response = await testApp().app.inject({ method: 'HEAD', url });
      assert.equal(response.statusCode, 405);
      assert.equal(response.headers.allow, ACCOUNT_ALLOW);
      assert.equal(response.body, '');
    });
  }

  test('when POST is sent to another user\'s task, then the method is refused before any lookup and nothing changes', async () => {
    const { app, database } = testApp();
    const before = await storedTasks(database);
    const response = await app.inject({ method: 'POST', url: `/api/tasks/${aliceTaskId}/`, headers: bob.auth, payload: { title: 'Mine now' } });
    assert.equal(response.statusCode, 405);
    assert.equal(response.headers.allow, DETAIL_ALLOW);
    assert.deepEqual(response.json(), { detail: 'Method "POST" not allowed.' });
    assert.deepEqual(await storedTasks(database), before);
  });

  test('when PUT is sent to the task list without a token, then authentication comes first', async () => {
    const response = await testApp().app.inject({ method: 'PUT', url: '/api/tasks/', payload: { title: 'x' } });
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['www-authenticate'], 'Token');
    assert.deepEqual(response.json(), { detail: 'Authentication credentials were not provided.' });
    assert.equal(response.headers.allow, undefined);
  });

  test('when PUT is sent to the task list with a malformed body, then it is still 405', async () => {
    const response = await testApp().app.inject({
      method: 'PUT',
      url: '/api/tasks/',
      headers: { ...alice.auth, 'content-type': 'application/json' },
      payload: '{broken',
    });
    assert.equal(response.statusCode, 405);
    assert.equal(response.headers.allow, LIST_ALLOW);
  });
});

describe(`[${dialectName}] OPTIONS describes an endpoint`, () => {
  const testApp = sharedAppWithTask();

  const described: { name: string; url: () => string; auth: boolean }[] = [
    { name: '/api/tasks/', url: () => '/api/tasks/', auth: true },
    { name: '/api/tasks/<id>/', url: () => `/api/tasks/${testApp().taskId}/`, auth: true },
    { name: '/api/register/', url: () => '/api/register/', auth: false },
    { name: '/api/login/', url: () => '/api/login/', auth: false },
  ];
  for (const { name, url, auth } of described) {
    test(`when OPTIONS is sent to ${name}, then it answers 200 with a JSON description`, async () => {
      const response = await testApp().app.inject({ method: 'OPTIONS', url: url(), headers: auth ? testApp().alice.auth : {} });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^application\/json/);
      const body = response.json();
      assert.equal(typeof body, 'object');
      assert.equal(Array.isArray(body), false);
      assert.ok(Object.keys(body).length > 0);
    });
  }

  test('when OPTIONS without a preflight header is sent to the task list without a token, then it is 401', async () => {
    const response = await testApp().app.inject({ method: 'OPTIONS', url: '/api/tasks/' });
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['www-authenticate'], 'Token');
    assert.deepEqual(response.json(), { detail: 'Authentication credentials were not provided.' });
  });
});
