import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createUser, dialectName, PASSWORD, uniqueUsername } from '../helpers.js';
import { countRows, storedSessions, storedUser } from '../accounts/support.js';
import { ACCESS_REFUSED, PAGE, TOKEN_REFUSED, browserLogin, browserSessions, call, claimsOf, forgeToken, serve, type Served } from './support.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const USER_KEYS = ['pk', 'username', 'email', 'first_name', 'last_name'];

describe(`[${dialectName}] POST /dj-rest-auth/login/`, () => {
  test('when the credentials are right, then the reply is dj-rest-auth\'s: an access token, the refresh token left to its cookie, and the user', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app, { email: 'alice@example.com' });
    const reply = await call(served.base, 'POST', '/dj-rest-auth/login/', { headers: { origin: PAGE }, body: { username: alice.username, password: PASSWORD } });
    assert.equal(reply.status, 200);
    const body = reply.body as { access: string; refresh: string; user: Record<string, unknown> };
    assert.deepEqual(Object.keys(body), ['access', 'refresh', 'user']);
    assert.equal(body.refresh, '');
    assert.deepEqual(body.user, { pk: alice.id, username: alice.username, email: 'alice@example.com', first_name: '', last_name: '' });
    const claims = claimsOf(body.access);
    assert.deepEqual(Object.keys(claims).sort(), ['epoch', 'exp', 'iat', 'jti', 'sid', 'token_type', 'user_id']);
    assert.equal(claims.token_type, 'access');
    assert.equal(claims.user_id, alice.id);
    assert.equal(Number(claims.exp) - Number(claims.iat), 300);
    const [session] = await browserSessions(served, alice.id);
    assert.equal(session!.id, claims.sid);
    assert.match(String(session!.refresh_digest), /^[0-9a-f]{64}$/);
    assert.notEqual((await storedUser(served.database, alice.id))!.last_login, null);
  });

  test('when the credentials are wrong, missing or of an inactive user, then the replies are those of /api/login/ and no session starts', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const sessionsBefore = await countRows(served.database, 'auth_tokens');
    const cases: [unknown, number, unknown][] = [
      [{ username: alice.username, password: 'wrong password' }, 400, { non_field_errors: ['Unable to log in with provided credentials.'] }],
      [{ username: 'nobody-here', password: PASSWORD }, 400, { non_field_errors: ['Unable to log in with provided credentials.'] }],
      [{}, 400, { username: ['This field is required.'], password: ['This field is required.'] }],
      [{ username: ' ', password: '' }, 400, { username: ['This field may not be blank.'], password: ['This field may not be blank.'] }],
      [{ username: alice.username, password: 'x\u0000y' }, 400, { password: ['Null characters are not allowed.'] }],
    ];
    for (const [body, status, expected] of cases) {
      const reply = await call(served.base, 'POST', '/dj-rest-auth/login/', { body });
      assert.equal(reply.status, status, JSON.stringify(body));
      assert.deepEqual(reply.body, expected);
      assert.deepEqual(reply.setCookies, []);
    }
    await served.database.db.updateTable('users').set({ is_active: false }).where('id', '=', alice.id).execute();
    assert.equal((await call(served.base, 'POST', '/dj-rest-auth/login/', { body: { username: alice.username, password: PASSWORD } })).status, 400);
    assert.equal(await countRows(served.database, 'auth_tokens'), sessionsBefore);
  });

  test('when failed logins pass the limit, then even the right password is throttled, as on /api/login/', async (t) => {
    const served = await serve(t, { config: { throttle: { loginPerUsername: { max: 2, windowSeconds: 60 }, loginPerUsernameTotal: { max: 100, windowSeconds: 60 }, loginPerAddress: { max: 100, windowSeconds: 60 }, registerPerAddress: { max: 100, windowSeconds: 60 }, passwordResetPerAddress: { max: 100, windowSeconds: 60 }, passwordResetPerEmail: { max: 100, windowSeconds: 60 } } } });
    const alice = await createUser(served.app);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      assert.equal((await call(served.base, 'POST', '/dj-rest-auth/login/', { body: { username: alice.username, password: 'wrong' } })).status, 400);
    }
    const refused = await call(served.base, 'POST', '/dj-rest-auth/login/', { body: { username: alice.username, password: PASSWORD } });
    assert.equal(refused.status, 429);
    assert.match(String(refused.headers.get('retry-after')), /^\d+$/);
    assert.match((refused.body as { detail: string }).detail, /^Request was throttled\. Expected available in \d+ seconds?\.$/);
    // The same counters: /api/login/ is refused too.
    assert.equal((await call(served.base, 'POST', '/api/login/', { body: { username: alice.username, password: PASSWORD } })).status, 429);
  });
});

