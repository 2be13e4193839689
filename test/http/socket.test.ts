import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { before, describe, test } from 'node:test';
import { PASSWORD, dialectName, sharedTestApp, uniqueUsername } from '../helpers.js';

/** A few requests over a real socket, so headers, redirects and bodies are seen as a client sees them. */
describe(`[${dialectName}] over a real socket`, () => {
  const testApp = sharedTestApp();
  let base: string;
  before(async () => {
    await testApp().app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(testApp().app.server.address() as AddressInfo).port}`;
  });

  test('when a user signs up, logs in, creates, reads, updates and deletes a task, then each step answers as the contract says', async () => {
    const username = uniqueUsername('socket');
    const register = await fetch(`${base}/api/register/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: PASSWORD, password_2: PASSWORD, email: '' }),
    });
    assert.equal(register.status, 201);
    assert.equal(await register.text(), '{"message":"User created successfully"}');

    const login = await fetch(`${base}/api/login/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username, password: PASSWORD }),
    });
    assert.equal(login.status, 200);
    const { token } = (await login.json()) as { token: string };
    const auth = { authorization: `Token ${token}` };

    const created = await fetch(`${base}/api/tasks/`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ title: 'Über socket 🚀', description: 'Over the wire', due_date: '' }),
    });
    assert.equal(created.status, 201);
    assert.match(created.headers.get('content-type') ?? '', /^application\/json/);
    const createdText = await created.text();
    assert.ok(createdText.includes('"title":"Über socket 🚀"'), createdText);
    const task = JSON.parse(createdText);
    assert.equal(task.due_date, null);
    assert.equal(task.completed, false);

    const read = await fetch(`${base}/api/tasks/${task.id}/`, { headers: auth });
    assert.equal(read.status, 200);
    assert.deepEqual(await read.json(), task);

    const patched = await fetch(`${base}/api/tasks/${task.id}`, {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ completed: 'yes' }),
    });
    assert.equal(patched.status, 200);
    assert.equal(((await patched.json()) as { completed: boolean }).completed, true);

    const list = await fetch(`${base}/api/tasks/`, { headers: auth });
    assert.equal(list.status, 200);
    assert.deepEqual(((await list.json()) as { id: number }[]).map((item) => item.id), [task.id]);

    const deleted = await fetch(`${base}/api/tasks/${task.id}/`, { method: 'DELETE', headers: auth });
    assert.equal(deleted.status, 204);
    assert.equal(await deleted.text(), '');

    const gone = await fetch(`${base}/api/tasks/${task.id}/`, { headers: auth });
    assert.equal(gone.status, 404);
    assert.equal(await gone.text(), '{"detail":"Not found."}');
  });

  test('when a GET misses the trailing slash, then the client sees a 301 to the slashed URL with the query kept', async () => {
    const response = await fetch(`${base}/api/tasks?x=1&y=2`, { redirect: 'manual' });
    assert.equal(response.status, 301);
    assert.equal(new URL(response.headers.get('location')!, base).href, `${base}/api/tasks/?x=1&y=2`);
    assert.match(response.headers.get('vary') ?? '', /origin/i);
  });

  test('when a client follows the redirect without a token, then it ends at 401 with WWW-Authenticate', async () => {
    const response = await fetch(`${base}/api/tasks`);
    assert.equal(response.status, 401);
    assert.equal(response.url, `${base}/api/tasks/`);
    assert.equal(response.headers.get('www-authenticate'), 'Token');
    assert.deepEqual(await response.json(), { detail: 'Authentication credentials were not provided.' });
  });

  test('when a browser preflight arrives, then it is answered with the CORS headers and an empty body', async () => {
    const response = await fetch(`${base}/api/tasks/1/`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), '');
    assert.equal(response.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.equal(response.headers.get('access-control-allow-methods'), 'DELETE, GET, OPTIONS, PATCH, POST, PUT');
    assert.equal(response.headers.get('access-control-max-age'), '86400');
  });

  test('when a body over 1 MiB is streamed, then the client gets 413', async () => {
    const response = await fetch(`${base}/api/register/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'big', password: 'x'.repeat(1024 * 1024 + 1) }),
    });
    assert.equal(response.status, 413);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  });
});
