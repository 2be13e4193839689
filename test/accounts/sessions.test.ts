import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { buildTestApp, createTask, createUser, dialectName, login } from '../helpers.js';
import { INVALID_TOKEN, postLogin, storedSessions, timestampIn } from './support.js';

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const auth = (token: string) => ({ authorization: `Token ${token}` });
/** The same token with its last character changed. */
const forged = (token: string) => token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');

describe(`[${dialectName}] sessions`, () => {
  test("when another user's or a missing session is revoked with an unparsable body, then it is 404 before the body's 415, and nothing is revoked", async (t) => {
    const { app } = await buildTestApp(t);
    const [alice, bob] = await Promise.all([createUser(app), createUser(app)]);
    const bobs = (await app.inject({ method: 'GET', url: '/api/sessions/', headers: bob.auth })).json()[0].id;
    for (const id of [bobs, 999999]) {
      const response = await app.inject({ method: 'DELETE', url: `/api/sessions/${id}/`, headers: { ...alice.auth, 'content-type': 'garbage' }, payload: 'x' });
      assert.equal(response.statusCode, 404, String(id));
      assert.deepEqual(response.json(), { detail: 'Not found.' });
    }
    assert.equal((await app.inject({ method: 'GET', url: '/api/user/', headers: bob.auth })).statusCode, 200);
    const own = (await app.inject({ method: 'GET', url: '/api/sessions/', headers: alice.auth })).json()[0].id;
    const refused = await app.inject({ method: 'DELETE', url: `/api/sessions/${own}/`, headers: { ...alice.auth, 'content-type': 'garbage' }, payload: 'x' });
    assert.equal(refused.statusCode, 415);
    assert.equal((await app.inject({ method: 'GET', url: '/api/user/', headers: alice.auth })).statusCode, 200);
  });

  test('when a user logs in twice, then each login gets its own token, stored only as its SHA-256 digest', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const second = await postLogin(app, user.username, user.password, { headers: { 'user-agent': 'Firefox on a laptop' } });
    assert.equal(second.statusCode, 200);
    assert.deepEqual(Object.keys(second.json()), ['token']);
    const token: string = second.json().token;
    assert.match(token, /^[0-9a-f]{40}$/);
    assert.notEqual(token, user.token);

    const rows = await storedSessions(database, user.id);
    assert.deepEqual(rows.map((row) => row.digest), [sha256(user.token), sha256(token)]);
    const dump = JSON.stringify(await database.db.selectFrom('auth_tokens').selectAll().execute());
    assert.ok(!dump.includes(user.token) && !dump.includes(token), 'no token is stored in clear');
    assert.equal(rows[1]!.user_agent, 'Firefox on a laptop');
    assert.match(rows[1]!.created_at, TIMESTAMP);
    assert.equal(rows[1]!.last_used_at, rows[1]!.created_at);

    for (const key of [user.token, token]) {
      const me = await app.inject({ method: 'GET', url: '/api/user/', headers: auth(key) });
      assert.equal(me.statusCode, 200);
      assert.equal(me.json().id, user.id);
    }
  });

  test('when one user logs in many times at once, then every login gets a distinct working token', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const replies = await Promise.all(Array.from({ length: 6 }, () => postLogin(app, user.username, user.password)));
    assert.deepEqual(replies.map((reply) => reply.statusCode), [200, 200, 200, 200, 200, 200]);
    const tokens = replies.map((reply) => reply.json().token as string);
    assert.equal(new Set([...tokens, user.token]).size, 7);
    assert.equal((await storedSessions(database, user.id)).length, 7);
    for (const token of tokens) {
      const tasks = await app.inject({ method: 'GET', url: '/api/tasks/', headers: auth(token) });
      assert.equal(tasks.statusCode, 200);
    }
  });

  test('when a session is created, then it expires after the configured lifetime', async (t) => {
    const { app, database } = await buildTestApp(t, { config: { tokenLifetimeSeconds: 3600 } });
    const before = Date.now();
    const user = await createUser(app);
    const [row] = await storedSessions(database, user.id);
    const lifetime = Date.parse(row!.expires_at) - Date.parse(row!.created_at);
    assert.ok(Math.abs(lifetime - 3600_000) < 2000, `lifetime ${lifetime} ms`);
    assert.ok(Date.parse(row!.created_at) >= before - 5);
  });

  test('when no lifetime is configured, then a session lasts 30 days', async (t) => {
    const { app, database, config } = await buildTestApp(t);
    assert.equal(config.tokenLifetimeSeconds, 30 * 24 * 3600);
    const user = await createUser(app);
    const [row] = await storedSessions(database, user.id);
    const lifetime = Date.parse(row!.expires_at) - Date.parse(row!.created_at);
    assert.ok(Math.abs(lifetime - 30 * 24 * 3600_000) < 2000, `lifetime ${lifetime} ms`);
  });

  test('when a token has outlived its lifetime, then it is refused with 401 and hidden from the session list', async (t) => {
    const { app, database } = await buildTestApp(t, { config: { tokenLifetimeSeconds: 1 } });
    const user = await createUser(app, {});
    const fresh = await login(app, user.username, user.password);
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const refused = await app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth });
    assert.equal(refused.statusCode, 401);
    assert.deepEqual(refused.json(), INVALID_TOKEN);
    assert.equal(refused.headers['www-authenticate'], 'Token');

    // A session from a new login is listed; the expired ones are not.
    const stillValid = await login(app, user.username, user.password);
    const list = await app.inject({ method: 'GET', url: '/api/sessions/', headers: auth(stillValid) });
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().length, 1);
    assert.equal(list.json()[0].current, true);
    const refusedToo = await app.inject({ method: 'GET', url: '/api/user/', headers: auth(fresh) });
    assert.equal(refusedToo.statusCode, 401);
    // Expired rows are refused, not deleted by the refusal.
    assert.equal((await storedSessions(database, user.id)).length, 3);
  });

  test('when the stored expiry of a token has passed, then the token is refused even though it exists', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const [row] = await storedSessions(database, user.id);
    await database.db.updateTable('auth_tokens').set({ expires_at: timestampIn(-1) }).where('id', '=', row!.id).execute();

    for (const [method, url] of [['GET', '/api/tasks/'], ['GET', '/api/sessions/'], ['POST', '/api/logout/'], ['DELETE', '/api/user/']] as const) {
      const reply = await app.inject({ method, url, headers: user.auth, payload: { current_password: user.password } });
      assert.equal(reply.statusCode, 401, `${method} ${url}`);
      assert.deepEqual(reply.json(), INVALID_TOKEN);
    }
    assert.ok(await database.db.selectFrom('users').select('id').where('id', '=', user.id).executeTakeFirst());
  });

  test('when a token is used after a minute of rest, then last_used_at is written and the expiry slides forward', async (t) => {
    const { app, database } = await buildTestApp(t, { config: { tokenLifetimeSeconds: 3600 } });
    const user = await createUser(app);
    const [row] = await storedSessions(database, user.id);
    const lastUsed = timestampIn(-120);
    const expires = timestampIn(600);
    await database.db.updateTable('auth_tokens').set({ last_used_at: lastUsed, expires_at: expires }).where('id', '=', row!.id).execute();

    const used = await app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth });
    assert.equal(used.statusCode, 200);
    const [touched] = await storedSessions(database, user.id);
    assert.ok(Date.parse(touched!.last_used_at) > Date.now() - 5000, 'last_used_at is now');
    const slid = Date.parse(touched!.expires_at) - Date.parse(touched!.last_used_at);
    assert.ok(Math.abs(slid - 3600_000) < 2000, `expiry slid to ${slid} ms after use`);

    // Used again within the minute: the row is not written again.
    const again = await app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth });
    assert.equal(again.statusCode, 200);
    const [untouched] = await storedSessions(database, user.id);
    assert.deepEqual(untouched, touched);
  });

  test('when a token is used within a minute of its last use, then the row is not rewritten', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const [before] = await storedSessions(database, user.id);
    for (let i = 0; i < 3; i++) {
      assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth })).statusCode, 200);
    }
    const [after] = await storedSessions(database, user.id);
    assert.deepEqual(after, before);
  });

  test('when the caller lists sessions, then they see their own, the current one marked, and no secrets', async (t) => {
    const { app } = await buildTestApp(t);
    const user = await createUser(app);
    const other = await createUser(app);
    const phone = (await postLogin(app, user.username, user.password, { headers: { 'user-agent': 'Phone' } })).json().token;

    const reply = await app.inject({ method: 'GET', url: '/api/sessions/', headers: auth(phone) });
    assert.equal(reply.statusCode, 200);
    const sessions = reply.json();
    assert.equal(sessions.length, 2);
    for (const session of sessions) {
      assert.deepEqual(Object.keys(session), ['id', 'created_at', 'last_used_at', 'expires_at', 'user_agent', 'current']);
      assert.match(session.created_at, TIMESTAMP);
      assert.match(session.last_used_at, TIMESTAMP);
      assert.match(session.expires_at, TIMESTAMP);
    }
    const current = sessions.filter((session: { current: boolean }) => session.current);
    assert.equal(current.length, 1);
    assert.equal(current[0].user_agent, 'Phone');
    assert.ok(!reply.body.includes(phone) && !reply.body.includes(user.token) && !reply.body.includes(sha256(phone)));
    assert.ok(!reply.body.includes(other.token));

    const fromOther = await app.inject({ method: 'GET', url: '/api/sessions/', headers: other.auth });
    assert.equal(fromOther.json().length, 1);
    assert.equal(fromOther.json()[0].current, true);
  });

  test('when a user revokes one of their sessions, then that token stops working and the others keep working', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const laptop = await login(app, user.username, user.password);
    const [first, second] = await storedSessions(database, user.id);

    const revoked = await app.inject({ method: 'DELETE', url: `/api/sessions/${second!.id}/`, headers: user.auth });
    assert.equal(revoked.statusCode, 204);
    assert.equal(revoked.body, '');
    assert.deepEqual((await storedSessions(database, user.id)).map((row) => row.id), [first!.id]);

    const refused = await app.inject({ method: 'GET', url: '/api/tasks/', headers: auth(laptop) });
    assert.equal(refused.statusCode, 401);
    assert.deepEqual(refused.json(), INVALID_TOKEN);
    assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth })).statusCode, 200);

    const again = await app.inject({ method: 'DELETE', url: `/api/sessions/${second!.id}/`, headers: user.auth });
    assert.equal(again.statusCode, 404);
    assert.deepEqual(again.json(), { detail: 'Not found.' });
  });

  test('when a user revokes the session they are using, then their own token stops working', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const [row] = await storedSessions(database, user.id);
    const revoked = await app.inject({ method: 'DELETE', url: `/api/sessions/${row!.id}/`, headers: user.auth });
    assert.equal(revoked.statusCode, 204);
    assert.equal((await app.inject({ method: 'GET', url: '/api/user/', headers: user.auth })).statusCode, 401);
  });

  test("when a user tries to revoke another user's session, then it is not found and the session survives", async (t) => {
    const { app, database } = await buildTestApp(t);
    const owner = await createUser(app);
    const intruder = await createUser(app);
    const [target] = await storedSessions(database, owner.id);

    for (const payload of [undefined, '{not json', '[]']) {
      const reply = await app.inject({
        method: 'DELETE',
        url: `/api/sessions/${target!.id}/`,
        headers: { ...intruder.auth, 'content-type': 'application/json' },
        payload,
      });
      assert.equal(reply.statusCode, 404);
      assert.deepEqual(reply.json(), { detail: 'Not found.' });
    }
    assert.deepEqual(await storedSessions(database, owner.id), [target]);
    assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/', headers: owner.auth })).statusCode, 200);
  });

  test('when a session id is missing, zero, negative, not a number or beyond 64 bits, then it is not found', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    for (const id of ['999999', '0', '-1', 'abc', '1.5', '99999999999999999999999']) {
      const reply = await app.inject({ method: 'DELETE', url: `/api/sessions/${id}/`, headers: user.auth });
      assert.equal(reply.statusCode, 404, id);
      assert.deepEqual(reply.json(), { detail: 'Not found.' });
    }
    assert.equal((await storedSessions(database, user.id)).length, 1);
  });

  test('when a session is revoked without a valid token, then the answer is 401 and nothing is revoked', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const [row] = await storedSessions(database, user.id);
    const cases: [Record<string, string>, unknown][] = [
      [{}, { detail: 'Authentication credentials were not provided.' }],
      [{ authorization: 'Token 0123456789abcdef0123456789abcdef01234567' }, INVALID_TOKEN],
      [{ authorization: `Token ${forged(user.token)}` }, INVALID_TOKEN],
    ];
    for (const [headers, body] of cases) {
      const reply = await app.inject({ method: 'DELETE', url: `/api/sessions/${row!.id}/`, headers });
      assert.equal(reply.statusCode, 401);
      assert.deepEqual(reply.json(), body);
    }
    assert.equal((await storedSessions(database, user.id)).length, 1);
  });

  test('when a user logs out, then only the token used is revoked', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const other = await login(app, user.username, user.password);

    const reply = await app.inject({ method: 'POST', url: '/api/logout/', headers: user.auth });
    assert.equal(reply.statusCode, 204);
    assert.equal(reply.body, '');
    assert.deepEqual((await storedSessions(database, user.id)).map((row) => row.digest), [sha256(other)]);

    const reused = await app.inject({ method: 'POST', url: '/api/logout/', headers: user.auth });
    assert.equal(reused.statusCode, 401);
    assert.deepEqual(reused.json(), INVALID_TOKEN);
    assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/', headers: auth(other) })).statusCode, 200);
  });

  test('when a user logs out everywhere, then every token of theirs is revoked and other users keep theirs', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const others = [await login(app, user.username, user.password), await login(app, user.username, user.password)];
    const bystander = await createUser(app);

    const reply = await app.inject({ method: 'POST', url: '/api/logout/all/', headers: user.auth });
    assert.equal(reply.statusCode, 204);
    assert.deepEqual(await storedSessions(database, user.id), []);
    for (const token of [user.token, ...others]) {
      const refused = await app.inject({ method: 'GET', url: '/api/tasks/', headers: auth(token) });
      assert.equal(refused.statusCode, 401);
      assert.deepEqual(refused.json(), INVALID_TOKEN);
    }
    assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/', headers: bystander.auth })).statusCode, 200);
    assert.equal((await storedSessions(database, bystander.id)).length, 1);
  });

  test('when logout is called without a token or with GET, then it is refused and nothing is revoked', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    for (const url of ['/api/logout/', '/api/logout/all/']) {
      const anonymous = await app.inject({ method: 'POST', url });
      assert.equal(anonymous.statusCode, 401);
      assert.deepEqual(anonymous.json(), { detail: 'Authentication credentials were not provided.' });
      assert.equal(anonymous.headers['www-authenticate'], 'Token');
      const wrongMethod = await app.inject({ method: 'GET', url, headers: user.auth });
      assert.equal(wrongMethod.statusCode, 405);
      assert.deepEqual(wrongMethod.json(), { detail: 'Method "GET" not allowed.' });
      assert.equal(wrongMethod.headers.allow, 'POST, OPTIONS');
    }
    assert.equal((await storedSessions(database, user.id)).length, 1);
  });

  test('when a token is revoked through one process, then another process on the same database refuses it at once', async (t) => {
    const first = await buildTestApp(t);
    const second = await buildTestApp(t, { database: first.database });
    const user = await createUser(first.app);
    const spare = await login(second.app, user.username, user.password);

    assert.equal((await second.app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth })).statusCode, 200);
    assert.equal((await first.app.inject({ method: 'POST', url: '/api/logout/', headers: user.auth })).statusCode, 204);
    const refused = await second.app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth });
    assert.equal(refused.statusCode, 401);
    assert.deepEqual(refused.json(), INVALID_TOKEN);

    assert.equal((await second.app.inject({ method: 'GET', url: '/api/tasks/', headers: auth(spare) })).statusCode, 200);
    assert.equal((await first.app.inject({ method: 'POST', url: '/api/logout/all/', headers: auth(spare) })).statusCode, 204);
    assert.equal((await second.app.inject({ method: 'GET', url: '/api/tasks/', headers: auth(spare) })).statusCode, 401);
  });

  test('when a token revoked in one process is used on a task in another, then the task is neither shown nor changed', async (t) => {
    const first = await buildTestApp(t);
    const second = await buildTestApp(t, { database: first.database });
    const user = await createUser(first.app);
    const task = await createTask(first.app, user, { title: 'Keep me' });
    assert.equal((await second.app.inject({ method: 'POST', url: '/api/logout/', headers: user.auth })).statusCode, 204);

    const read = await first.app.inject({ method: 'GET', url: `/api/tasks/${task.id}/`, headers: user.auth });
    assert.equal(read.statusCode, 401);
    const deleted = await first.app.inject({ method: 'DELETE', url: `/api/tasks/${task.id}/`, headers: user.auth });
    assert.equal(deleted.statusCode, 401);
    const stored = await first.database.db.selectFrom('tasks').select(['id', 'title']).execute();
    assert.deepEqual(stored, [{ id: task.id, title: 'Keep me' }]);
  });
});

