import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTestApp, createTask, createUser, dialectName, login } from '../helpers.js';
import { CREDENTIALS_REFUSED, INVALID_TOKEN, countRows, postLogin, storedSessions, storedUser } from './support.js';

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const NEW_PASSWORD = 'a fresh passphrase 42';
const auth = (token: string) => ({ authorization: `Token ${token}` });

describe(`[${dialectName}] GET and PATCH /api/user/`, () => {
  test('when a user asks for their account, then they get id, username, email and date_joined only', async (t) => {
    const { app } = await buildTestApp(t);
    const user = await createUser(app, { email: 'ada@example.com' });
    const reply = await app.inject({ method: 'GET', url: '/api/user/', headers: user.auth });
    assert.equal(reply.statusCode, 200);
    const body = reply.json();
    assert.deepEqual(Object.keys(body), ['id', 'username', 'email', 'date_joined']);
    assert.deepEqual({ ...body, date_joined: undefined }, { id: user.id, username: user.username, email: 'ada@example.com', date_joined: undefined });
    assert.match(body.date_joined, TIMESTAMP);
    assert.ok(!reply.body.includes('argon2'));
  });

  test('when the account is read without a valid token, then it is refused with 401', async (t) => {
    const { app } = await buildTestApp(t);
    const anonymous = await app.inject({ method: 'GET', url: '/api/user/' });
    assert.equal(anonymous.statusCode, 401);
    assert.deepEqual(anonymous.json(), { detail: 'Authentication credentials were not provided.' });
    const forged = await app.inject({ method: 'GET', url: '/api/user/', headers: auth('f'.repeat(40)) });
    assert.equal(forged.statusCode, 401);
    assert.deepEqual(forged.json(), INVALID_TOKEN);
  });

  test('when a user changes their email, then the new address is stored and returned, trimmed', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app, { email: 'old@example.com' });
    const reply = await app.inject({ method: 'PATCH', url: '/api/user/', headers: user.auth, payload: { email: '  new@example.com ' } });
    assert.equal(reply.statusCode, 200);
    assert.equal(reply.json().email, 'new@example.com');
    assert.equal((await storedUser(database, user.id))!.email, 'new@example.com');

    const cleared = await app.inject({ method: 'PATCH', url: '/api/user/', headers: user.auth, payload: { email: '' } });
    assert.equal(cleared.statusCode, 200);
    assert.equal(cleared.json().email, '');
  });

  test('when the email change is sent as a form, then it is accepted too', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const reply = await app.inject({
      method: 'PATCH',
      url: '/api/user/',
      headers: { ...user.auth, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'email=form%40example.com',
    });
    assert.equal(reply.statusCode, 200);
    assert.equal((await storedUser(database, user.id))!.email, 'form@example.com');
  });

  test('when the patch sends username, id or password, then they are ignored', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const before = await storedUser(database, user.id);
    const reply = await app.inject({
      method: 'PATCH',
      url: '/api/user/',
      headers: user.auth,
      payload: { username: 'someone_else', id: 999, password: 'x', is_active: false, date_joined: '2000-01-01T00:00:00Z' },
    });
    assert.equal(reply.statusCode, 200);
    assert.equal(reply.json().username, user.username);
    assert.deepEqual(await storedUser(database, user.id), before);
  });

  test('when the new email is invalid, then the reply lists the problem and nothing is stored', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app, { email: 'kept@example.com' });
    const before = await storedUser(database, user.id);
    const cases: [unknown, string[]][] = [
      ['not an email', ['Enter a valid email address.']],
      [null, ['This field may not be null.']],
      [['a@example.com'], ['Not a valid string.']],
      [`${'a'.repeat(250)}@example.com`, ['Ensure this field has no more than 254 characters.', 'Enter a valid email address.']],
      ['a\u0000b@example.com', ['Null characters are not allowed.', 'Enter a valid email address.']],
    ];
    for (const [email, messages] of cases) {
      const reply = await app.inject({ method: 'PATCH', url: '/api/user/', headers: user.auth, payload: { email } });
      assert.equal(reply.statusCode, 400, JSON.stringify(email));
      assert.deepEqual(Object.keys(reply.json()), ['email']);
      assert.equal(reply.json().email[0], messages[0]);
    }
    assert.deepEqual(await storedUser(database, user.id), before);
  });

  test('when the patch body is malformed, then the contract error is returned and nothing changes', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app, { email: 'kept@example.com' });
    const before = await storedUser(database, user.id);
    const json = { ...user.auth, 'content-type': 'application/json' };
    const malformed = await app.inject({ method: 'PATCH', url: '/api/user/', headers: json, payload: '{"email":' });
    assert.equal(malformed.statusCode, 400);
    assert.match(malformed.json().detail, /^JSON parse error - /);
    const list = await app.inject({ method: 'PATCH', url: '/api/user/', headers: json, payload: '["x"]' });
    assert.deepEqual(list.json(), { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
    const text = await app.inject({ method: 'PATCH', url: '/api/user/', headers: { ...user.auth, 'content-type': 'text/plain' }, payload: 'email=x' });
    assert.equal(text.statusCode, 415);
    const empty = await app.inject({ method: 'PATCH', url: '/api/user/', headers: json, payload: '' });
    assert.equal(empty.statusCode, 200);
    assert.equal(empty.json().email, 'kept@example.com');
    assert.deepEqual(await storedUser(database, user.id), before);
  });

  test('when an unsupported method is sent to /api/user/, then 405 names the allowed ones', async (t) => {
    const { app } = await buildTestApp(t);
    const user = await createUser(app);
    const reply = await app.inject({ method: 'PUT', url: '/api/user/', headers: user.auth, payload: {} });
    assert.equal(reply.statusCode, 405);
    assert.deepEqual(reply.json(), { detail: 'Method "PUT" not allowed.' });
    assert.equal(reply.headers.allow, 'GET, PATCH, DELETE, HEAD, OPTIONS');
    const anonymous = await app.inject({ method: 'PUT', url: '/api/user/', payload: {} });
    assert.equal(anonymous.statusCode, 401);
  });
});