describe(`[${dialectName}] POST /dj-rest-auth/registration/`, () => {
  test('when the sign-up is valid, then the account exists, a session starts and the reply is 201 with its tokens and user', async (t) => {
    const served = await serve(t);
    const username = uniqueUsername('reg');
    const reply = await call(served.base, 'POST', '/dj-rest-auth/registration/', {
      headers: { origin: PAGE },
      body: { username, email: 'reg@example.com', password1: PASSWORD, password2: PASSWORD },
    });
    assert.equal(reply.status, 201);
    const body = reply.body as { access: string; refresh: string; user: { pk: number } };
    assert.deepEqual(body.user, { pk: body.user.pk, username, email: 'reg@example.com', first_name: '', last_name: '' });
    assert.equal(body.refresh, '');
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: bearer(body.access) })).status, 200);
    assert.equal((await call(served.base, 'POST', '/api/login/', { body: { username, password: PASSWORD } })).status, 200);
  });

  test('when a sign-up is invalid, then every failing field is reported with the password policy of /api/register/, and nothing is created', async (t) => {
    const served = await serve(t);
    const taken = await createUser(served.app);
    const usersBefore = await countRows(served.database, 'users');
    const cases: [Record<string, unknown>, unknown][] = [
      [{}, { username: ['This field is required.'], password1: ['This field is required.'], password2: ['This field is required.'] }],
      [
        { username: taken.username.toUpperCase(), email: 'not an address', password1: '12345678', password2: '12345678' },
        {
          username: ['A user with that username already exists.'],
          email: ['Enter a valid email address.'],
          password1: ['This password is too common.', 'This password is entirely numeric.'],
        },
      ],
      [{ username: 'carlotta', password1: 'carlotta1', password2: 'carlotta1' }, { password1: ['The password is too similar to the username.'] }],
      [{ username: 'dora', password1: PASSWORD, password2: `${PASSWORD}!` }, { non_field_errors: ["The two password fields didn't match."] }],
      [{ username: 'nul\u0000', password1: PASSWORD, password2: PASSWORD }, { username: ['Null characters are not allowed.'] }],
      [{ username: 'x'.repeat(151), password1: PASSWORD, password2: true }, { username: ['Ensure this field has no more than 150 characters.'], password2: ['Not a valid string.'] }],
    ];
    for (const [body, expected] of cases) {
      const reply = await call(served.base, 'POST', '/dj-rest-auth/registration/', { body });
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.deepEqual(reply.body, expected);
    }
    assert.equal(await countRows(served.database, 'users'), usersBefore);
  });
});

