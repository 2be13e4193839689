import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createTask, createUser, dialectName, sharedAppWithTask, sharedTestApp, storedTasks, type TestUser } from '../helpers.js';

const NOT_PROVIDED = 'Authentication credentials were not provided.';
const NO_CREDENTIALS = 'Invalid token header. No credentials provided.';
const HAS_SPACES = 'Invalid token header. Token string should not contain spaces.';
const INVALID_TOKEN = 'Invalid token.';
const UNKNOWN_KEY = '0123456789abcdef0123456789abcdef01234567';

function assertUnauthorized(response: LightMyRequestResponse, message: string): void {
  assert.equal(response.statusCode, 401);
  assert.equal(response.headers['www-authenticate'], 'Token');
  assert.match(String(response.headers['content-type']), /^application\/json/);
  assert.equal(response.body, JSON.stringify({ detail: message }));
}

describe(`[${dialectName}] the Authorization header`, () => {
  const testApp = sharedTestApp();
  let alice: TestUser;
  let aliceTask: Record<string, unknown>;
  before(async () => {
    alice = await createUser(testApp().app);
    aliceTask = await createTask(testApp().app, alice, { title: "Alice's task" });
  });

  const listWith = (headers: Record<string, string>) => testApp().app.inject({ method: 'GET', url: '/api/tasks/', headers });

  test('when there is no Authorization header, then credentials were not provided', async () => {
    assertUnauthorized(await listWith({}), NOT_PROVIDED);
  });

  test('when the Authorization header is empty, then credentials were not provided', async () => {
    assertUnauthorized(await listWith({ authorization: '' }), NOT_PROVIDED);
  });

  test('when the Basic scheme is used, then credentials were not provided', async () => {
    assertUnauthorized(await listWith({ authorization: `Basic ${Buffer.from(`${alice.username}:${alice.password}`).toString('base64')}` }), NOT_PROVIDED);
  });

  test('when the valid key is sent without a keyword, then credentials were not provided', async () => {
    assertUnauthorized(await listWith({ authorization: alice.token }), NOT_PROVIDED);
  });

  test('when "Token" comes alone, then the header has no credentials', async () => {
    assertUnauthorized(await listWith({ authorization: 'Token' }), NO_CREDENTIALS);
  });

  test('when "Token " has only trailing spaces, then the header has no credentials', async () => {
    assertUnauthorized(await listWith({ authorization: 'Token   ' }), NO_CREDENTIALS);
  });

  test('when the key contains a space, then the header is refused for its spaces', async () => {
    assertUnauthorized(await listWith({ authorization: `Token ${alice.token.slice(0, 20)} ${alice.token.slice(20)}` }), HAS_SPACES);
  });

  test('when the valid key is followed by another word, then the header is refused for its spaces', async () => {
    assertUnauthorized(await listWith({ authorization: `Token ${alice.token} extra` }), HAS_SPACES);
  });

  test('when the key is unknown, then the token is invalid', async () => {
    assertUnauthorized(await listWith({ authorization: `Token ${UNKNOWN_KEY}` }), INVALID_TOKEN);
  });

  test('when the key is a prefix of a valid key, then the token is invalid', async () => {
    assertUnauthorized(await listWith({ authorization: `Token ${alice.token.slice(0, 39)}` }), INVALID_TOKEN);
  });

  test('when the key is sent in upper case, then the token is invalid', async () => {
    assertUnauthorized(await listWith({ authorization: `Token ${alice.token.toUpperCase()}` }), INVALID_TOKEN);
  });

  for (const keyword of ['Token', 'token', 'TOKEN']) {
    test(`when the keyword is "${keyword}" with a valid key, then the caller's tasks are listed`, async () => {
      const response = await listWith({ authorization: `${keyword} ${alice.token}` });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), [aliceTask]);
    });
  }

  test('when Bearer carries a valid key, then it works as Token does', async () => {
    const response = await listWith({ authorization: `Bearer ${alice.token}` });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), [aliceTask]);
  });

  test('when Bearer carries an unknown key, then the token is invalid', async () => {
    assertUnauthorized(await listWith({ authorization: `Bearer ${UNKNOWN_KEY}` }), INVALID_TOKEN);
  });

  test('when "Bearer" comes alone, then the header has no credentials', async () => {
    assertUnauthorized(await listWith({ authorization: 'Bearer' }), NO_CREDENTIALS);
  });

  test('the login key is 40 lowercase hex characters, like the original\'s', () => {
    assert.match(alice.token, /^[0-9a-f]{40}$/);
  });
});

