import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { maxAgeSeconds } from '../../src/browser-sessions/cookies.js';
import { createUser, dialectName, PASSWORD, storedTasks } from '../helpers.js';
import {
  ACCESS_REFUSED,
  FOREIGN,
  PAGE,
  TOKEN_REFUSED,
  browserLogin,
  browserSessions,
  call,
  claimsOf,
  cookiesOf,
  cookieValue,
  fromPage,
  serve,
} from './support.js';

const REFRESH_PATHS = ['/dj-rest-auth/token/refresh/', '/dj-rest-auth/logout/'];

describe(`[${dialectName}] cookie mode: the cookies`, () => {
  test('when a browser logs in, then the access, refresh and CSRF cookies carry the guide\'s flags, and the refresh cookie goes only to its two paths', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const reply = await call(served.base, 'POST', '/dj-rest-auth/login/', { headers: { origin: PAGE }, body: { username: alice.username, password: PASSWORD } });
    const cookies = cookiesOf(reply);
    assert.deepEqual(cookies.map((cookie) => [cookie.name, cookie.attributes.path]), [
      ['my-app-auth', '/'],
      ['my-refresh-token', REFRESH_PATHS[0]],
      ['my-refresh-token', REFRESH_PATHS[1]],
      ['csrftoken', '/'],
    ]);
    for (const cookie of cookies) {
      assert.equal(cookie.attributes.secure, true, cookie.name);
      assert.equal(cookie.attributes.samesite, 'None', cookie.name);
      assert.equal(cookie.attributes.domain, undefined, cookie.name);
      assert.equal(cookie.attributes.httponly, cookie.name === 'csrftoken' ? undefined : true, cookie.name);
    }
    const [access, refresh, , csrf] = cookies;
    // The lifetimes count from the token's issue, in whole seconds.
    assert.ok([299, 300].includes(Number(access!.attributes['max-age'])), String(access!.attributes['max-age']));
    assert.ok([86399, 86400].includes(Number(refresh!.attributes['max-age'])), String(refresh!.attributes['max-age']));
    assert.equal(claimsOf(access!.value).token_type, 'access');
    assert.equal(claimsOf(refresh!.value).token_type, 'refresh');
    assert.equal((reply.body as { access: string }).access, access!.value);
    // The page on another origin cannot read the API's cookies: the token comes in a header it may read.
    assert.equal(reply.headers.get('x-csrftoken'), csrf!.value);
    assert.match(String(reply.headers.get('access-control-expose-headers')), /X-CSRFToken/);
  });

  test('when names, domain, path, SameSite and HttpOnly are configured, then the cookies follow them and the refresh token comes in the body', async (t) => {
    const served = await serve(t, {
      env: {
        JWT_AUTH_COOKIE: 'app-access',
        JWT_AUTH_REFRESH_COOKIE: 'app-refresh',
        JWT_AUTH_COOKIE_DOMAIN: '.example.com',
        JWT_AUTH_COOKIE_PATH: '/backend/',
        JWT_AUTH_SAMESITE: 'Strict',
        JWT_AUTH_SECURE: 'false',
        JWT_AUTH_HTTPONLY: 'false',
      },
    });
    const alice = await createUser(served.app);
    const reply = await call(served.base, 'POST', '/dj-rest-auth/login/', { body: { username: alice.username, password: PASSWORD } });
    const cookies = cookiesOf(reply);
    assert.deepEqual(cookies.map((cookie) => [cookie.name, cookie.attributes.path]), [
      ['app-access', '/backend/'],
      ['app-refresh', `/backend${REFRESH_PATHS[0]}`],
      ['app-refresh', `/backend${REFRESH_PATHS[1]}`],
      ['csrftoken', '/backend/'],
    ]);
    for (const cookie of cookies) {
      assert.deepEqual([cookie.attributes.domain, cookie.attributes.samesite, cookie.attributes.secure, cookie.attributes.httponly], ['example.com', 'Strict', undefined, undefined]);
    }
    assert.equal((reply.body as { refresh: string }).refresh, cookieValue(reply, 'app-refresh'));
  });

  test('when the browser logs out with its cookies, then the session ends and every cookie is cleared at its own path', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const reply = await call(served.base, 'POST', '/dj-rest-auth/logout/', { headers: fromPage(session, 'refresh') });
    assert.equal(reply.status, 200);
    assert.deepEqual(await browserSessions(served, alice.id), []);
    const cleared = cookiesOf(reply);
    assert.deepEqual(cleared.map((cookie) => [cookie.name, cookie.attributes.path, cookie.value, cookie.attributes['max-age']]), [
      ['my-app-auth', '/', '', '0'],
      ['my-refresh-token', REFRESH_PATHS[0], '', '0'],
      ['my-refresh-token', REFRESH_PATHS[1], '', '0'],
      ['csrftoken', '/', '', '0'],
    ]);
    assert.deepEqual((await call(served.base, 'GET', '/api/tasks/', { headers: fromPage(session) })).body, ACCESS_REFUSED);
  });

  test('when the refresh cookie is used, then new cookies replace the old, the CSRF token is kept, and the body leaves the refresh token out', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const reply = await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { headers: fromPage(session, 'refresh') });
    assert.equal(reply.status, 200);
    assert.equal((reply.body as { refresh: string }).refresh, '');
    const refresh = cookieValue(reply, 'my-refresh-token', REFRESH_PATHS[0]);
    assert.notEqual(refresh, session.refresh);
    assert.equal(cookieValue(reply, 'my-refresh-token', REFRESH_PATHS[1]), refresh);
    assert.equal(cookieValue(reply, 'csrftoken'), session.csrf);
    assert.equal(reply.headers.get('x-csrftoken'), session.csrf);
    const access = cookieValue(reply, 'my-app-auth');
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: fromPage({ ...session, access }) })).status, 200);
    // The old refresh cookie, replayed: the session ends.
    assert.deepEqual((await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { headers: fromPage(session, 'refresh') })).body, TOKEN_REFUSED);
    assert.deepEqual(await browserSessions(served, alice.id), []);
  });
});