describe(`[${dialectName}] token header`, () => {
  test('when the Authorization header is malformed, then the reply is the matching 401', async (t) => {
    const { app } = await buildTestApp(t);
    const user = await createUser(app);
    const cases: [string | undefined, string][] = [
      [undefined, 'Authentication credentials were not provided.'],
      [`Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`, 'Authentication credentials were not provided.'],
      [user.token, 'Authentication credentials were not provided.'],
      ['Token', 'Invalid token header. No credentials provided.'],
      ['Token ', 'Invalid token header. No credentials provided.'],
      [`Token ${user.token} extra`, 'Invalid token header. Token string should not contain spaces.'],
      [`Token ${user.token.toUpperCase()}`, 'Invalid token.'],
      ['Token 0000000000000000000000000000000000000000', 'Invalid token.'],
      ['Bearer nonsense', 'Invalid token.'],
    ];
    for (const [header, message] of cases) {
      const reply = await app.inject({ method: 'GET', url: '/api/user/', headers: header === undefined ? {} : { authorization: header } });
      assert.equal(reply.statusCode, 401, String(header));
      assert.deepEqual(reply.json(), { detail: message });
      assert.equal(reply.headers['www-authenticate'], 'Token');
    }
  });

  test('when the keyword is in another letter case or Bearer is used, then a valid token works', async (t) => {
    const { app } = await buildTestApp(t);
    const user = await createUser(app);
    for (const header of [`token ${user.token}`, `TOKEN ${user.token}`, `Bearer ${user.token}`, `bearer ${user.token}`]) {
      const reply = await app.inject({ method: 'GET', url: '/api/user/', headers: { authorization: header } });
      assert.equal(reply.statusCode, 200, header);
      assert.equal(reply.json().id, user.id);
    }
  });
});
