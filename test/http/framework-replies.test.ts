import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { SECURITY_HEADERS } from '../../src/http/security-headers.js';
import { buildTestApp, createUser, dialectName, sharedAppWithTask, sharedTestApp, storedTasks } from '../helpers.js';
import { exchange, replies } from './raw.js';

function assertSecurityHeaders(headers: Record<string, unknown>, what: string) {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) assert.equal(headers[name], value, `${what}: ${name}`);
}

function assertDetailReply(response: LightMyRequestResponse, statusCode: number, detail: string, what: string) {
  assert.equal(response.statusCode, statusCode, `${what}: ${response.body}`);
  assert.equal(response.body, JSON.stringify({ detail }), what);
  assert.match(String(response.headers['content-type']), /^application\/json/, what);
  assertSecurityHeaders(response.headers, what);
}

describe(`[${dialectName}] replies Fastify would write itself`, () => {
  const testApp = sharedAppWithTask();

  const malformed = ['/api/tasks/%zz/', '/api/tasks/%/', '/api/%E0%A4%A/', '/%', '/api/tasks/1%2/?x=1', '/api/user/%C0%AF/'];
  for (const url of malformed) {
    test(`when the path ${url} has a malformed percent-escape, then it is 400 with a detail and the security headers`, async () => {
      const response = await testApp().app.inject({ method: 'GET', url, headers: { ...testApp().alice.auth, origin: 'http://localhost:3000' } });
      assertDetailReply(response, 400, 'Malformed URL.', url);
      assert.equal(response.headers['access-control-allow-origin'], 'http://localhost:3000');
      assert.equal(response.headers.vary, 'Origin');
    });
  }

  test('when a browser preflight names a malformed path, then the preflight is still answered first', async () => {
    const response = await testApp().app.inject({
      method: 'OPTIONS',
      url: '/api/tasks/%zz/',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'PUT' },
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, '');
    assert.equal(response.headers['access-control-allow-origin'], 'http://localhost:3000');
  });

  for (const contentType of ['text', '/', 'json/', 'a b/c', 'application/', '/json', 'application/json\\x']) {
    test(`when the Content-Type header ${JSON.stringify(contentType)} cannot be parsed, then it is 415 naming it, and nothing is stored`, async () => {
      const { app, alice, database } = testApp();
      const before = await storedTasks(database);
      const response = await app.inject({ method: 'POST', url: '/api/tasks/', headers: { ...alice.auth, 'content-type': contentType }, payload: '{"title":"x"}' });
      assertDetailReply(response, 415, `Unsupported media type "${contentType}" in request.`, contentType);
      assert.deepEqual(await storedTasks(database), before);
    });
  }

  test('when a task or session id is hundreds of characters long, then it is simply not found', async () => {
    const { app, alice } = testApp();
    for (const url of [`/api/tasks/${'1'.repeat(500)}/`, `/api/tasks/${'x'.repeat(2000)}/`, `/api/sessions/${'9'.repeat(300)}/`]) {
      const method = url.startsWith('/api/sessions/') ? 'DELETE' : 'GET';
      const response = await app.inject({ method, url, headers: alice.auth });
      assertDetailReply(response, 404, 'Not found.', url.slice(0, 30));
    }
  });

  test('when the long id comes without a token, then authentication still comes first', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: `/api/tasks/${'1'.repeat(500)}/` });
    assertDetailReply(response, 401, 'Authentication credentials were not provided.', 'anonymous');
  });
});

