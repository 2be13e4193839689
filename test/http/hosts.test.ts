import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { before, describe, test } from 'node:test';
import { buildTestApp, createTask, createUser, dialectName, sharedTestApp, storedTasks } from '../helpers.js';
import { exchange, replies } from './raw.js';

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

/** Host values that are not strictly a host and an optional port 1-65535. */
const MALFORMED_HOSTS = [
  '127.0.0.1:80@evil.com',
  'localhost:@evil.com',
  'localhost@evil.com',
  'evil.com@localhost',
  'user:pass@localhost',
  '127.0.0.1:x',
  'localhost:',
  'localhost:0',
  'localhost:65536',
  'localhost:99999999',
  'localhost:080',
  'localhost:+80',
  'localhost:8000:9000',
  'localhost/evil.com',
  'localhost\\evil.com',
  'localhost#evil.com',
  'localhost?evil.com',
  'localhost;evil.com',
  'localhost,evil.com',
  'local host',
  'localhost..',
  '.localhost',
  '[::1]x',
  '[::1]:',
  '[::1]@evil.com',
  '[::1%25eth0]',
  '[::1',
  '::1',
  '[evil.com]',
  `${'a'.repeat(300)}.localhost`,
];

describe(`[${dialectName}] host values parsed strictly`, () => {
  for (const allowed of ['default', '*']) {
    test(`when ALLOWED_HOSTS is ${allowed} and the Host header is not strictly a host and port, then it is refused and no link is built from it`, async (t) => {
      const { app } = await buildTestApp(t, { env: allowed === '*' ? { ALLOWED_HOSTS: '*' } : {} });
      for (const host of MALFORMED_HOSTS) {
        for (const url of ['/', '/api/tasks/', '/api/tasks']) {
          const response = await app.inject({ method: 'GET', url, headers: { host } });
          assert.deepEqual(reply(response), REFUSED, `Host: ${host} ${url}`);
          assert.equal(response.headers.location, undefined);
        }
      }
    });
  }

  test('when the Host has a port from 1 to 65535 or a trailing dot, then it is served and the links carry it', async (t) => {
    const { app } = await buildTestApp(t);
    for (const host of ['localhost:1', 'localhost:65535', 'localhost.', 'localhost.:8000', '127.0.0.1:443', '[::1]:65535']) {
      const response = await app.inject({ method: 'GET', url: '/', headers: { host } });
      assert.equal(response.statusCode, 200, `Host: ${host}`);
      assert.equal(response.json().links.tasks, `http://${host}/api/tasks/`);
    }
  });
});

describe(`[${dialectName}] hosts behind a trusted proxy`, () => {
  test('when X-Forwarded-Host from a trusted proxy names a refused or malformed host, then the request is refused', async (t) => {
    const { app } = await buildTestApp(t, { env: { TRUST_PROXY: 'true', ALLOWED_HOSTS: 'api.example.com' } });
    const forwarded = ['evil.com', 'api.example.com.evil.com', 'api.example.com:@evil.com', 'api.example.com@evil.com', 'api.example.com, evil.com', 'api.example.com:x'];
    for (const value of forwarded) {
      const response = await app.inject({ method: 'GET', url: '/', headers: { host: 'api.example.com', 'x-forwarded-host': value } });
      assert.deepEqual(reply(response), REFUSED, `X-Forwarded-Host: ${value}`);
    }
  });

  test('when X-Forwarded-Host from a trusted proxy is allowed, then the links are built from it, even if the Host header is internal', async (t) => {
    const { app } = await buildTestApp(t, { env: { TRUST_PROXY: 'true', ALLOWED_HOSTS: 'api.example.com' } });
    for (const value of ['api.example.com', 'api.example.com:8443', 'evil.com, api.example.com']) {
      const response = await app.inject({
        method: 'GET',
        url: '/',
        headers: { host: 'backend.internal:8000', 'x-forwarded-host': value, 'x-forwarded-proto': 'https' },
      });
      assert.equal(response.statusCode, 200, `X-Forwarded-Host: ${value}`);
      const host = value.split(',').at(-1)!.trim();
      assert.equal(response.json().links.tasks, `https://${host}/api/tasks/`);
    }
  });

  test('when a trusted proxy forwards a scheme other than http or https, then the request is refused', async (t) => {
    const { app } = await buildTestApp(t, { env: { TRUST_PROXY: 'true' } });
    for (const proto of ['javascript', 'evil.com/x?', 'ftp', 'https://evil.com', 'http, data']) {
      const response = await app.inject({ method: 'GET', url: '/', headers: { host: 'localhost', 'x-forwarded-proto': proto } });
      assert.deepEqual(reply(response), { statusCode: 400, body: { detail: 'Invalid X-Forwarded-Proto header.' } }, proto);
    }
  });

  test('when the proxy headers come from a client that is not a trusted proxy, then they are ignored', async (t) => {
    const { app } = await buildTestApp(t, { env: { TRUST_PROXY: '192.168.0.0/16' } });
    const response = await app.inject({
      method: 'GET',
      url: '/',
      remoteAddress: '10.0.0.5',
      headers: { host: 'localhost', 'x-forwarded-host': 'evil.com', 'x-forwarded-proto': 'javascript' },
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().links.tasks, 'http://localhost/api/tasks/');
  });

  test('when TRUST_PROXY is off, then X-Forwarded-Host is ignored and the links use the Host header', async (t) => {
    const { app } = await buildTestApp(t);
    const response = await app.inject({ method: 'GET', url: '/', headers: { host: 'localhost:8000', 'x-forwarded-host': 'evil.com' } });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().links.tasks, 'http://localhost:8000/api/tasks/');
  });

  test('when a page of tasks is read through a trusted proxy, then its next and previous links point at the forwarded host', async (t) => {
    const { app } = await buildTestApp(t, { env: { TRUST_PROXY: 'true', ALLOWED_HOSTS: 'api.example.com,localhost' } });
    const alice = await createUser(app);
    for (const title of ['one', 'two', 'three']) await createTask(app, alice, { title });
    const headers = { ...alice.auth, host: 'backend.internal', 'x-forwarded-host': 'api.example.com', 'x-forwarded-proto': 'https' };
    const page = await app.inject({ method: 'GET', url: '/api/tasks/?page=2&page_size=1', headers });
    assert.equal(page.statusCode, 200);
    assert.equal(page.json().next, 'https://api.example.com/api/tasks/?page=3&page_size=1');
    assert.equal(page.json().previous, 'https://api.example.com/api/tasks/?page_size=1');

    const poisoned = await app.inject({ method: 'GET', url: '/api/tasks/?page=2&page_size=1', headers: { ...headers, 'x-forwarded-host': 'evil.com' } });
    assert.deepEqual(reply(poisoned), REFUSED);
  });
});

