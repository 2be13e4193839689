import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createTask, createUser, dialectName, formBody, sharedTestApp, storedTasks, type TestUser } from '../helpers.js';

/**
 * The contract's order of outcomes: preflight, routing, 401, 405, the lookup scoped to the
 * caller (404), body parsing (400/415), validation (400).
 */

const NOT_FOUND = '{"detail":"Not found."}';

interface Body {
  label: string;
  headers: Record<string, string>;
  payload: string;
}

const BODIES: Body[] = [
  { label: 'a malformed JSON body', headers: { 'content-type': 'application/json' }, payload: '{"title": ' },
  { label: 'a text/plain body', headers: { 'content-type': 'text/plain' }, payload: 'title=Mine now' },
  { label: 'a JSON list body', headers: { 'content-type': 'application/json' }, payload: '[1, 2]' },
  { label: 'a JSON null body', headers: { 'content-type': 'application/json' }, payload: 'null' },
  { label: 'an invalid body', headers: { 'content-type': 'application/json' }, payload: '{"title":"","completed":"maybe","due_date":"2025-02-30"}' },
  { label: 'a body without a title', headers: { 'content-type': 'application/json' }, payload: '{"description":"x"}' },
  { label: 'a valid body', headers: { 'content-type': 'application/json' }, payload: '{"title":"Mine now","completed":true,"due_date":null}' },
  { label: 'a valid form body', ...formBody({ title: 'Mine now', completed: 'on' }) },
  { label: 'an empty JSON body', headers: { 'content-type': 'application/json' }, payload: '' },
];

describe(`[${dialectName}] another user's task: always 404, whatever the body`, () => {
  const testApp = sharedTestApp();
  let alice: TestUser;
  let bob: TestUser;
  let aliceTaskId: number;
  before(async () => {
    alice = await createUser(testApp().app);
    bob = await createUser(testApp().app);
    aliceTaskId = (await createTask(testApp().app, alice, { title: "Alice's", description: 'private', due_date: '2025-03-30' })).id;
  });

  for (const method of ['PUT', 'PATCH', 'DELETE', 'GET'] as const) {
    for (const body of BODIES) {
      test(`when another user ${method}s my task with ${body.label}, then it is not found and nothing changes`, async () => {
        const { app, database } = testApp();
        const before = await storedTasks(database);
        const response = await app.inject({
          method,
          url: `/api/tasks/${aliceTaskId}/`,
          headers: { ...bob.auth, ...body.headers },
          payload: body.payload,
        });
        assert.equal(response.statusCode, 404);
        assert.equal(response.body, NOT_FOUND);
        assert.deepEqual(await storedTasks(database), before);
      });
    }
  }

  for (const body of BODIES) {
    test(`when a task id that does not exist is PATCHed with ${body.label}, then it is not found`, async () => {
      const { app, database } = testApp();
      const before = await storedTasks(database);
      const response = await app.inject({ method: 'PATCH', url: '/api/tasks/424242/', headers: { ...bob.auth, ...body.headers }, payload: body.payload });
      assert.equal(response.statusCode, 404);
      assert.equal(response.body, NOT_FOUND);
      assert.deepEqual(await storedTasks(database), before);
    });

    test(`when a non-numeric task id is PUT with ${body.label}, then it is not found`, async () => {
      const response = await testApp().app.inject({ method: 'PUT', url: '/api/tasks/abc/', headers: { ...bob.auth, ...body.headers }, payload: body.payload });
      assert.equal(response.statusCode, 404);
      assert.equal(response.body, NOT_FOUND);
    });
  }
});

