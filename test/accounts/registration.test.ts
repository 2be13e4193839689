import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dictionary } from '@zxcvbn-ts/language-common';
import { commonPasswordCount } from '../../src/accounts/password-policy.js';
import { buildTestApp, dialectName, uniqueUsername } from '../helpers.js';
import { CREDENTIALS_REFUSED, countRows, postLogin } from './support.js';

const register = (app: Parameters<typeof postLogin>[0], payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/api/register/', payload });

const TOO_SHORT = 'This password is too short. It must contain at least 8 characters.';
const TOO_COMMON = 'This password is too common.';
const NUMERIC = 'This password is entirely numeric.';

describe(`[${dialectName}] registration password policy`, () => {
  test('when the password breaks one rule, then the reply names that rule and no user is created', async (t) => {
    const { app, database } = await buildTestApp(t);
    const cases: [string, Record<string, unknown>, string[]][] = [
      ['Zq7-wp', {}, [TOO_SHORT]],
      ['80417625193', {}, [NUMERIC]],
      ['password', {}, [TOO_COMMON]],
      ['PassWord', {}, [TOO_COMMON]],
      ['iloveyou', {}, [TOO_COMMON]],
      ['grace_hopper_1906', { username: 'grace_hopper_1906' }, ['The password is too similar to the username.']],
      ['Hopper1906!', { username: 'hopper1906' }, ['The password is too similar to the username.']],
      ['cobol.grace', { email: 'grace@cobol.example' }, ['The password is too similar to the email address.']],
    ];
    for (const [password, extra, problems] of cases) {
      const reply = await register(app, { username: uniqueUsername(), ...extra, password });
      assert.equal(reply.statusCode, 400, password);
      assert.deepEqual(reply.json(), { password: problems }, password);
    }
    assert.equal(await countRows(database, 'users'), 0);
  });

  test('when the password breaks several rules, then all of them are reported in Django order', async (t) => {
    const { app, database } = await buildTestApp(t);
    const reply = await register(app, { username: 'user1234567', password: '1234567' });
    assert.equal(reply.statusCode, 400);
    assert.deepEqual(reply.json(), {
      password: ['The password is too similar to the username.', TOO_SHORT, TOO_COMMON, NUMERIC],
    });
    assert.equal(await countRows(database, 'users'), 0);
  });

  test('when the password and the other fields fail, then every failing field is reported at once', async (t) => {
    const { app, database } = await buildTestApp(t);
    const reply = await register(app, { username: 'bad name!', email: 'nope', password: 'Zq7-wp' });
    assert.equal(reply.statusCode, 400);
    assert.deepEqual(reply.json(), {
      username: ['Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'],
      email: ['Enter a valid email address.'],
      password: [TOO_SHORT],
    });
    const missing = await register(app, {});
    assert.deepEqual(missing.json(), { username: ['This field is required.'], password: ['This field is required.'] });
    assert.equal(await countRows(database, 'users'), 0);
  });

  test('when the password has exactly 8 characters that break no rule, then the account is created', async (t) => {
    const { app } = await buildTestApp(t);
    const username = uniqueUsername();
    const reply = await register(app, { username, password: 'Zq7-wpXr' });
    assert.equal(reply.statusCode, 201);
    assert.deepEqual(reply.json(), { message: 'User created successfully' });
    assert.equal((await postLogin(app, username, 'Zq7-wpXr')).statusCode, 200);
  });

  test('when a password is 8 emoji long, then its length counts characters, not UTF-16 units', async (t) => {
    const { app } = await buildTestApp(t);
    const seven = await register(app, { username: uniqueUsername(), password: '🚀🌕🪐🛸🌍🌙🔭' });
    assert.equal(seven.statusCode, 400);
    assert.deepEqual(seven.json(), { password: [TOO_SHORT] });
    const eight = await register(app, { username: uniqueUsername(), password: '🚀🌕🪐🛸🌍🌙⭐🔭' });
    assert.equal(eight.statusCode, 201);
  });

  test('when a password has 4096 characters, then it is accepted; at 4097 it is refused and nothing is stored', async (t) => {
    const { app, database } = await buildTestApp(t);
    const longest = 'ab1-'.repeat(1024);
    const username = uniqueUsername();
    assert.equal((await register(app, { username, password: longest })).statusCode, 201);
    assert.equal((await postLogin(app, username, longest)).statusCode, 200);

    const tooLong = await register(app, { username: uniqueUsername(), password: `${longest}x` });
    assert.equal(tooLong.statusCode, 400);
    assert.deepEqual(tooLong.json(), { password: ['Ensure this field has no more than 4096 characters.'] });
    assert.equal(await countRows(database, 'users'), 1);
  });

  test('when a login sends a password of more than 4096 characters, then it is refused as a field error before any hashing', async (t) => {
    const { app } = await buildTestApp(t);
    const username = uniqueUsername();
    await register(app, { username, password: 'a perfectly fine passphrase' });
    const reply = await postLogin(app, username, 'x'.repeat(500_000));
    assert.equal(reply.statusCode, 400);
    assert.deepEqual(reply.json(), { password: ['Ensure this field has no more than 4096 characters.'] });
  });

  test('when a password has spaces around it, then they are kept: only the exact text logs in', async (t) => {
    const { app } = await buildTestApp(t);
    const username = uniqueUsername();
    assert.equal((await register(app, { username, password: '  spaced passphrase  ' })).statusCode, 201);
    assert.equal((await postLogin(app, username, '  spaced passphrase  ')).statusCode, 200);
    const trimmed = await postLogin(app, username, 'spaced passphrase');
    assert.equal(trimmed.statusCode, 400);
    assert.deepEqual(trimmed.json(), CREDENTIALS_REFUSED);
  });

  test('when the common-password list is loaded, then it holds at least 20,000 passwords, matched in any letter case', async (t) => {
    assert.ok(commonPasswordCount() >= 20_000, `${commonPasswordCount()} common passwords`);
    // Entries from deep in the package's list, not only the famous first few, are refused.
    const words = (dictionary['passwords-common'] as string[]).filter((word) => word.length >= 8 && !/^\d+$/.test(word));
    const { app } = await buildTestApp(t);
    for (const word of [words[15_000]!, words[words.length - 1]!, words[words.length - 1]!.toUpperCase()]) {
      const reply = await register(app, { username: uniqueUsername(), password: word });
      assert.equal(reply.statusCode, 400, word);
      assert.ok(reply.json().password.includes(TOO_COMMON), word);
    }
  });
});

describe(`[${dialectName}] usernames`, () => {
  test('when a username is taken in another letter case, then registration is refused and one account remains', async (t) => {
    const { app, database } = await buildTestApp(t);
    assert.equal((await register(app, { username: 'Alice', password: 'first passphrase' })).statusCode, 201);
    for (const username of ['alice', 'ALICE', 'aLiCe', '  alice  ']) {
      const reply = await register(app, { username, password: 'second passphrase' });
      assert.equal(reply.statusCode, 400, username);
      assert.deepEqual(reply.json(), { username: ['A user with that username already exists.'] });
    }
    const rows = await database.db.selectFrom('users').select(['username']).execute();
    assert.deepEqual(rows, [{ username: 'Alice' }]);
  });

  test('when the same name is registered twice at once in different cases, then exactly one succeeds', async (t) => {
    const { app, database } = await buildTestApp(t);
    const replies = await Promise.all(
      ['Zoe', 'zoe', 'ZOE', 'zOe'].map((username) => register(app, { username, password: 'racing passphrase' })),
    );
    const statuses = replies.map((reply) => reply.statusCode).sort();
    assert.deepEqual(statuses, [201, 400, 400, 400]);
    for (const reply of replies.filter((reply) => reply.statusCode === 400)) {
      assert.deepEqual(reply.json(), { username: ['A user with that username already exists.'] });
    }
    assert.equal(await countRows(database, 'users'), 1);
  });

  test('when a user logs in with their username in another letter case, then it is the same account', async (t) => {
    const { app } = await buildTestApp(t);
    assert.equal((await register(app, { username: 'Grace', password: 'first passphrase' })).statusCode, 201);
    const token = (await postLogin(app, 'gRACE', 'first passphrase')).json().token;
    const me = await app.inject({ method: 'GET', url: '/api/user/', headers: { authorization: `Token ${token}` } });
    assert.equal(me.json().username, 'Grace');
  });

  test('when a user registers, then no token is issued and the password appears nowhere in the reply', async (t) => {
    const { app, database } = await buildTestApp(t);
    const reply = await register(app, { username: uniqueUsername(), password: 'a secret passphrase', is_staff: true });
    assert.equal(reply.statusCode, 201);
    assert.equal(reply.body, '{"message":"User created successfully"}');
    assert.equal(await countRows(database, 'auth_tokens'), 0);
    const [row] = await database.db.selectFrom('users').select(['password']).execute();
    assert.match(row!.password, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });
});