describe(`[${dialectName}] POST /api/user/password/`, () => {
  test('when a user changes their password, then the new one works, the old one does not, and only the current session survives', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const otherDevice = await login(app, user.username, user.password);
    const before = await storedUser(database, user.id);

    const reply = await app.inject({
      method: 'POST',
      url: '/api/user/password/',
      headers: user.auth,
      payload: { current_password: user.password, new_password: NEW_PASSWORD },
    });
    assert.equal(reply.statusCode, 204);
    assert.equal(reply.body, '');

    const after = await storedUser(database, user.id);
    assert.notEqual(after!.password, before!.password);
    assert.match(after!.password, /^\$argon2id\$/);
    assert.ok(!after!.password.includes(NEW_PASSWORD));

    assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth })).statusCode, 200);
    const revoked = await app.inject({ method: 'GET', url: '/api/tasks/', headers: auth(otherDevice) });
    assert.equal(revoked.statusCode, 401);
    assert.deepEqual(revoked.json(), INVALID_TOKEN);
    assert.equal((await storedSessions(database, user.id)).length, 1);

    const oldPassword = await postLogin(app, user.username, user.password);
    assert.equal(oldPassword.statusCode, 400);
    assert.deepEqual(oldPassword.json(), CREDENTIALS_REFUSED);
    assert.equal((await postLogin(app, user.username, NEW_PASSWORD)).statusCode, 200);
  });

  test('when the current password is wrong, then the Djoser error is returned and nothing changes', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    await login(app, user.username, user.password);
    const before = await storedUser(database, user.id);
    const sessions = await storedSessions(database, user.id);

    for (const current of ['wrong password', user.password.toUpperCase(), ` ${user.password}`]) {
      const reply = await app.inject({
        method: 'POST',
        url: '/api/user/password/',
        headers: user.auth,
        payload: { current_password: current, new_password: NEW_PASSWORD },
      });
      assert.equal(reply.statusCode, 400);
      assert.deepEqual(reply.json(), { current_password: ['Invalid password.'] });
    }
    assert.deepEqual(await storedUser(database, user.id), before);
    assert.deepEqual(await storedSessions(database, user.id), sessions);
  });

  test('when fields are missing or not strings, then every failing field is reported and nothing changes', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const before = await storedUser(database, user.id);
    const cases: [Record<string, unknown>, Record<string, string[]>][] = [
      [{}, { current_password: ['This field is required.'], new_password: ['This field is required.'] }],
      [{ current_password: user.password }, { new_password: ['This field is required.'] }],
      [{ current_password: '', new_password: NEW_PASSWORD }, { current_password: ['This field may not be blank.'] }],
      [{ current_password: true, new_password: { a: 1 } }, { current_password: ['Not a valid string.'], new_password: ['Not a valid string.'] }],
      [{ current_password: user.password, new_password: null }, { new_password: ['This field may not be null.'] }],
    ];
    for (const [payload, errors] of cases) {
      const reply = await app.inject({ method: 'POST', url: '/api/user/password/', headers: user.auth, payload });
      assert.equal(reply.statusCode, 400, JSON.stringify(payload));
      assert.deepEqual(reply.json(), errors);
    }
    assert.deepEqual(await storedUser(database, user.id), before);
  });

  test('when the new password breaks the policy, then new_password lists every problem and nothing changes', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app, { username: 'margaret_hamilton', email: 'margaret@apollo.example' });
    const other = await login(app, user.username, user.password);
    const before = await storedUser(database, user.id);
    const cases: [string, string[]][] = [
      ['Zq7-wp', ['This password is too short. It must contain at least 8 characters.']],
      ['12345678', ['This password is too common.', 'This password is entirely numeric.']],
      ['80417625193', ['This password is entirely numeric.']],
      ['Password1', ['This password is too common.']],
      ['margaret_hamilton', ['The password is too similar to the username.']],
      ['margaret@apollo', ['The password is too similar to the email address.']],
      ['x'.repeat(4097), ['Ensure this field has no more than 4096 characters.']],
    ];
    for (const [password, problems] of cases) {
      const reply = await app.inject({
        method: 'POST',
        url: '/api/user/password/',
        headers: user.auth,
        payload: { current_password: user.password, new_password: password },
      });
      assert.equal(reply.statusCode, 400, password.slice(0, 20));
      assert.deepEqual(reply.json(), { new_password: problems });
    }
    assert.deepEqual(await storedUser(database, user.id), before);
    assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/', headers: auth(other) })).statusCode, 200);
  });

  test('when the password change is attempted without a valid token, then it is refused with 401 and nothing changes', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const before = await storedUser(database, user.id);
    for (const headers of [{}, auth('0'.repeat(40))]) {
      const reply = await app.inject({
        method: 'POST',
        url: '/api/user/password/',
        headers,
        payload: { current_password: user.password, new_password: NEW_PASSWORD },
      });
      assert.equal(reply.statusCode, 401);
    }
    assert.deepEqual(await storedUser(database, user.id), before);
  });
});

