import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createTask, createUser, dialectName, sharedAppWithTask, sharedFixture, sharedTestApp, type TestUser } from '../helpers.js';

const ALLOW_METHODS = 'DELETE, GET, OPTIONS, PATCH, POST, PUT';
const ALLOW_HEADERS = 'accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with, if-match, if-none-match';

function varyNames(response: LightMyRequestResponse): string[] {
  return String(response.headers.vary ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase());
}

function accessControlHeaders(response: LightMyRequestResponse): Record<string, unknown> {
  return Object.fromEntries(Object.entries(response.headers).filter(([name]) => name.startsWith('access-control-')));
}

/**
 * In cookie mode (the default) allowed origins may send credentials and read the CSRF token a
 * login sends; with it off, CORS is exactly the original's.
 */
const MODES: { label: string; env: Record<string, string>; exposed: string; credentials: Record<string, string> }[] = [
  { label: 'in cookie mode', env: {}, exposed: 'ETag, X-CSRFToken', credentials: { 'access-control-allow-credentials': 'true' } },
  { label: "with cookie mode off, as the original's", env: { JWT_AUTH_COOKIE_USE: 'false' }, exposed: 'ETag', credentials: {} },
];
// The default mode's, for the suites below.
const EXPOSED = MODES[0]!.exposed;
const CREDENTIALS = MODES[0]!.credentials;