describe(`[${dialectName}] cookie mode: CSRF`, () => {
  test('when a cookie-authenticated unsafe request lacks the CSRF token, has a wrong one or comes from an untrusted origin, then it is refused with 403 and nothing is written', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const cookie = `my-app-auth=${session.access}; csrftoken=${session.csrf}`;
    const cases: [string, Record<string, string>, string][] = [
      ['no X-CSRFToken', { cookie, origin: PAGE }, 'CSRF token missing.'],
      ['a wrong X-CSRFToken', { cookie, origin: PAGE, 'x-csrftoken': `${session.csrf}x` }, 'CSRF token incorrect.'],
      ['no csrftoken cookie', { cookie: `my-app-auth=${session.access}`, origin: PAGE, 'x-csrftoken': session.csrf }, 'CSRF cookie not set.'],
      ['a foreign Origin', { cookie, origin: FOREIGN, 'x-csrftoken': session.csrf }, `Origin checking failed - ${FOREIGN} does not match any trusted origins.`],
      ['Origin null', { cookie, origin: 'null', 'x-csrftoken': session.csrf }, 'Origin checking failed - null does not match any trusted origins.'],
      ['neither Origin nor Referer', { cookie, 'x-csrftoken': session.csrf }, 'Referer checking failed - no Referer.'],
      ['a foreign Referer', { cookie, referer: `${FOREIGN}/page`, 'x-csrftoken': session.csrf }, `Referer checking failed - ${FOREIGN}/page does not match any trusted origins.`],
      ['a malformed Referer', { cookie, referer: 'not a url', 'x-csrftoken': session.csrf }, 'Referer checking failed - Referer is malformed.'],
    ];
    for (const [what, headers, reason] of cases) {
      for (const [method, path] of [['POST', '/api/tasks/'], ['PATCH', '/dj-rest-auth/user/'], ['POST', '/dj-rest-auth/password/change/'], ['DELETE', '/api/tasks/1/']] as const) {
        const reply = await call(served.base, method, path, { headers, body: { title: 'forged', first_name: 'Mallory' } });
        assert.equal(reply.status, 403, `${what}: ${method} ${path}`);
        assert.deepEqual(reply.body, { detail: `CSRF Failed: ${reason}` }, what);
      }
    }
    assert.deepEqual(await storedTasks(served.database), []);
    assert.equal(((await call(served.base, 'GET', '/dj-rest-auth/user/', { headers: fromPage(session) })).body as { first_name: string }).first_name, '');
  });

  test('when a cookie-authenticated request is safe, or an unsafe one passes both checks, then it is served', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const cookie = `my-app-auth=${session.access}`;
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: { cookie, origin: FOREIGN } })).status, 200, 'reads need no CSRF token');
    const created = await call(served.base, 'POST', '/api/tasks/', { headers: fromPage(session), body: { title: 'From the page' } });
    assert.equal(created.status, 201);
    const byReferer = await call(served.base, 'POST', '/api/tasks/', {
      headers: { cookie: `${cookie}; csrftoken=${session.csrf}`, referer: `${PAGE}/tasks`, 'x-csrftoken': session.csrf },
      body: { title: 'Referer instead of Origin' },
    });
    assert.equal(byReferer.status, 201);
    // The API's own origin is trusted too, as Django's CSRF check trusts it.
    const sameOrigin = await call(served.base, 'POST', '/api/tasks/', { headers: { ...fromPage(session), origin: served.base }, body: { title: 'Same origin' } });
    assert.equal(sameOrigin.status, 201);
    assert.equal((await storedTasks(served.database)).length, 3);
  });

  test('when credentials come in a header, then the header decides and cookies are neither used nor CSRF-checked', async (t) => {
    const served = await serve(t);
    const [alice, bob] = [await createUser(served.app), await createUser(served.app)];
    const bobs = await browserLogin(served.base, bob);
    const cookie = `my-app-auth=${bobs.access}`;
    const created = await call(served.base, 'POST', '/api/tasks/', { headers: { ...alice.auth, cookie, origin: FOREIGN }, body: { title: "Alice's" } });
    assert.equal(created.status, 201);
    assert.equal((created.body as { owner: number }).owner, alice.id);
    const invalid = await call(served.base, 'GET', '/api/tasks/', { headers: { authorization: 'Token nope', cookie } });
    assert.deepEqual(invalid.body, { detail: 'Invalid token.' });
    // Another scheme is no credential of this API: the cookie is used, with its CSRF check.
    const basic = await call(served.base, 'POST', '/api/tasks/', { headers: { authorization: 'Basic YTpi', cookie, origin: PAGE }, body: { title: 'x' } });
    assert.deepEqual(basic.body, { detail: 'CSRF Failed: CSRF cookie not set.' });
    // A refresh token in the body needs no CSRF token either.
    const refreshed = await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { headers: { origin: FOREIGN }, body: { refresh: bobs.refresh } });
    assert.equal(refreshed.status, 200);
  });

  test('when the refresh, verify or logout endpoint takes its token from a cookie, then the CSRF check applies and a refusal changes nothing', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const before = await browserSessions(served, alice.id);
    for (const [path, kind] of [['/dj-rest-auth/token/refresh/', 'refresh'], ['/dj-rest-auth/token/verify/', 'access'], ['/dj-rest-auth/logout/', 'refresh'], ['/dj-rest-auth/logout/', 'access']] as const) {
      const headers = { ...fromPage(session, kind), origin: FOREIGN };
      const reply = await call(served.base, 'POST', path, { headers });
      assert.equal(reply.status, 403, `${path} with the ${kind} cookie`);
      assert.deepEqual(reply.setCookies, []);
      const missing = await call(served.base, 'POST', path, { headers: { ...fromPage(session, kind), 'x-csrftoken': '' } });
      assert.equal(missing.status, 403);
    }
    assert.deepEqual(await browserSessions(served, alice.id), before);
    assert.deepEqual((await call(served.base, 'POST', '/dj-rest-auth/token/verify/', { headers: fromPage(session) })).body, {});
  });

  test('when a login or sign-up comes from an untrusted page in cookie mode, then it is refused before any password is checked (login CSRF)', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const body = { username: alice.username, password: PASSWORD };
    for (const headers of [{ origin: FOREIGN }, { origin: 'null' }, { referer: `${FOREIGN}/` }] as Record<string, string>[]) {
      const reply = await call(served.base, 'POST', '/dj-rest-auth/login/', { headers, body });
      assert.equal(reply.status, 403, JSON.stringify(headers));
      assert.match((reply.body as { detail: string }).detail, /^CSRF Failed: (Origin|Referer) checking failed/);
      assert.deepEqual(reply.setCookies, []);
      const signUp = await call(served.base, 'POST', '/dj-rest-auth/registration/', { headers, body: { username: 'mallory', password1: PASSWORD, password2: PASSWORD } });
      assert.equal(signUp.status, 403);
    }
    assert.deepEqual(await browserSessions(served, alice.id), []);
    // A client that is not a browser names no page: it may log in.
    assert.equal((await call(served.base, 'POST', '/dj-rest-auth/login/', { body })).status, 200);
    assert.equal((await call(served.base, 'POST', '/dj-rest-auth/login/', { headers: { referer: `${PAGE}/login` }, body })).status, 200);
  });
});