describe(`[${dialectName}] DELETE /api/user/`, () => {
  test('when a user deletes their account with their password, then the user, their tasks and sessions are gone', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    const otherDevice = await login(app, user.username, user.password);
    await createTask(app, user, { title: 'mine' });
    await createTask(app, user, { title: 'also mine' });
    const bystander = await createUser(app);
    const theirs = await createTask(app, bystander, { title: 'theirs' });

    const reply = await app.inject({ method: 'DELETE', url: '/api/user/', headers: user.auth, payload: { current_password: user.password } });
    assert.equal(reply.statusCode, 204);
    assert.equal(reply.body, '');

    assert.equal(await storedUser(database, user.id), undefined);
    assert.deepEqual(await storedSessions(database, user.id), []);
    const tasks = await database.db.selectFrom('tasks').select(['id', 'owner_id']).execute();
    assert.deepEqual(tasks, [{ id: theirs.id, owner_id: bystander.id }]);
    for (const token of [user.token, otherDevice]) {
      const refused = await app.inject({ method: 'GET', url: '/api/user/', headers: auth(token) });
      assert.equal(refused.statusCode, 401);
      assert.deepEqual(refused.json(), INVALID_TOKEN);
    }
    const relogin = await postLogin(app, user.username, user.password);
    assert.deepEqual(relogin.json(), CREDENTIALS_REFUSED);
    assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/', headers: bystander.auth })).json().length, 1);

    // The name is free again.
    const again = await app.inject({ method: 'POST', url: '/api/register/', payload: { username: user.username, password: user.password } });
    assert.equal(again.statusCode, 201);
  });

  test('when the deletion carries a wrong, missing or malformed password, then the account and its data stay', async (t) => {
    const { app, database } = await buildTestApp(t);
    const user = await createUser(app);
    await createTask(app, user);
    const before = { users: await countRows(database, 'users'), tasks: await countRows(database, 'tasks'), tokens: await countRows(database, 'auth_tokens') };
    const cases: [Record<string, unknown> | string | undefined, number, unknown][] = [
      [{ current_password: 'not my password' }, 400, { current_password: ['Invalid password.'] }],
      [{}, 400, { current_password: ['This field is required.'] }],
      [undefined, 400, { current_password: ['This field is required.'] }],
      [{ current_password: '' }, 400, { current_password: ['This field may not be blank.'] }],
      [{ current_password: ['x'] }, 400, { current_password: ['Not a valid string.'] }],
      [{ password: user.password }, 400, { current_password: ['This field is required.'] }],
    ];
    for (const [payload, status, body] of cases) {
      const reply = await app.inject({ method: 'DELETE', url: '/api/user/', headers: user.auth, payload: payload as object });
      assert.equal(reply.statusCode, status, JSON.stringify(payload));
      assert.deepEqual(reply.json(), body);
    }
    const malformed = await app.inject({
      method: 'DELETE',
      url: '/api/user/',
      headers: { ...user.auth, 'content-type': 'application/json' },
      payload: '{"current_password"',
    });
    assert.equal(malformed.statusCode, 400);
    assert.match(malformed.json().detail, /^JSON parse error/);

    const anonymous = await app.inject({ method: 'DELETE', url: '/api/user/', payload: { current_password: user.password } });
    assert.equal(anonymous.statusCode, 401);

    const after = { users: await countRows(database, 'users'), tasks: await countRows(database, 'tasks'), tokens: await countRows(database, 'auth_tokens') };
    assert.deepEqual(after, before);
    assert.equal((await app.inject({ method: 'GET', url: '/api/user/', headers: user.auth })).statusCode, 200);
  });

  test("when another user's password is given, then the caller's account is not deleted", async (t) => {
    const { app, database } = await buildTestApp(t);
    const caller = await createUser(app);
    const other = await createUser(app, { password: 'another long passphrase' });
    const reply = await app.inject({ method: 'DELETE', url: '/api/user/', headers: caller.auth, payload: { current_password: other.password } });
    assert.equal(reply.statusCode, 400);
    assert.deepEqual(reply.json(), { current_password: ['Invalid password.'] });
    assert.ok(await storedUser(database, caller.id));
    assert.ok(await storedUser(database, other.id));
  });
});
