import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hash } from '@node-rs/argon2';
import { createAccountsRepository } from '../../src/accounts/repository.js';
import { buildTestApp, createUser, dialectName, login, uniqueUsername } from '../helpers.js';
import { CREDENTIALS_REFUSED, djangoArgon2, djangoPbkdf2, insertSession, insertUser, postLogin, storedSessions, storedUser } from './support.js';

const CURRENT_ARGON2 = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/;
const auth = (token: string) => ({ authorization: `Token ${token}` });

describe(`[${dialectName}] login`, () => {
  test('when a login is missing fields or sends blanks, then only the offending fields are reported', async (t) => {
    const { app, database } = await buildTestApp(t);
    const cases: [Record<string, unknown>, Record<string, string[]>][] = [
      [{}, { username: ['This field is required.'], password: ['This field is required.'] }],
      [{ username: 'someone' }, { password: ['This field is required.'] }],
      [{ username: '  ', password: '' }, { username: ['This field may not be blank.'], password: ['This field may not be blank.'] }],
      [{ username: true, password: 'x' }, { username: ['Not a valid string.'] }],
    ];
    for (const [payload, errors] of cases) {
      const reply = await app.inject({ method: 'POST', url: '/api/login/', payload });
      assert.equal(reply.statusCode, 400, JSON.stringify(payload));
      assert.deepEqual(reply.json(), errors);
    }
    assert.equal((await database.db.selectFrom('auth_tokens').select('id').execute()).length, 0);
  });

  test('when credentials come as a form or multipart body, then the login works as with JSON', async (t) => {
    const { app } = await buildTestApp(t);
    const user = await createUser(app);
    const form = await app.inject({
      method: 'POST',
      url: '/api/login/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username: user.username, password: user.password }).toString(),
    });
    assert.equal(form.statusCode, 200);
    const boundary = 'xBoundary42';
    const multipart = await app.inject({
      method: 'POST',
      url: '/api/login/',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload:
        `--${boundary}\r\nContent-Disposition: form-data; name="username"\r\n\r\n${user.username}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\n${user.password}\r\n--${boundary}--\r\n`,
    });
    assert.equal(multipart.statusCode, 200);
    assert.notEqual(form.json().token, multipart.json().token);
  });
});

describe(`[${dialectName}] no user enumeration`, () => {
  test('when the username does not exist or the password is wrong, then the replies are identical', async (t) => {
    const { app } = await buildTestApp(t);
    const user = await createUser(app);
    const missing = await postLogin(app, uniqueUsername('ghost'), user.password);
    const wrong = await postLogin(app, user.username, 'not the password');
    for (const reply of [missing, wrong]) {
      assert.equal(reply.statusCode, 400);
      assert.equal(reply.body, '{"non_field_errors":["Unable to log in with provided credentials."]}');
    }
    const headersOf = (reply: typeof missing) => {
      const { date: _date, ...rest } = reply.headers;
      return rest;
    };
    assert.deepEqual(headersOf(missing), headersOf(wrong));
  });

  test('when the username does not exist, then the refusal takes about as long as a wrong password', async (t) => {
    const { app } = await buildTestApp(t);
    const user = await createUser(app);
    const time = async (username: string) => {
      const start = performance.now();
      const reply = await postLogin(app, username, 'not the password');
      assert.equal(reply.statusCode, 400);
      return performance.now() - start;
    };
    const missingTimes: number[] = [];
    const wrongTimes: number[] = [];
    // Alternating, so that any drift in machine load affects both alike.
    for (let round = 0; round < 6; round++) {
      missingTimes.push(await time(uniqueUsername('ghost')));
      wrongTimes.push(await time(user.username));
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const ratio = median(missingTimes) / median(wrongTimes);
    assert.ok(ratio > 0.5 && ratio < 2, `missing ${median(missingTimes).toFixed(1)} ms, wrong ${median(wrongTimes).toFixed(1)} ms`);
  });

  test('when an inactive user logs in, then the reply is the same as for wrong credentials and no session is made', async (t) => {
    const { app, database } = await buildTestApp(t);
    const username = uniqueUsername();
    const id = await insertUser(database, { username, password: await hash('dormant passphrase', { algorithm: 2 }), isActive: false });
    for (const password of ['dormant passphrase', 'wrong passphrase']) {
      const reply = await postLogin(app, username, password);
      assert.equal(reply.statusCode, 400);
      assert.deepEqual(reply.json(), CREDENTIALS_REFUSED);
    }
    assert.deepEqual(await storedSessions(database, id), []);
    assert.equal((await storedUser(database, id))!.last_login, null);
  });

  test('when a user is deactivated, then their existing tokens stop working at once, on every process', async (t) => {
    const first = await buildTestApp(t);
    const second = await buildTestApp(t, { database: first.database });
    const user = await createUser(first.app);
    const other = await login(second.app, user.username, user.password);
    assert.equal((await second.app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth })).statusCode, 200);

    await first.database.db.updateTable('users').set({ is_active: false }).where('id', '=', user.id).execute();
    for (const app of [first.app, second.app]) {
      for (const token of [user.token, other]) {
        const reply = await app.inject({ method: 'GET', url: '/api/tasks/', headers: auth(token) });
        assert.equal(reply.statusCode, 401);
        assert.deepEqual(reply.json(), { detail: 'User inactive or deleted.' });
        assert.equal(reply.headers['www-authenticate'], 'Token');
      }
    }
    const write = await first.app.inject({ method: 'POST', url: '/api/tasks/', headers: user.auth, payload: { title: 'x' } });
    assert.equal(write.statusCode, 401);
    assert.equal((await first.database.db.selectFrom('tasks').select('id').execute()).length, 0);
    const relogin = await postLogin(first.app, user.username, user.password);
    assert.deepEqual(relogin.json(), CREDENTIALS_REFUSED);
  });
});

