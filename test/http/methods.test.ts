import assert from 'node:assert/strict';
import { METHODS } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { before, describe, test } from 'node:test';
import type { InjectOptions } from 'fastify';
import { createTask, createUser, dialectName, sharedAppWithTask, sharedTestApp, storedTasks, type TestUser } from '../helpers.js';
import { exchange, replies } from './raw.js';

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

describe(`[${dialectName}] every method Node's parser accepts`, () => {
  const testApp = sharedAppWithTask();
  const knownUrls: [() => string, string][] = [
    [() => '/', 'GET, HEAD, OPTIONS'],
    [() => '/api/register/', ACCOUNT_ALLOW],
    [() => '/api/login/', ACCOUNT_ALLOW],
    [() => '/api/logout/', 'POST, OPTIONS'],
    [() => '/api/user/', 'GET, PATCH, DELETE, HEAD, OPTIONS'],
    [() => '/api/user/password/', 'POST, OPTIONS'],
    [() => '/api/sessions/', 'GET, HEAD, OPTIONS'],
    [() => '/api/tasks/', LIST_ALLOW],
    [() => `/api/tasks/${testApp().taskId}/`, DETAIL_ALLOW],
    [() => '/api/tasks/deleted/', 'GET, HEAD, OPTIONS'],
  ];
  // CONNECT cannot be injected; it is sent over a socket below.
  const methods = METHODS.filter((method) => method !== 'CONNECT');

  test('when any method a URL has no handler for is sent to it, then it is 405 with its Allow header', async () => {
    const { app, alice } = testApp();
    let refused = 0;
    for (const [url, allow] of knownUrls) {
      for (const method of methods.filter((name) => !allow.split(', ').includes(name))) {
        const response = await app.inject({ method: method as InjectOptions['method'], url: url(), headers: alice.auth });
        assert.equal(response.statusCode, 405, `${method} ${url()}`);
        assert.equal(response.headers.allow, allow, `${method} ${url()}`);
        // A reply to HEAD has no body.
        assert.equal(response.body, method === 'HEAD' ? '' : `{"detail":"Method \\"${method}\\" not allowed."}`);
        assert.equal(response.headers['x-content-type-options'], 'nosniff');
        refused++;
      }
    }
    assert.ok(refused > knownUrls.length * 25, `${refused} refusals`);
  });

  for (const method of ['TRACE', 'PROPFIND', 'SEARCH', 'QUERY', 'MKCOL', 'M-SEARCH']) {
    test(`when ${method} is sent to an unknown URL, then it is 404; to a task URL without a token, 401`, async () => {
      const { app } = testApp();
      const unknown = await app.inject({ method: method as InjectOptions['method'], url: '/api/nowhere/' });
      assert.equal(unknown.statusCode, 404);
      assert.deepEqual(unknown.json(), { detail: 'Not found.' });
      const anonymous = await app.inject({ method: method as InjectOptions['method'], url: '/api/tasks/' });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.headers.allow, undefined);
    });
  }

  test('when PROPFIND or QUERY carries a body of any kind, then the 405 comes before the body is judged', async () => {
    const { app, alice, taskId, database } = testApp();
    const before = await storedTasks(database);
    for (const [method, contentType, payload] of [
      ['PROPFIND', 'application/xml', '<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>'],
      ['QUERY', 'application/json', '{broken'],
      ['QUERY', undefined, 'no content type'],
      ['SEARCH', 'multipart/form-data; boundary=X', '--X\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nabc'],
    ] as const) {
      const headers = contentType === undefined ? alice.auth : { ...alice.auth, 'content-type': contentType };
      const response = await app.inject({ method: method as InjectOptions['method'], url: `/api/tasks/${taskId}/`, headers, payload });
      assert.equal(response.statusCode, 405, `${method} ${contentType}`);
      assert.equal(response.headers.allow, DETAIL_ALLOW);
    }
    assert.deepEqual(await storedTasks(database), before);
  });
});

describe(`[${dialectName}] CONNECT, over a real socket`, () => {
  const testApp = sharedTestApp();
  let port: number;
  before(async () => {
    await testApp().app.listen({ port: 0, host: '127.0.0.1' });
    port = (testApp().app.server.address() as AddressInfo).port;
  });

  test('when CONNECT names a known URL, then it is 405 with Allow; when it names a host, 404; and the server keeps serving', async () => {
    const known = replies(await exchange(port, 'CONNECT /api/login/ HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    assert.deepEqual(known.map((reply) => reply.status), ['HTTP/1.1 405 Method Not Allowed']);
    assert.match(known[0]!.headers, /^allow: POST, OPTIONS$/im);
    assert.equal(known[0]!.body, '{"detail":"Method \\"CONNECT\\" not allowed."}');

    const tunnel = replies(await exchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    assert.deepEqual(tunnel.map((reply) => reply.status), ['HTTP/1.1 404 Not Found']);
    assert.equal(tunnel[0]!.body, '{"detail":"Not found."}');
    assert.match(tunnel[0]!.headers, /^x-content-type-options: nosniff$/im);

    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
  });

  test('when clients reset their connections in the middle of CONNECT requests, then the server keeps serving', async () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      await new Promise<void>((done) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(`CONNECT /api/login/ HTTP/1.1\r\nHost: localhost\r\n\r\n${'x'.repeat(attempt * 1000)}`);
          setTimeout(() => {
            socket.resetAndDestroy();
            done();
          }, attempt % 3);
        });
        socket.on('error', () => {});
      });
    }
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
  });
});