describe(`[${dialectName}] earlier outcomes win over later ones`, () => {
  const testApp = sharedTestApp();
  let alice: TestUser;
  let aliceTaskId: number;
  before(async () => {
    alice = await createUser(testApp().app);
    aliceTaskId = (await createTask(testApp().app, alice)).id;
  });

  test('when a preflight goes to an unknown URL, then the preflight answers before routing', async () => {
    const response = await testApp().app.inject({
      method: 'OPTIONS',
      url: '/api/does-not-exist/',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'GET' },
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, '');
  });

  test('when a preflight goes to a task without a token, then the preflight answers before authentication', async () => {
    const response = await testApp().app.inject({
      method: 'OPTIONS',
      url: `/api/tasks/${aliceTaskId}/`,
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'DELETE' },
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, '');
  });

  test('when an unknown URL is asked for with an invalid token, then it is not found before authentication', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: '/api/elsewhere/', headers: { authorization: 'Token nope' } });
    assert.equal(response.statusCode, 404);
    assert.equal(response.body, NOT_FOUND);
  });

  test('when the task list is asked for without its slash and without a token, then the redirect comes before authentication', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: '/api/tasks' });
    assert.equal(response.statusCode, 301);
    assert.equal(response.headers.location, '/api/tasks/');
  });

  test('when a refused method comes without a token, then it is 401 before 405', async () => {
    const response = await testApp().app.inject({ method: 'POST', url: `/api/tasks/${aliceTaskId}/`, payload: { title: 'x' } });
    assert.equal(response.statusCode, 401);
    assert.equal(response.headers['www-authenticate'], 'Token');
    assert.equal(response.headers.allow, undefined);
  });

  test('when a malformed body comes without a token, then it is 401 before 400', async () => {
    const response = await testApp().app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: { 'content-type': 'application/json' },
      payload: '{oops',
    });
    assert.equal(response.statusCode, 401);
    assert.deepEqual(response.json(), { detail: 'Authentication credentials were not provided.' });
  });

  test('when a text/plain body comes with an unknown token, then it is 401 before 415', async () => {
    const response = await testApp().app.inject({
      method: 'PATCH',
      url: `/api/tasks/${aliceTaskId}/`,
      headers: { authorization: 'Token 0000000000000000000000000000000000000000', 'content-type': 'text/plain' },
      payload: 'hello',
    });
    assert.equal(response.statusCode, 401);
    assert.deepEqual(response.json(), { detail: 'Invalid token.' });
  });

  test('when my task is PATCHed with malformed JSON, then it is a parse error and nothing changes', async () => {
    const { app, database } = testApp();
    const before = await storedTasks(database);
    const response = await app.inject({
      method: 'PATCH',
      url: `/api/tasks/${aliceTaskId}/`,
      headers: { ...alice.auth, 'content-type': 'application/json' },
      payload: '{"title": "x",}',
    });
    assert.equal(response.statusCode, 400);
    assert.match(response.json().detail, /^JSON parse error - /);
    assert.deepEqual(await storedTasks(database), before);
  });

  test('when my task is PUT with a text/plain body, then it is 415 and nothing changes', async () => {
    const { app, database } = testApp();
    const before = await storedTasks(database);
    const response = await app.inject({
      method: 'PUT',
      url: `/api/tasks/${aliceTaskId}/`,
      headers: { ...alice.auth, 'content-type': 'text/plain' },
      payload: 'title=New',
    });
    assert.equal(response.statusCode, 415);
    assert.deepEqual(response.json(), { detail: 'Unsupported media type "text/plain" in request.' });
    assert.deepEqual(await storedTasks(database), before);
  });

  test('when a task is created with a text/plain body, then it is 415 rather than a missing title', async () => {
    const response = await testApp().app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: { ...alice.auth, 'content-type': 'text/plain' },
      payload: 'no title here',
    });
    assert.equal(response.statusCode, 415);
    assert.deepEqual(response.json(), { detail: 'Unsupported media type "text/plain" in request.' });
  });

  test('when a task is created with malformed JSON, then it is a parse error rather than a missing title', async () => {
    const response = await testApp().app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: { ...alice.auth, 'content-type': 'application/json' },
      payload: '{"description": }',
    });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(Object.keys(response.json()), ['detail']);
    assert.match(response.json().detail, /^JSON parse error - /);
  });

  test('when my task is PATCHed with an invalid body, then it is a validation error and nothing changes', async () => {
    const { app, database } = testApp();
    const before = await storedTasks(database);
    const response = await app.inject({ method: 'PATCH', url: `/api/tasks/${aliceTaskId}/`, headers: alice.auth, payload: { completed: 'maybe' } });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { completed: ['Must be a valid boolean.'] });
    assert.deepEqual(await storedTasks(database), before);
  });
});