describe(`[${dialectName}] /dj-rest-auth/user/`, () => {
  test('when the user reads and changes their details, then GET, PUT and PATCH answer dj-rest-auth\'s shape and pk stays read-only', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app, { email: 'alice@example.com' });
    const { access } = await browserLogin(served.base, alice);
    const read = await call(served.base, 'GET', '/dj-rest-auth/user/', { headers: bearer(access) });
    assert.deepEqual(Object.keys(read.body as object), USER_KEYS);

    const renamed = `${alice.username}_2`;
    const put = await call(served.base, 'PUT', '/dj-rest-auth/user/', { headers: bearer(access), body: { pk: 999, username: renamed, first_name: '  Alice ', last_name: 'Liddell' } });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body, { pk: alice.id, username: renamed, email: 'alice@example.com', first_name: 'Alice', last_name: 'Liddell' });
    const patch = await call(served.base, 'PATCH', '/dj-rest-auth/user/', { headers: alice.auth, body: { email: '' } });
    assert.deepEqual(patch.body, { pk: alice.id, username: renamed, email: '', first_name: 'Alice', last_name: 'Liddell' });
    // Only letter case changes: still the same account's name.
    const recased = await call(served.base, 'PATCH', '/dj-rest-auth/user/', { headers: alice.auth, body: { username: renamed.toUpperCase() } });
    assert.equal(recased.status, 200);
    // The new username logs in, the old one no longer does.
    assert.equal((await call(served.base, 'POST', '/api/login/', { body: { username: renamed, password: PASSWORD } })).status, 200);
    assert.equal((await call(served.base, 'POST', '/api/login/', { body: { username: alice.username, password: PASSWORD } })).status, 400);
  });

  test('when a change is invalid, then every failing field is reported and the stored user is unchanged', async (t) => {
    const served = await serve(t);
    const [alice, bob] = [await createUser(served.app), await createUser(served.app)];
    const before = await storedUser(served.database, alice.id);
    const cases: ['PUT' | 'PATCH', Record<string, unknown>, unknown][] = [
      ['PUT', { first_name: 'A' }, { username: ['This field is required.'] }],
      ['PATCH', { username: bob.username.toUpperCase() }, { username: ['A user with that username already exists.'] }],
      ['PATCH', { username: 'has space', email: 'x@', first_name: 'f'.repeat(151), last_name: null }, {
        username: ['Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'],
        email: ['Enter a valid email address.'],
        first_name: ['Ensure this field has no more than 150 characters.'],
        last_name: ['This field may not be null.'],
      }],
      ['PATCH', { last_name: 'a\u0000b' }, { last_name: ['Null characters are not allowed.'] }],
    ];
    for (const [method, body, expected] of cases) {
      const reply = await call(served.base, method, '/dj-rest-auth/user/', { headers: alice.auth, body });
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.deepEqual(reply.body, expected);
    }
    assert.deepEqual(await storedUser(served.database, alice.id), before);
    assert.equal((await call(served.base, 'DELETE', '/dj-rest-auth/user/', { headers: alice.auth })).status, 405);
    assert.equal((await call(served.base, 'GET', '/dj-rest-auth/user/')).status, 401);
  });
});

describe(`[${dialectName}] POST /dj-rest-auth/password/change/`, () => {
  test('when the old password is right and the new one acceptable, then it is saved and every session of the user ends, this one too', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const used = await browserLogin(served.base, alice);
    const other = await browserLogin(served.base, alice);
    const newPassword = 'an entirely new passphrase';
    const reply = await call(served.base, 'POST', '/dj-rest-auth/password/change/', {
      headers: bearer(used.access),
      body: { old_password: PASSWORD, new_password1: newPassword, new_password2: newPassword },
    });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { detail: 'New password has been saved.' });
    assert.deepEqual(await storedSessions(served.database, alice.id), []);
    for (const session of [used, other]) {
      assert.deepEqual((await call(served.base, 'GET', '/api/tasks/', { headers: bearer(session.access) })).body, ACCESS_REFUSED);
      assert.deepEqual((await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { body: { refresh: session.refresh } })).body, TOKEN_REFUSED);
    }
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: alice.auth })).status, 401);
    assert.equal((await call(served.base, 'POST', '/dj-rest-auth/login/', { body: { username: alice.username, password: newPassword } })).status, 200);
    // The cookies are cleared: the browser logs in again.
    assert.ok(reply.setCookies.some((cookie) => cookie.startsWith('my-app-auth=;')));
  });

  test('when the old password is wrong or the new ones differ or fail the policy, then nothing changes', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const { access } = await browserLogin(served.base, alice);
    const before = await storedUser(served.database, alice.id);
    const cases: [Record<string, unknown>, unknown][] = [
      [{}, { old_password: ['This field is required.'], new_password1: ['This field is required.'], new_password2: ['This field is required.'] }],
      [{ old_password: 'wrong', new_password1: 'a fine passphrase', new_password2: 'a fine passphrase' }, { old_password: ['Your old password was entered incorrectly. Please enter it again.'] }],
      [{ old_password: PASSWORD, new_password1: 'a fine passphrase', new_password2: 'another passphrase' }, { new_password2: ['The two password fields didn’t match.'] }],
      [{ old_password: PASSWORD, new_password1: 'x7#q', new_password2: 'x7#q' }, { new_password2: ['This password is too short. It must contain at least 8 characters.'] }],
      [{ old_password: PASSWORD, new_password1: alice.username, new_password2: alice.username }, { new_password2: ['The password is too similar to the username.'] }],
    ];
    for (const [body, expected] of cases) {
      const reply = await call(served.base, 'POST', '/dj-rest-auth/password/change/', { headers: bearer(access), body });
      assert.equal(reply.status, 400, JSON.stringify(body));
      assert.deepEqual(reply.body, expected);
    }
    assert.deepEqual(await storedUser(served.database, alice.id), before);
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: bearer(access) })).status, 200);
  });
});