describe(`[${dialectName}] replies Node would write itself, over a real socket`, () => {
  const testApp = sharedTestApp();
  let port: number;
  before(async () => {
    await testApp().app.listen({ port: 0, host: '127.0.0.1' });
    port = (testApp().app.server.address() as AddressInfo).port;
  });

  /** The one reply to a raw request, its headers as an object. */
  async function only(request: string) {
    const [reply, ...more] = replies(await exchange(port, request));
    assert.deepEqual(more, [], request);
    assert.ok(reply, `no reply to ${JSON.stringify(request.slice(0, 60))}`);
    const headers = Object.fromEntries(reply.headers.split('\r\n').map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    return { ...reply, headerMap: headers };
  }

  const broken: [string, string, string][] = [
    ['a request line that is not HTTP', 'GARBAGE\r\n\r\n', 'HTTP/1.1 400 Bad Request'],
    ['a method with a space in it', 'GE T / HTTP/1.1\r\nHost: localhost\r\n\r\n', 'HTTP/1.1 400 Bad Request'],
    ['an invalid header name', 'GET / HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n', 'HTTP/1.1 400 Bad Request'],
    ['a header without a colon', 'GET / HTTP/1.1\r\nHost: localhost\r\nNoColon\r\n\r\n', 'HTTP/1.1 400 Bad Request'],
    [
      'both Content-Length and Transfer-Encoding',
      'POST /api/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'HTTP/1.1 400 Bad Request',
    ],
    ['two Content-Length values', 'POST /api/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 'HTTP/1.1 400 Bad Request'],
    ['a malformed chunk size', 'POST /api/login/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n', 'HTTP/1.1 400 Bad Request'],
    ['an HTTP version Node does not speak', 'GET / HTTP/9.9\r\nHost: localhost\r\n\r\n', 'HTTP/1.1 400 Bad Request'],
    ['headers over the size limit', `GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 'HTTP/1.1 431 Request Header Fields Too Large'],
    ['a URL over the header size limit', `GET /api/tasks/?q=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`, 'HTTP/1.1 431 Request Header Fields Too Large'],
  ];
  for (const [label, request, status] of broken) {
    test(`when Node's parser gets ${label}, then the reply is ${status.slice(9)} with a detail and the security headers`, async () => {
      const reply = await only(request);
      assert.equal(reply.status, status);
      assert.deepEqual(Object.keys(JSON.parse(reply.body)), ['detail']);
      assert.match(reply.headerMap['content-type']!, /^application\/json/);
      assertSecurityHeaders(reply.headerMap, label);
    });
  }

  test('when a malformed path arrives over the socket, then the reply is the contract\'s 400', async () => {
    const reply = await only('GET /api/tasks/%zz/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    assert.equal(reply.status, 'HTTP/1.1 400 Bad Request');
    assert.equal(reply.body, '{"detail":"Malformed URL."}');
    assertSecurityHeaders(reply.headerMap, 'malformed path');
  });

  test('when a request has an Expect the server does not know, then it is answered like any other request', async () => {
    const username = 'expecting';
    await createUser(testApp().app, { username });
    const body = JSON.stringify({ username, password: 'wrong password' });
    const reply = await only(
      `POST /api/login/ HTTP/1.1\r\nHost: localhost\r\nExpect: something-else\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.equal(reply.status, 'HTTP/1.1 400 Bad Request');
    assert.equal(reply.body, '{"non_field_errors":["Unable to log in with provided credentials."]}');
    assertSecurityHeaders(reply.headerMap, 'expect');
  });

  test('when an HTTP/1.1 request has no Host header, then the host check refuses it in the contract\'s shape', async () => {
    const reply = await only('GET /api/tasks/ HTTP/1.1\r\nConnection: close\r\n\r\n');
    assert.equal(reply.status, 'HTTP/1.1 400 Bad Request');
    assert.equal(reply.body, '{"detail":"Invalid host header."}');
    assert.equal(reply.headerMap.vary, 'Origin');
    assertSecurityHeaders(reply.headerMap, 'no host');
  });

  test('when garbage follows a complete request on its connection, then that request gets its own reply, not the garbage\'s 400', async () => {
    const user = await createUser(testApp().app);
    const body = JSON.stringify({ title: 'Before the garbage' });
    const exchanged = replies(
      await exchange(
        port,
        `POST /api/tasks/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${user.auth.authorization}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}GARBAGE \x00\r\n\r\n`,
      ),
    );
    assert.equal(exchanged.length, 1, JSON.stringify(exchanged));
    assert.equal(exchanged[0]!.status, 'HTTP/1.1 201 Created');
    assert.equal(JSON.parse(exchanged[0]!.body).title, 'Before the garbage');
    const stored = (await storedTasks(testApp().database)).filter((task) => task.title === 'Before the garbage');
    assert.equal(stored.length, 1);
  });

  test('when all of these have been sent, then the server still answers', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(response.status, 200);
  });
});

describe(`[${dialectName}] requests that arrive while the server shuts down`, () => {
  test('when a request follows another on its connection after shutdown began, then it is answered normally, not with a bare 503', async (t) => {
    const { app } = await buildTestApp(t);
    app.get('/test/slow/', async () => {
      await new Promise((done) => setTimeout(done, 300));
      return { slow: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    // The second request is written once the shutdown has begun, while the first is still running.
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    const exchanged = new Promise<string>((done) => socket.on('close', () => done(received)));
    socket.write('GET /test/slow/ HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await new Promise((done) => setTimeout(done, 100));
    const closed = app.close();
    socket.write('GET /api/tasks/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    const [slow, next, ...more] = replies(await exchanged);
    await closed;
    assert.equal(slow!.status, 'HTTP/1.1 200 OK');
    assert.equal(next!.status, 'HTTP/1.1 401 Unauthorized');
    assert.equal(next!.body, '{"detail":"Authentication credentials were not provided."}');
    assert.match(next!.headers, /^x-content-type-options: nosniff$/im);
    assert.deepEqual(more, []);
  });
});