for (const mode of MODES) describe(`[${dialectName}] CORS with the default origins ${mode.label}`, () => {
  const testApp = sharedFixture<{ alice: TestUser; taskId: number }>(
    async ({ app }) => {
      const alice = await createUser(app);
      return { alice, taskId: (await createTask(app, alice)).id };
    },
    { env: mode.env },
  );

  for (const origin of ['http://localhost:3000', 'http://localhost:3001']) {
    test(`when ${origin} lists tasks, then the reply allows that origin and nothing more`, async () => {
      const response = await testApp().app.inject({ method: 'GET', url: '/api/tasks/', headers: { ...testApp().alice.auth, origin } });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(accessControlHeaders(response), { 'access-control-allow-origin': origin, 'access-control-expose-headers': mode.exposed, ...mode.credentials });
      assert.ok(varyNames(response).includes('origin'));
    });
  }

  const statuses: { label: string; request: () => InjectOptions; status: number }[] = [
    { label: '201 created', status: 201, request: () => ({ method: 'POST', url: '/api/tasks/', headers: testApp().alice.auth, payload: { title: 'x' } }) },
    { label: '301 redirect', status: 301, request: () => ({ method: 'GET', url: '/api/tasks' }) },
    { label: '400 validation error', status: 400, request: () => ({ method: 'POST', url: '/api/tasks/', headers: testApp().alice.auth, payload: {} }) },
    { label: '401 without a token', status: 401, request: () => ({ method: 'GET', url: '/api/tasks/' }) },
    { label: '404 unknown URL', status: 404, request: () => ({ method: 'GET', url: '/api/nowhere/' }) },
    { label: '404 missing task', status: 404, request: () => ({ method: 'GET', url: '/api/tasks/999999/', headers: testApp().alice.auth }) },
    { label: '405 refused method', status: 405, request: () => ({ method: 'DELETE', url: '/api/tasks/', headers: testApp().alice.auth }) },
    {
      label: '415 unsupported media type',
      status: 415,
      request: () => ({ method: 'POST', url: '/api/tasks/', headers: { ...testApp().alice.auth, 'content-type': 'text/plain' }, payload: 'x' }),
    },
    { label: '200 root', status: 200, request: () => ({ method: 'GET', url: '/' }) },
  ];
  for (const { label, status, request } of statuses) {
    test(`when an allowed origin gets a ${label}, then the reply still allows the origin and varies by Origin`, async () => {
      const options = request();
      const response = await testApp().app.inject({ ...options, headers: { ...options.headers, origin: 'http://localhost:3000' } });
      assert.equal(response.statusCode, status);
      assert.equal(response.headers['access-control-allow-origin'], 'http://localhost:3000');
      assert.equal(response.headers['access-control-expose-headers'], mode.exposed);
      assert.equal(response.headers['access-control-allow-credentials'], mode.credentials['access-control-allow-credentials']);
      assert.ok(varyNames(response).includes('origin'), `Vary: ${response.headers.vary}`);
    });

    test(`when a request without Origin gets a ${label}, then the reply varies by Origin and has no CORS headers`, async () => {
      const response = await testApp().app.inject(request());
      assert.equal(response.statusCode, status);
      assert.ok(varyNames(response).includes('origin'), `Vary: ${response.headers.vary}`);
      assert.deepEqual(accessControlHeaders(response), {});
    });
  }

  test('when a task is deleted from an allowed origin, then the 204 allows the origin and varies by Origin', async () => {
    const id = (await createTask(testApp().app, testApp().alice)).id;
    const response = await testApp().app.inject({ method: 'DELETE', url: `/api/tasks/${id}/`, headers: { ...testApp().alice.auth, origin: 'http://localhost:3001' } });
    assert.equal(response.statusCode, 204);
    assert.equal(response.headers['access-control-allow-origin'], 'http://localhost:3001');
    assert.ok(varyNames(response).includes('origin'));
  });

  test('when a body over 1 MiB comes from an allowed origin, then the 413 allows the origin and varies by Origin', async () => {
    const response = await testApp().app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: { ...testApp().alice.auth, origin: 'http://localhost:3000', 'content-type': 'application/json' },
      payload: JSON.stringify({ title: 'x', description: 'z'.repeat(1024 * 1024 + 10) }),
    });
    assert.equal(response.statusCode, 413);
    assert.equal(response.headers['access-control-allow-origin'], 'http://localhost:3000');
    assert.ok(varyNames(response).includes('origin'));
  });

  for (const origin of ['https://evil.example.com', 'http://localhost:3002', 'http://localhost:3000.evil.com', 'null']) {
    test(`when the disallowed origin ${origin} lists tasks, then it gets the normal reply without Access-Control headers`, async () => {
      const response = await testApp().app.inject({ method: 'GET', url: '/api/tasks/', headers: { ...testApp().alice.auth, origin } });
      assert.equal(response.statusCode, 200);
      assert.equal(response.json().length >= 1, true);
      assert.deepEqual(accessControlHeaders(response), {});
      assert.ok(varyNames(response).includes('origin'));
    });
  }

  const preflightPaths: [string, () => string][] = [
    ['the task list', () => '/api/tasks/'],
    ['a task', () => `/api/tasks/${testApp().taskId}/`],
    ['a task that does not exist', () => '/api/tasks/999999/'],
    ['the login URL', () => '/api/login/'],
    ['the register URL', () => '/api/register/'],
    ['an unknown URL', () => '/api/no-such-thing/'],
    ['a URL without its slash', () => '/api/tasks'],
  ];
  for (const [label, path] of preflightPaths) {
    test(`when an allowed origin sends a preflight to ${label} without a token, then it is 200, empty, with the exact CORS headers`, async () => {
      const response = await testApp().app.inject({
        method: 'OPTIONS',
        url: path(),
        headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type' },
      });
      assert.equal(response.statusCode, 200);
      assert.equal(response.body, '');
      assert.deepEqual(accessControlHeaders(response), {
        'access-control-allow-origin': 'http://localhost:3000',
        'access-control-allow-methods': ALLOW_METHODS,
        'access-control-allow-headers': ALLOW_HEADERS,
        'access-control-max-age': '86400',
        ...mode.credentials,
      });
      assert.ok(varyNames(response).includes('origin'));
      assert.equal(response.headers['www-authenticate'], undefined);
    });
  }

  test('when a preflight asks for an unusual header, then the allowed headers are still the fixed list', async () => {
    const response = await testApp().app.inject({
      method: 'OPTIONS',
      url: '/api/tasks/',
      headers: { origin: 'http://localhost:3001', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-custom-thing' },
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['access-control-allow-headers'], ALLOW_HEADERS);
    assert.equal(response.headers['access-control-allow-origin'], 'http://localhost:3001');
  });

  test('when a disallowed origin sends a preflight, then it gets no Access-Control headers', async () => {
    const response = await testApp().app.inject({
      method: 'OPTIONS',
      url: '/api/tasks/',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'DELETE' },
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, '');
    assert.deepEqual(accessControlHeaders(response), {});
    assert.ok(varyNames(response).includes('origin'));
  });
});

type App = ReturnType<ReturnType<typeof sharedTestApp>>['app'];
const ask = (app: App, origin: string) => app.inject({ method: 'GET', url: '/api/tasks/', headers: { origin } });