describe(`[${dialectName}] POST /dj-rest-auth/token/refresh/`, () => {
  async function refresh(served: Served, token: string) {
    return call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { body: { refresh: token } });
  }

  test('when a refresh token is used, then it is replaced: new access and refresh tokens, the session extended, and the old token used up', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const [before] = await browserSessions(served, alice.id);
    const first = await refresh(served, session.refresh);
    assert.equal(first.status, 200);
    const body = first.body as { access: string; refresh: string; access_expiration: string };
    assert.deepEqual(Object.keys(body), ['access', 'refresh', 'access_expiration']);
    // Sent in the body, so the client keeps its tokens itself: the next one comes in the body.
    assert.notEqual(body.refresh, session.refresh);
    assert.equal(claimsOf(body.refresh).token_type, 'refresh');
    assert.equal(claimsOf(body.refresh).sid, before!.id);
    assert.match(body.access_expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const [after] = await browserSessions(served, alice.id);
    assert.notEqual(after!.refresh_digest, before!.refresh_digest);
    assert.ok(after!.expires_at >= before!.expires_at);
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: bearer(body.access) })).status, 200);
    // The next one rotates again.
    assert.equal((await refresh(served, body.refresh)).status, 200);
  });

  test('when a refresh token that was already used is presented, then its whole session ends: the tokens issued after it are refused too', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const stolen = await browserLogin(served.base, alice);
    const other = await browserLogin(served.base, alice);
    const rotated = (await refresh(served, stolen.refresh)).body as { access: string; refresh: string };
    const replay = await refresh(served, stolen.refresh);
    assert.equal(replay.status, 401);
    assert.deepEqual(replay.body, TOKEN_REFUSED);
    assert.equal(replay.headers.get('www-authenticate'), 'Token');
    assert.deepEqual((await refresh(served, rotated.refresh)).body, TOKEN_REFUSED);
    assert.deepEqual((await call(served.base, 'GET', '/api/tasks/', { headers: bearer(rotated.access) })).body, ACCESS_REFUSED);
    // Only that session: the user's other browser session and their token live on.
    const sessions = await browserSessions(served, alice.id);
    assert.deepEqual(sessions.map((row) => row.id), [claimsOf(other.access).sid]);
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: alice.auth })).status, 200);
  });

  test('when two refreshes present the same token at once, then at most one gets tokens and the session ends, so neither set works afterwards', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    for (let round = 0; round < 5; round += 1) {
      const session = await browserLogin(served.base, alice);
      const replies = await Promise.all([refresh(served, session.refresh), refresh(served, session.refresh)]);
      const statuses = replies.map((reply) => reply.status).sort();
      assert.deepEqual(statuses, [200, 401], `round ${round}`);
      const winner = replies.find((reply) => reply.status === 200)!.body as { access: string; refresh: string };
      assert.deepEqual((await refresh(served, winner.refresh)).body, TOKEN_REFUSED);
      assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: bearer(winner.access) })).status, 401);
    }
    assert.deepEqual(await browserSessions(served, alice.id), []);
  });

  test('when the refresh token is expired, forged, an access token, missing or not text, then it is refused and nothing changes', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const claims = claimsOf(session.refresh);
    const past = Math.floor(Date.now() / 1000) - 10;
    const before = await browserSessions(served, alice.id);
    for (const token of [
      await forgeToken(served, { ...claims, iat: past - 60, exp: past }),
      await forgeToken(served, claims, new TextEncoder().encode('some other key of some length')),
      session.access,
      'not-a-token',
      'x'.repeat(5000),
    ]) {
      const reply = await refresh(served, token);
      assert.equal(reply.status, token.length > 4096 ? 400 : 401, token.slice(0, 40));
    }
    assert.deepEqual((await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { body: {} })).body, { detail: 'No valid refresh token found.', code: 'token_not_valid' });
    assert.deepEqual((await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { body: { refresh: 12 } })).status, 401);
    assert.deepEqual((await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { body: { refresh: ['a'] } })).body, { refresh: ['Not a valid string.'] });
    assert.deepEqual(await browserSessions(served, alice.id), before);
    // An expired token of the session did not end it: it was no proof of theft.
    assert.equal((await refresh(served, session.refresh)).status, 200);
  });
});

