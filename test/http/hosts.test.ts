import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTestApp, createTask, createUser, dialectName, storedTasks } from '../helpers.js';

const REFUSED = { statusCode: 400, body: { detail: 'Invalid host header.' } };

function reply(response: { statusCode: number; json(): unknown }) {
  return { statusCode: response.statusCode, body: response.json() };
}

describe(`[${dialectName}] allowed hosts`, () => {
  test('when the default hosts are used, then localhost, 127.0.0.1 and [::1] are served with or without a port', async (t) => {
    const { app } = await buildTestApp(t);
    for (const host of ['localhost', 'localhost:8000', '127.0.0.1', '127.0.0.1:8000', '[::1]', '[::1]:8000', 'LOCALHOST:8000']) {
      const response = await app.inject({ method: 'GET', url: '/', headers: { host } });
      assert.equal(response.statusCode, 200, `Host: ${host}`);
    }
  });

  test('when the default hosts are used, then another host is refused with 400', async (t) => {
    const { app } = await buildTestApp(t);
    for (const host of ['example.com', 'localhost.example.com', '[::2]:8000', '127.0.0.2']) {
      const response = await app.inject({ method: 'GET', url: '/', headers: { host } });
      assert.deepEqual(reply(response), REFUSED, `Host: ${host}`);
    }
  });

  test('when ALLOWED_HOSTS names a host, then it is served with any port and in any case', async (t) => {
    const { app } = await buildTestApp(t, { env: { ALLOWED_HOSTS: 'api.example.com' } });
    for (const host of ['api.example.com', 'api.example.com:8443', 'API.Example.COM']) {
      const response = await app.inject({ method: 'GET', url: '/', headers: { host } });
      assert.equal(response.statusCode, 200, `Host: ${host}`);
      assert.equal(response.json().links.tasks, `http://${host}/api/tasks/`);
    }
  });

  test('when ALLOWED_HOSTS names a host, then its subdomains, look-alikes and localhost are refused', async (t) => {
    const { app } = await buildTestApp(t, { env: { ALLOWED_HOSTS: 'api.example.com' } });
    for (const host of ['www.api.example.com', 'example.com', 'api.example.com.evil.net', 'evilapi.example.com', 'localhost']) {
      const response = await app.inject({ method: 'GET', url: '/', headers: { host } });
      assert.deepEqual(reply(response), REFUSED, `Host: ${host}`);
    }
  });

  test('when ALLOWED_HOSTS names an IPv6 literal, then it is served with and without a port', async (t) => {
    const { app } = await buildTestApp(t, { env: { ALLOWED_HOSTS: '[2001:db8::1]' } });
    for (const host of ['[2001:db8::1]', '[2001:db8::1]:8000']) {
      const response = await app.inject({ method: 'GET', url: '/', headers: { host } });
      assert.equal(response.statusCode, 200, `Host: ${host}`);
    }
    const other = await app.inject({ method: 'GET', url: '/', headers: { host: '[2001:db8::2]:8000' } });
    assert.deepEqual(reply(other), REFUSED);
  });

  test('when ALLOWED_HOSTS has .example.com, then example.com and every subdomain are served, and look-alikes are not', async (t) => {
    const { app } = await buildTestApp(t, { env: { ALLOWED_HOSTS: '.example.com' } });
    for (const host of ['example.com', 'example.com:80', 'api.example.com', 'a.b.example.com:8443']) {
      const response = await app.inject({ method: 'GET', url: '/', headers: { host } });
      assert.equal(response.statusCode, 200, `Host: ${host}`);
    }
    for (const host of ['notexample.com', 'example.com.evil.net', 'example.org', 'localhost']) {
      const response = await app.inject({ method: 'GET', url: '/', headers: { host } });
      assert.deepEqual(reply(response), REFUSED, `Host: ${host}`);
    }
  });

  test('when ALLOWED_HOSTS is *, then any host is served', async (t) => {
    const { app } = await buildTestApp(t, { env: { ALLOWED_HOSTS: '*' } });
    for (const host of ['anything.test', 'evil.example.net:1234', '[fe80::1]', '10.1.2.3']) {
      const response = await app.inject({ method: 'GET', url: '/', headers: { host } });
      assert.equal(response.statusCode, 200, `Host: ${host}`);
    }
  });

  test('when a refused host posts a task with a valid token, then it gets 400 and nothing is written', async (t) => {
    const { app, database } = await buildTestApp(t, { env: { ALLOWED_HOSTS: 'localhost' } });
    const alice = await createUser(app);
    await createTask(app, alice, { title: 'kept' });
    const before = await storedTasks(database);

    const response = await app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: { ...alice.auth, host: 'evil.example.net' },
      payload: { title: 'smuggled' },
    });

    assert.deepEqual(reply(response), REFUSED);
    assert.deepEqual(await storedTasks(database), before);
  });

  test('when a refused host asks for a URL without its slash, then it is refused rather than redirected', async (t) => {
    const { app } = await buildTestApp(t);
    const response = await app.inject({ method: 'GET', url: '/api/tasks', headers: { host: 'evil.example.net' } });
    assert.deepEqual(reply(response), REFUSED);
    assert.equal(response.headers.location, undefined);
  });

  test('when a CORS preflight comes with a refused host, then the preflight is still answered first', async (t) => {
    const { app } = await buildTestApp(t, { env: { ALLOWED_HOSTS: 'api.example.com' } });
    const response = await app.inject({
      method: 'OPTIONS',
      url: '/api/tasks/',
      headers: { host: 'evil.example.net', origin: 'http://localhost:3000', 'access-control-request-method': 'POST' },
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, '');
    assert.equal(response.headers['access-control-allow-origin'], 'http://localhost:3000');
    assert.match(String(response.headers['access-control-allow-methods']), /POST/);
  });

  test('when an allowed origin sends a plain request with a refused host, then the 400 still carries the CORS and security headers', async (t) => {
    const { app } = await buildTestApp(t, { env: { ALLOWED_HOSTS: 'api.example.com' } });
    const response = await app.inject({
      method: 'GET',
      url: '/api/tasks/',
      headers: { host: 'evil.example.net', origin: 'http://localhost:3000' },
    });
    assert.deepEqual(reply(response), REFUSED);
    assert.equal(response.headers['access-control-allow-origin'], 'http://localhost:3000');
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
  });
});
