import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { before, describe, test } from 'node:test';
import { PASSWORD, dialectName, sharedTestApp, uniqueUsername } from '../helpers.js';
import { exchange, replies } from './raw.js';

/** The multipart body of the reported crash: a file part that ends before its boundary. */
const TRUNCATED_FILE_PART = '--X\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nabc';

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

  test('when the reported multipart body that ends inside a file part arrives, then it gets 400 and the server keeps serving', async () => {
    const { port } = new URL(base);
    const request =
      `POST /api/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=X\r\n` +
      `Content-Length: ${TRUNCATED_FILE_PART.length}\r\nConnection: close\r\n\r\n${TRUNCATED_FILE_PART}`;
    const [reply, ...more] = replies(await exchange(Number(port), request));
    assert.equal(reply!.status, 'HTTP/1.1 400 Bad Request');
    assert.match(JSON.parse(reply!.body).detail, /^Multipart form parse error - ./);
    assert.deepEqual(more, []);
    assert.equal((await fetch(`${base}/`)).status, 200);
  });

  test('when the same body arrives chunked, or followed on the connection by another request, then each request is answered', async () => {
    const port = Number(new URL(base).port);
    const chunked =
      `POST /api/register/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=X\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `${TRUNCATED_FILE_PART.length.toString(16)}\r\n${TRUNCATED_FILE_PART}\r\n0\r\n\r\n` +
      `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
    const answered = replies(await exchange(port, chunked));
    assert.deepEqual(
      answered.map((reply) => reply.status),
      ['HTTP/1.1 400 Bad Request', 'HTTP/1.1 200 OK'],
    );
    assert.match(JSON.parse(answered[0]!.body).detail, /^Multipart form parse error - ./);
  });

  test('when a client gives up halfway through a multipart upload, then the server keeps serving', async () => {
    const port = Number(new URL(base).port);
    const partial =
      `POST /api/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=X\r\n` +
      `Content-Length: 100000\r\n\r\n${TRUNCATED_FILE_PART}`;
    for (let attempt = 0; attempt < 5; attempt++) await exchange(port, partial, { abort: true });
    const root = await fetch(`${base}/`);
    assert.equal(root.status, 200);
  });
});