describe(`[${dialectName}] POST /dj-rest-auth/token/verify/`, () => {
  test('when a token is live, then {} answers; once its session ends or it is used up, then it is refused', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const verify = (token: unknown) => call(served.base, 'POST', '/dj-rest-auth/token/verify/', { body: { token } });
    assert.deepEqual((await verify(session.access)).body, {});
    assert.deepEqual((await verify(session.refresh)).body, {});
    const rotated = (await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { body: { refresh: session.refresh } })).body as { refresh: string };
    assert.deepEqual((await verify(session.refresh)).body, TOKEN_REFUSED, 'used up');
    // Verifying a used token changes nothing: the session lives on.
    assert.deepEqual((await verify(rotated.refresh)).body, {});
    assert.deepEqual((await verify('garbage')).body, TOKEN_REFUSED);
    assert.deepEqual((await call(served.base, 'POST', '/dj-rest-auth/token/verify/', { body: {} })).body, { token: ['This field is required.'] });
    assert.equal((await call(served.base, 'POST', '/dj-rest-auth/logout/', { headers: bearer(session.access) })).status, 200);
    assert.deepEqual((await verify(session.access)).body, TOKEN_REFUSED);
    assert.deepEqual((await verify(rotated.refresh)).body, TOKEN_REFUSED);
  });
});

describe(`[${dialectName}] POST /dj-rest-auth/logout/`, () => {
  test('when the Authorization header names a session, then that session ends, whatever kind it is', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const reply = await call(served.base, 'POST', '/dj-rest-auth/logout/', { headers: bearer(session.access) });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { detail: 'Successfully logged out.' });
    assert.deepEqual(await browserSessions(served, alice.id), []);
    assert.equal((await call(served.base, 'POST', '/dj-rest-auth/logout/', { headers: alice.auth })).status, 200);
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: alice.auth })).status, 401);
  });

  test('when no credentials come, then nothing ends and the reply is the same; invalid header credentials are refused', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    await browserLogin(served.base, alice);
    const before = await storedSessions(served.database, alice.id);
    assert.deepEqual((await call(served.base, 'POST', '/dj-rest-auth/logout/')).body, { detail: 'Successfully logged out.' });
    const invalid = await call(served.base, 'POST', '/dj-rest-auth/logout/', { headers: { authorization: 'Token 0123456789abcdef0123456789abcdef01234567' } });
    assert.equal(invalid.status, 401);
    assert.deepEqual(invalid.body, { detail: 'Invalid token.' });
    assert.deepEqual(await storedSessions(served.database, alice.id), before);
    assert.equal((await call(served.base, 'GET', '/dj-rest-auth/logout/')).status, 405);
  });
});

describe(`[${dialectName}] cookie mode switched off`, () => {
  test('when JWT_AUTH_COOKIE_USE is false, then no cookie is set or read, the refresh token is in the body, and CORS is not credentialed', async (t) => {
    const served = await serve(t, { env: { JWT_AUTH_COOKIE_USE: 'false' } });
    const alice = await createUser(served.app);
    const login = await call(served.base, 'POST', '/dj-rest-auth/login/', { headers: { origin: 'http://evil.example' }, body: { username: alice.username, password: PASSWORD } });
    assert.equal(login.status, 200, 'no login CSRF check without cookies');
    assert.deepEqual(login.setCookies, []);
    const { access, refresh } = login.body as { access: string; refresh: string };
    assert.equal(claimsOf(refresh).token_type, 'refresh');
    const byCookie = await call(served.base, 'GET', '/api/tasks/', { headers: { cookie: `my-app-auth=${access}` } });
    assert.deepEqual(byCookie.body, { detail: 'Authentication credentials were not provided.' });
    const refreshed = await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { headers: { origin: PAGE }, body: { refresh } });
    assert.equal(refreshed.status, 200);
    assert.equal(refreshed.headers.get('access-control-allow-credentials'), null);
    assert.equal(refreshed.headers.get('access-control-expose-headers'), 'ETag');
    assert.notEqual((refreshed.body as { refresh: string }).refresh, '');
  });
});