describe(`[${dialectName}] CORS for conditional requests`, () => {
  const testApp = sharedAppWithTask();

  for (const header of ['if-match', 'if-none-match', 'If-Match, Content-Type', 'authorization,if-none-match']) {
    test(`when a preflight asks to send ${header}, then the allowed headers include the conditional-request headers`, async () => {
      const response = await testApp().app.inject({
        method: 'OPTIONS',
        url: `/api/tasks/${testApp().taskId}/`,
        headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'PUT', 'access-control-request-headers': header },
      });
      assert.equal(response.statusCode, 200);
      const allowed = String(response.headers['access-control-allow-headers']).split(', ');
      for (const name of header.toLowerCase().split(',')) assert.ok(allowed.includes(name.trim()), `${name} in ${allowed.join(', ')}`);
      assert.equal(response.headers['access-control-expose-headers'], undefined);
    });
  }

  test('when an allowed origin reads a task, then its ETag is exposed to the page and a conditional read gets 304', async () => {
    const { app, alice, taskId } = testApp();
    const headers = { ...alice.auth, origin: 'http://localhost:3001' };
    const read = await app.inject({ method: 'GET', url: `/api/tasks/${taskId}/`, headers });
    assert.equal(read.statusCode, 200);
    assert.equal(read.headers['access-control-expose-headers'], EXPOSED);
    const etag = String(read.headers.etag);
    const again = await app.inject({ method: 'GET', url: `/api/tasks/${taskId}/`, headers: { ...headers, 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.headers['access-control-expose-headers'], EXPOSED);
    const stale = await app.inject({ method: 'PATCH', url: `/api/tasks/${taskId}/`, headers: { ...headers, 'if-match': '"stale"' }, payload: { title: 'x' } });
    assert.equal(stale.statusCode, 412);
    assert.equal(stale.headers['access-control-expose-headers'], EXPOSED);
  });
});

describe(`[${dialectName}] CORS origins from CORS_ALLOWED_ORIGINS`, () => {
  const configured = sharedTestApp({
    env: { CORS_ALLOWED_ORIGINS: 'https://app.example.com, https://beta.example.com' },
  });

  for (const origin of ['https://app.example.com', 'https://beta.example.com']) {
    test(`when CORS_ALLOWED_ORIGINS lists ${origin}, then replies to it allow it`, async () => {
      const response = await ask(configured().app, origin);
      assert.equal(response.statusCode, 401);
      assert.equal(response.headers['access-control-allow-origin'], origin);
    });
  }

  test('when CORS_ALLOWED_ORIGINS is set, then an unlisted origin is not allowed', async () => {
    const response = await ask(configured().app, 'https://other.example.com');
    assert.deepEqual(accessControlHeaders(response), {});
  });
});

describe(`[${dialectName}] CORS origins from the original's CLIENT_ORIGIN settings`, () => {
  const client = sharedTestApp({
    env: { CLIENT_ORIGIN: 'https://tasks.example.org', CLIENT_ORIGIN_DEV: 'http://127.0.0.1:5173' },
  });

  for (const origin of ['https://tasks.example.org', 'http://127.0.0.1:5173']) {
    test(`when the original's CLIENT_ORIGIN settings name ${origin}, then replies to it allow it`, async () => {
      const response = await ask(client().app, origin);
      assert.equal(response.headers['access-control-allow-origin'], origin);
    });
  }

  test("when the original's CLIENT_ORIGIN settings are used, then a preflight from that origin gets the CORS headers", async () => {
    const response = await client().app.inject({
      method: 'OPTIONS',
      url: '/api/login/',
      headers: { origin: 'https://tasks.example.org', 'access-control-request-method': 'POST' },
    });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(accessControlHeaders(response), {
      'access-control-allow-origin': 'https://tasks.example.org',
      'access-control-allow-methods': ALLOW_METHODS,
      'access-control-allow-headers': ALLOW_HEADERS,
      'access-control-max-age': '86400',
      ...CREDENTIALS,
    });
  });

  test("when the original's CLIENT_ORIGIN settings are used, then an unlisted origin is not allowed", async () => {
    const response = await ask(client().app, 'https://tasks.example.org.evil.com');
    assert.deepEqual(accessControlHeaders(response), {});
  });
});
