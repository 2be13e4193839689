import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAccountsRepository } from '../../src/accounts/repository.js';
import { createUser, dialectName, login, PASSWORD } from '../helpers.js';
import { storedSessions } from '../accounts/support.js';
import { ACCESS_REFUSED, browserLogin, browserSessions, call, claimsOf, forgeToken, serve, TOKEN_REFUSED } from './support.js';

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe(`[${dialectName}] access tokens on the API`, () => {
  test('when an access token is sent as Bearer, then every authenticated endpoint serves its user: tasks, lists, the account and its sessions', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const created = await call(served.base, 'POST', '/api/tasks/', { headers: bearer(session.access), body: { title: 'From a browser session' } });
    assert.equal(created.status, 201);
    assert.equal((created.body as { owner: number }).owner, alice.id);
    const tasks = await call(served.base, 'GET', '/api/tasks/', { headers: bearer(session.access) });
    assert.deepEqual((tasks.body as { title: string }[]).map((task) => task.title), ['From a browser session']);
    const list = await call(served.base, 'POST', '/api/lists/', { headers: bearer(session.access), body: { name: 'Team' } });
    assert.equal(list.status, 201);
    assert.equal((await call(served.base, 'GET', '/api/lists/', { headers: bearer(session.access) })).status, 200);
    assert.equal(((await call(served.base, 'GET', '/api/user/', { headers: bearer(session.access) })).body as { id: number }).id, alice.id);

    const sessions = (await call(served.base, 'GET', '/api/sessions/', { headers: bearer(session.access) })).body as { id: number; current: boolean }[];
    assert.equal(sessions.length, 2, 'the opaque token of createUser and this browser session');
    const [row] = await browserSessions(served, alice.id);
    assert.deepEqual(sessions.find((each) => each.current)?.id, row!.id);
    assert.equal(claimsOf(session.access).sid, row!.id);
  });

  test('when an access token outlives its lifetime, then it is refused, and the refresh token brings a new one', async (t) => {
    const served = await serve(t, { env: { JWT_ACCESS_LIFETIME_SECONDS: '1' } });
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: bearer(session.access) })).status, 200);
    await new Promise((done) => setTimeout(done, 2100));
    const expired = await call(served.base, 'GET', '/api/tasks/', { headers: bearer(session.access) });
    assert.equal(expired.status, 401);
    assert.deepEqual(expired.body, ACCESS_REFUSED);
    const refreshed = await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { body: { refresh: session.refresh } });
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: bearer((refreshed.body as { access: string }).access) })).status, 200);
  });

  test('when access tokens are expired, forged, of another type or malformed, then each is refused with SimpleJWT\'s reply and WWW-Authenticate: Token', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const claims = claimsOf(session.access);
    const past = Math.floor(Date.now() / 1000) - 10;
    const otherKey = new TextEncoder().encode('another key, not the one this server signs with');
    const [header, payload, signature] = session.access.split('.') as [string, string, string];
    const tampered = Buffer.from(JSON.stringify({ ...claims, user_id: 999 })).toString('base64url');
    const refused = {
      expired: await forgeToken(served, { ...claims, iat: past - 300, exp: past }),
      'signed with another key': await forgeToken(served, claims, otherKey),
      'a refresh token': session.refresh,
      'with a changed payload': `${header}.${tampered}.${signature}`,
      'of a session that does not exist': await forgeToken(served, { ...claims, sid: 999_999 }),
      'of another epoch': await forgeToken(served, { ...claims, epoch: Number(claims.epoch) + 1 }),
      'without a type': await forgeToken(served, { user_id: claims.user_id, sid: claims.sid, epoch: claims.epoch }),
      'of a user id that is text': await forgeToken(served, { ...claims, user_id: String(claims.user_id) }),
      'unsigned (alg none)': `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`,
      'of three parts of garbage': 'aaaa.bbbb.cccc',
    };
    for (const [what, token] of Object.entries(refused)) {
      const reply = await call(served.base, 'GET', '/api/tasks/', { headers: bearer(token) });
      assert.equal(reply.status, 401, what);
      assert.equal(reply.headers.get('www-authenticate'), 'Token', what);
      // A token that is not three base64url parts is taken for an opaque key.
      assert.deepEqual(reply.body, token.endsWith('.') ? { detail: 'Invalid token.' } : ACCESS_REFUSED, what);
    }
    // A JWT sent with the Token keyword is looked up as an opaque key.
    assert.deepEqual((await call(served.base, 'GET', '/api/tasks/', { headers: { authorization: `Token ${session.access}` } })).body, { detail: 'Invalid token.' });
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: bearer(session.access) })).status, 200);
  });

  test('when a browser session is revoked by any of the existing ways, then its access token is refused at once', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const accessOk = async (token: string) => (await call(served.base, 'GET', '/api/tasks/', { headers: bearer(token) })).status === 200;

    const revokedById = await browserLogin(served.base, alice);
    const [row] = await browserSessions(served, alice.id);
    assert.equal((await call(served.base, 'DELETE', `/api/sessions/${row!.id}/`, { headers: alice.auth })).status, 204);
    assert.equal(await accessOk(revokedById.access), false, 'DELETE /api/sessions/<id>/');

    const loggedOut = await browserLogin(served.base, alice);
    assert.equal((await call(served.base, 'POST', '/api/logout/', { headers: bearer(loggedOut.access) })).status, 204);
    assert.equal(await accessOk(loggedOut.access), false, 'POST /api/logout/ with the access token');

    const everywhere = await browserLogin(served.base, alice);
    assert.equal((await call(served.base, 'POST', '/api/logout/all/', { headers: alice.auth })).status, 204);
    assert.equal(await accessOk(everywhere.access), false, 'POST /api/logout/all/');
    assert.deepEqual((await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { body: { refresh: everywhere.refresh } })).body, TOKEN_REFUSED);
  });

  test('when the password is changed through /api/user/password/, then every other browser session ends, the one used goes on', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const other = await browserLogin(served.base, alice);
    const used = await browserLogin(served.base, alice);
    const changed = await call(served.base, 'POST', '/api/user/password/', { headers: bearer(used.access), body: { current_password: PASSWORD, new_password: 'a brand new passphrase' } });
    assert.equal(changed.status, 204);
    assert.deepEqual((await call(served.base, 'GET', '/api/tasks/', { headers: bearer(other.access) })).body, ACCESS_REFUSED);
    assert.deepEqual((await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { body: { refresh: other.refresh } })).body, TOKEN_REFUSED);
    // The kept session's access token names the old epoch; its refresh token gets one of the new.
    const refreshed = await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { body: { refresh: used.refresh } });
    assert.equal(refreshed.status, 200);
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: bearer((refreshed.body as { access: string }).access) })).status, 200);
  });

  test('when the user is deactivated, then their access tokens and refresh tokens are refused at once, and stay refused after reactivation', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    const session = await browserLogin(served.base, alice);
    const accounts = createAccountsRepository(served.database);
    await accounts.setActive(alice.username, false);
    assert.deepEqual((await call(served.base, 'GET', '/api/tasks/', { headers: bearer(session.access) })).body, ACCESS_REFUSED);
    assert.deepEqual((await call(served.base, 'POST', '/dj-rest-auth/token/refresh/', { body: { refresh: session.refresh } })).body, TOKEN_REFUSED);
    await accounts.setActive(alice.username, true);
    assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: bearer(session.access) })).status, 401);
    assert.deepEqual(await storedSessions(served.database, alice.id), []);
  });

  test('when an opaque key is sent as Bearer or Token beside browser sessions, then it works exactly as before', async (t) => {
    const served = await serve(t);
    const alice = await createUser(served.app);
    await browserLogin(served.base, alice);
    const token = await login(served.app, alice.username, PASSWORD);
    for (const authorization of [`Token ${token}`, `Bearer ${token}`, `token ${token}`]) {
      assert.equal((await call(served.base, 'GET', '/api/tasks/', { headers: { authorization } })).status, 200, authorization);
    }
    const unknown = await call(served.base, 'GET', '/api/tasks/', { headers: { authorization: 'Bearer 0123456789abcdef0123456789abcdef01234567' } });
    assert.deepEqual(unknown.body, { detail: 'Invalid token.' });
    assert.deepEqual((await call(served.base, 'GET', '/api/tasks/')).body, { detail: 'Authentication credentials were not provided.' });
  });
});