describe(`[${dialectName}] passwords imported from Django`, () => {
  test('when a user imported with a Django PBKDF2 hash logs in, then it works and the hash is upgraded to Argon2id', async (t) => {
    const { app, database } = await buildTestApp(t);
    const username = uniqueUsername('imported');
    const legacy = djangoPbkdf2('legacy passphrase', 600_000);
    const id = await insertUser(database, { username, password: legacy, email: 'old@example.com' });

    const reply = await postLogin(app, username, 'legacy passphrase');
    assert.equal(reply.statusCode, 200);
    const upgraded = (await storedUser(database, id))!.password;
    assert.match(upgraded, CURRENT_ARGON2);

    // The new hash keeps working, and the old one is gone for good.
    assert.equal((await postLogin(app, username, 'legacy passphrase')).statusCode, 200);
    assert.equal((await storedUser(database, id))!.password, upgraded);
    const me = await app.inject({ method: 'GET', url: '/api/user/', headers: auth(reply.json().token) });
    assert.deepEqual({ id: me.json().id, email: me.json().email }, { id, email: 'old@example.com' });
  });

  test('when a Django-hashed user gives a wrong password, then the login is refused and the hash is kept', async (t) => {
    const { app, database } = await buildTestApp(t);
    const username = uniqueUsername('imported');
    const legacy = djangoPbkdf2('legacy passphrase', 10_000);
    const id = await insertUser(database, { username, password: legacy });
    for (const password of ['Legacy passphrase', 'legacy passphrase ', '']) {
      const reply = await postLogin(app, username, password);
      assert.equal(reply.statusCode, 400);
    }
    assert.deepEqual((await postLogin(app, username, 'wrong')).json(), CREDENTIALS_REFUSED);
    assert.equal((await storedUser(database, id))!.password, legacy);
    assert.deepEqual(await storedSessions(database, id), []);
  });

  test('when a Django-hashed user changes their password, then the current password is checked against the old hash', async (t) => {
    const { app, database } = await buildTestApp(t);
    const username = uniqueUsername('imported');
    const legacy = djangoPbkdf2('legacy passphrase', 10_000);
    const id = await insertUser(database, { username, password: legacy });
    const token = await insertSession(database, id);

    const wrong = await app.inject({
      method: 'POST',
      url: '/api/user/password/',
      headers: auth(token),
      payload: { current_password: 'not it', new_password: 'brand new passphrase' },
    });
    assert.deepEqual(wrong.json(), { current_password: ['Invalid password.'] });
    assert.equal((await storedUser(database, id))!.password, legacy);

    const right = await app.inject({
      method: 'POST',
      url: '/api/user/password/',
      headers: auth(token),
      payload: { current_password: 'legacy passphrase', new_password: 'brand new passphrase' },
    });
    assert.equal(right.statusCode, 204);
    assert.match((await storedUser(database, id))!.password, CURRENT_ARGON2);
    assert.equal((await postLogin(app, username, 'brand new passphrase')).statusCode, 200);
  });

  test("when a user imported with Django's Argon2 hash logs in, then the password works and the hash becomes ours", async (t) => {
    const { app, database } = await buildTestApp(t);
    const username = uniqueUsername('imported');
    const legacy = await djangoArgon2('legacy passphrase');
    assert.match(legacy, /^argon2\$argon2id\$v=19\$m=102400,t=2,p=8\$/);
    const id = await insertUser(database, { username, password: legacy });
    assert.deepEqual((await postLogin(app, username, 'legacy Passphrase')).json(), CREDENTIALS_REFUSED);
    assert.equal((await storedUser(database, id))!.password, legacy);
    assert.equal((await postLogin(app, username, 'legacy passphrase')).statusCode, 200);
    assert.match((await storedUser(database, id))!.password, CURRENT_ARGON2);
    assert.equal((await postLogin(app, username, 'legacy passphrase')).statusCode, 200);
  });

  test('when an Argon2id hash has older parameters, then a login upgrades it to the current ones', async (t) => {
    const { app, database } = await buildTestApp(t);
    const username = uniqueUsername();
    const weak = await hash('older passphrase', { algorithm: 2, memoryCost: 4096, timeCost: 3, parallelism: 1 });
    const id = await insertUser(database, { username, password: weak });
    assert.equal((await postLogin(app, username, 'older passphrase')).statusCode, 200);
    const stored = (await storedUser(database, id))!.password;
    assert.notEqual(stored, weak);
    assert.match(stored, CURRENT_ARGON2);
  });

  test('when the stored hash is malformed, unusable or of an unknown kind, then no password logs in and nothing breaks', async (t) => {
    const { app, database } = await buildTestApp(t);
    const good = djangoPbkdf2('any passphrase', 1000);
    const [, , salt, digest] = good.split('$');
    const hashes = [
      '!unusablePasswordFromDjango',
      '',
      'pbkdf2_sha256$abc$salt$hash',
      `pbkdf2_sha256$0$${salt}$${digest}`,
      `pbkdf2_sha256$1000$$${digest}`,
      `pbkdf2_sha256$1000$${salt}$`,
      `pbkdf2_sha256$1000$${salt}`,
      `pbkdf2_sha256$99999999999$${salt}$${digest}`,
      `pbkdf2_sha1$1000$${salt}$${digest}`,
      `md5$${salt}$0123456789abcdef0123456789abcdef`,
      '$argon2id$v=19$m=19456,t=2,p=1$garbage',
      'argon2$argon2id$v=19$m=19456,t=2,p=1$garbage',
      'bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuu5GzQ1Jm3g0bF8QkM2xQy7xXo5bS3Bq',
    ];
    for (const stored of hashes) {
      const username = uniqueUsername();
      const id = await insertUser(database, { username, password: stored });
      for (const password of ['any passphrase', stored || 'x']) {
        const reply = await postLogin(app, username, password);
        assert.equal(reply.statusCode, 400, stored);
        assert.deepEqual(reply.json(), CREDENTIALS_REFUSED);
      }
      assert.equal((await storedUser(database, id))!.password, stored);
    }
  });

  test('when an operator blocks a user and later unblocks them, then the old tokens stay revoked and a new login works', async (t) => {
    const { app, database } = await buildTestApp(t);
    const accounts = createAccountsRepository(database);
    const user = await createUser(app);

    assert.equal(await accounts.setActive(user.username.toUpperCase(), false), true);
    assert.deepEqual(await storedSessions(database, user.id), []);
    assert.equal((await postLogin(app, user.username, user.password)).statusCode, 400);

    assert.equal(await accounts.setActive(user.username, true), true);
    const old = await app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth });
    assert.equal(old.statusCode, 401);
    assert.deepEqual(old.json(), { detail: 'Invalid token.' });
    assert.equal((await postLogin(app, user.username, user.password)).statusCode, 200);
    assert.equal(await accounts.setActive('nobody-of-that-name', false), false);
  });
});