describe(`[${dialectName}] request targets in absolute form, over a real socket`, () => {
  const testApp = sharedTestApp();
  let port: number;
  before(async () => {
    await testApp().app.listen({ port: 0, host: '127.0.0.1' });
    port = (testApp().app.server.address() as AddressInfo).port;
  });
  const get = async (target: string, host = 'localhost') => {
    const [answer, ...more] = replies(await exchange(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    assert.deepEqual(more, []);
    return answer!;
  };

  test('when the target names another host, then it is refused and never redirected there', async () => {
    const targets = [
      'http://evil.com/api/tasks',
      'http://evil.com/api/tasks/',
      'HTTP://EVIL.COM/api/tasks',
      'https://evil.com/api/tasks?page=2',
      'http://evil.com',
      'http://evil.com?x=1',
      'http://127.0.0.1:80@evil.com/api/tasks',
      'http://localhost:@evil.com/api/tasks',
      'http://localhost:x/api/tasks',
    ];
    for (const target of targets) {
      const answer = await get(target);
      assert.equal(answer.status, 'HTTP/1.1 400 Bad Request', target);
      assert.deepEqual(Object.keys(JSON.parse(answer.body)), ['detail'], target);
      assert.doesNotMatch(answer.body, /evil/, target);
      assert.doesNotMatch(answer.headers, /^location:/im, target);
    }
  });

  test('when the target names an allowed host, then the redirect is a path on this host', async () => {
    for (const [target, location] of [
      ['http://localhost/api/tasks', '/api/tasks/'],
      ['http://localhost:8000/api/tasks?x=1&y=2', '/api/tasks/?x=1&y=2'],
      ['HTTP://127.0.0.1/api/register', '/api/register/'],
    ] as const) {
      const answer = await get(target);
      assert.equal(answer.status, 'HTTP/1.1 301 Moved Permanently', target);
      assert.match(answer.headers, new RegExp(`^location: ${location.replace(/[?]/g, '\\?')}\r?$`, 'im'), target);
    }
  });

  test('when a path starts with two slashes or a backslash, then there is no redirect to another host', async () => {
    for (const target of ['//evil.com/api/tasks', '/\\evil.com/api/tasks', 'http://localhost//evil.com/api/tasks', '//api/tasks', '///api/tasks']) {
      const answer = await get(target);
      assert.doesNotMatch(answer.headers, /^location:/im, target);
      assert.match(answer.status, /^HTTP\/1\.1 4\d\d /, target);
    }
  });

  test('when the Host header is empty or missing, then the request is refused', async () => {
    for (const request of ['GET / HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n', 'GET / HTTP/1.0\r\n\r\n']) {
      const [answer] = replies(await exchange(port, request));
      assert.match(answer!.status, /^HTTP\/1\.1 400 /, request);
      assert.deepEqual(Object.keys(JSON.parse(answer!.body)), ['detail'], request);
    }
  });
});