describe(`[${dialectName}] every authenticated endpoint refuses anonymous callers`, () => {
  const testApp = sharedAppWithTask();

  const requests: { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD'; detail: boolean }[] = [
    { method: 'GET', detail: false },
    { method: 'HEAD', detail: false },
    { method: 'POST', detail: false },
    { method: 'GET', detail: true },
    { method: 'HEAD', detail: true },
    { method: 'PUT', detail: true },
    { method: 'PATCH', detail: true },
    { method: 'DELETE', detail: true },
  ];
  for (const { method, detail } of requests) {
    const label = detail ? '/api/tasks/<id>/' : '/api/tasks/';
    test(`when ${method} ${label} comes without a token, then it is 401 with WWW-Authenticate and nothing changes`, async () => {
      const { app, database } = testApp();
      const before = await storedTasks(database);
      const response = await app.inject({
        method,
        url: detail ? `/api/tasks/${testApp().taskId}/` : '/api/tasks/',
        payload: ['POST', 'PUT', 'PATCH'].includes(method) ? { title: 'Anonymous' } : undefined,
      });
      assert.equal(response.statusCode, 401);
      assert.equal(response.headers['www-authenticate'], 'Token');
      if (method !== 'HEAD') assert.deepEqual(response.json(), { detail: NOT_PROVIDED });
      assert.deepEqual(await storedTasks(database), before);
    });
  }

  test('when a missing task id is asked for without a token, then it is 401, not 404', async () => {
    assertUnauthorized(await testApp().app.inject({ method: 'GET', url: '/api/tasks/999999/' }), NOT_PROVIDED);
  });

  test('when a non-numeric task id is asked for with an unknown token, then it is 401, not 404', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: '/api/tasks/abc/', headers: { authorization: `Token ${UNKNOWN_KEY}` } });
    assertUnauthorized(response, INVALID_TOKEN);
  });
});

describe(`[${dialectName}] one user's token never reaches another user's tasks`, () => {
  const testApp = sharedTestApp();
  let alice: TestUser;
  let bob: TestUser;
  let aliceTask: Record<string, unknown> & { id: number };
  before(async () => {
    alice = await createUser(testApp().app);
    bob = await createUser(testApp().app);
    aliceTask = await createTask(testApp().app, alice, { title: 'Private', description: 'Only Alice', due_date: '2025-05-05' });
  });

  test("when Bob lists tasks, then Alice's task is not among them", async () => {
    const bobTask = await createTask(testApp().app, bob, { title: "Bob's" });
    const response = await testApp().app.inject({ method: 'GET', url: '/api/tasks/', headers: bob.auth });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), [bobTask]);
  });

  for (const method of ['GET', 'PUT', 'PATCH', 'DELETE'] as const) {
    test(`when Bob sends ${method} to Alice's task, then it is not found and nothing changes`, async () => {
      const { app, database } = testApp();
      const before = await storedTasks(database);
      const response = await app.inject({
        method,
        url: `/api/tasks/${aliceTask.id}/`,
        headers: bob.auth,
        payload: method === 'PUT' || method === 'PATCH' ? { title: 'Taken over', completed: true } : undefined,
      });
      assert.equal(response.statusCode, 404);
      assert.equal(response.body, '{"detail":"Not found."}');
      assert.deepEqual(await storedTasks(database), before);
    });
  }

  test("when Bob sends HEAD to Alice's task, then it is not found", async () => {
    const response = await testApp().app.inject({ method: 'HEAD', url: `/api/tasks/${aliceTask.id}/`, headers: bob.auth });
    assert.equal(response.statusCode, 404);
    assert.equal(response.body, '');
  });

  test("when Bob creates a task naming Alice as owner, then the task is Bob's", async () => {
    const response = await testApp().app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: bob.auth,
      payload: { title: 'Sneaky', owner: alice.id },
    });
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().owner, bob.id);
    const aliceList = await testApp().app.inject({ method: 'GET', url: '/api/tasks/', headers: alice.auth });
    assert.deepEqual(aliceList.json(), [aliceTask]);
  });
});