describe(`[${dialectName}] cookie mode: credentialed CORS`, () => {
  test('when an allowed origin asks, then replies and preflights allow credentials; a foreign origin gets no Access-Control header at all', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const preflight = await call(served.base, 'OPTIONS', '/api/tasks/', { headers: { origin: PAGE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-csrftoken' } });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.headers.get('access-control-allow-origin'), PAGE);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(String(preflight.headers.get('access-control-allow-headers')), /x-csrftoken/);
    const reply = await call(served.base, 'GET', '/api/tasks/', { headers: fromPage(session) });
    assert.equal(reply.headers.get('access-control-allow-credentials'), 'true');

    for (const request of [
      () => call(served.base, 'OPTIONS', '/api/tasks/', { headers: { origin: FOREIGN, 'access-control-request-method': 'POST' } }),
      () => call(served.base, 'GET', '/api/tasks/', { headers: { cookie: `my-app-auth=${session.access}`, origin: FOREIGN } }),
      () => call(served.base, 'POST', '/dj-rest-auth/login/', { headers: { origin: FOREIGN }, body: { username: alice.username, password: PASSWORD } }),
    ]) {
      const foreign = await request();
      const accessControl = [...foreign.headers.keys()].filter((name) => name.startsWith('access-control-'));
      assert.deepEqual(accessControl, []);
      assert.match(String(foreign.headers.get('vary')), /Origin/);
    }
  });
});

describe('a cookie\'s Max-Age', () => {
  const now = Date.parse('2026-01-01T00:00:10.900Z');
  test('when the token has less than a second left, then its cookie still lives a second rather than being deleted at once', () => {
    assert.equal(maxAgeSeconds(new Date('2026-01-01T00:00:11Z'), now), 1);
  });
  test('when the token has whole seconds and a part left, then the part counts as a second', () => {
    assert.equal(maxAgeSeconds(new Date('2026-01-01T00:00:12Z'), now), 2);
    assert.equal(maxAgeSeconds(new Date('2026-01-01T00:05:10.900Z'), now), 300);
  });
  test('when the token has expired, then Max-Age is 0', () => {
    assert.equal(maxAgeSeconds(new Date('2026-01-01T00:00:10.900Z'), now), 0);
    assert.equal(maxAgeSeconds(new Date('2026-01-01T00:00:09Z'), now), 0);
  });
});
