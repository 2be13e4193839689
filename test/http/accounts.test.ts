import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { PASSWORD, createUser, dialectName, formBody, multipartBody, sharedTestApp, uniqueUsername, type TestUser } from '../helpers.js';

/** The contract's register and login shapes; sessions, policy and throttling are tested elsewhere. */

const REQUIRED = 'This field is required.';
const BLANK = 'This field may not be blank.';
const CREATED = '{"message":"User created successfully"}';
const BAD_CREDENTIALS = '{"non_field_errors":["Unable to log in with provided credentials."]}';

describe(`[${dialectName}] POST /api/register/`, () => {
  const testApp = sharedTestApp();
  const register = (payload: Record<string, unknown>) => testApp().app.inject({ method: 'POST', url: '/api/register/', payload });

  test('when a valid sign-up arrives, then 201 says the user was created and issues no token', async () => {
    const response = await register({ username: uniqueUsername(), password: PASSWORD, email: 'me@example.com' });
    assert.equal(response.statusCode, 201);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.equal(response.body, CREATED);
  });

  test('when the React client sends password_2 and is_staff, then they are ignored', async () => {
    const username = uniqueUsername();
    const response = await register({ username, password: PASSWORD, password_2: 'something else', is_staff: true, is_superuser: true });
    assert.equal(response.statusCode, 201);
    assert.equal(response.body, CREATED);
    const user = await testApp().database.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirstOrThrow();
    assert.equal(user.username, username);
    assert.equal(Object.keys(user).some((column) => /staff|superuser/.test(column) && Boolean(user[column as keyof typeof user])), false);
  });

  test('when the email is blank, then the sign-up is accepted', async () => {
    const response = await register({ username: uniqueUsername(), password: PASSWORD, email: '' });
    assert.equal(response.statusCode, 201);
  });

  test('when a sign-up is sent as a form, then it is accepted', async () => {
    const form = formBody({ username: uniqueUsername(), password: PASSWORD });
    const response = await testApp().app.inject({ method: 'POST', url: '/api/register/', ...form });
    assert.equal(response.statusCode, 201);
    assert.equal(response.body, CREATED);
  });

  test('when the body is empty, then username and password are both required', async () => {
    const response = await register({});
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { username: [REQUIRED], password: [REQUIRED] });
  });

  test('when the username is taken, then it already exists', async () => {
    const username = uniqueUsername();
    assert.equal((await register({ username, password: PASSWORD })).statusCode, 201);
    const response = await register({ username, password: PASSWORD });
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, '{"username":["A user with that username already exists."]}');
  });

  test('when the username differs from a taken one only by letter case, then it already exists', async () => {
    const username = uniqueUsername('CaseUser');
    assert.equal((await register({ username, password: PASSWORD })).statusCode, 201);
    const response = await register({ username: username.toLowerCase(), password: PASSWORD });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { username: ['A user with that username already exists.'] });
  });

  test('when the email is not an address, then it is not valid', async () => {
    const response = await register({ username: uniqueUsername(), password: PASSWORD, email: 'not-an-email' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { email: ['Enter a valid email address.'] });
  });

  test('when the username is blank, then it may not be blank', async () => {
    const response = await register({ username: '', password: PASSWORD });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { username: [BLANK] });
  });

  test('when the password is a boolean, then it is not a valid string', async () => {
    const response = await register({ username: uniqueUsername(), password: true });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { password: ['Not a valid string.'] });
  });

  test('when the username has characters outside letters, digits and @/./+/-/_, then it is not valid', async () => {
    const response = await register({ username: 'bad name!', password: PASSWORD });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), {
      username: ['Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'],
    });
  });

  test('when the username uses Unicode letters and every allowed sign, then it is accepted', async () => {
    const response = await register({ username: `Zoë.d@x+y-z_${uniqueUsername('ü')}`, password: PASSWORD });
    assert.equal(response.statusCode, 201);
  });

  test('when the username has 151 characters, then it is too long', async () => {
    const response = await register({ username: 'u'.repeat(151), password: PASSWORD });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { username: ['Ensure this field has no more than 150 characters.'] });
  });

  test('when the email has 255 characters, then it is too long', async () => {
    const email = `${'e'.repeat(64)}@${'d'.repeat(63)}.${'d'.repeat(63)}.${'d'.repeat(58)}.com`;
    assert.equal(email.length, 255);
    const response = await register({ username: uniqueUsername(), password: PASSWORD, email });
    assert.equal(response.statusCode, 400);
    assert.ok(response.json().email.includes('Ensure this field has no more than 254 characters.'), response.body);
    assert.deepEqual(Object.keys(response.json()), ['email']);
  });

  test('when several fields fail, then all are reported at once', async () => {
    const response = await register({ username: '', password: false, email: 'nope' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { username: [BLANK], password: ['Not a valid string.'], email: ['Enter a valid email address.'] });
  });

  test('when a sign-up fails, then the password never appears in the reply', async () => {
    const secret = 'Unique-Secret-Phrase-4711';
    const response = await register({ username: 'bad name!', password: secret });
    assert.equal(response.statusCode, 400);
    assert.equal(response.body.includes(secret), false);
  });
});

describe(`[${dialectName}] POST /api/login/`, () => {
  const testApp = sharedTestApp();
  let alice: TestUser;
  before(async () => {
    alice = await createUser(testApp().app);
  });
  const login = (payload: Record<string, unknown>) => testApp().app.inject({ method: 'POST', url: '/api/login/', payload });

  test('when the credentials are right, then 200 carries only a token that works', async () => {
    const response = await login({ username: alice.username, password: alice.password });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(Object.keys(response.json()), ['token']);
    assert.equal(response.body, `{"token":"${response.json().token}"}`);
    const list = await testApp().app.inject({ method: 'GET', url: '/api/tasks/', headers: { authorization: `Token ${response.json().token}` } });
    assert.equal(list.statusCode, 200);
  });

  test('when the credentials come as a form, then the login works', async () => {
    const form = formBody({ username: alice.username, password: alice.password });
    const response = await testApp().app.inject({ method: 'POST', url: '/api/login/', ...form });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(Object.keys(response.json()), ['token']);
  });

  test('when the credentials come as multipart, then the login works', async () => {
    const form = multipartBody({ username: alice.username, password: alice.password });
    const response = await testApp().app.inject({ method: 'POST', url: '/api/login/', ...form });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(Object.keys(response.json()), ['token']);
  });

  test('when the password is wrong, then the credentials are refused', async () => {
    const response = await login({ username: alice.username, password: 'wrong password entirely' });
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, BAD_CREDENTIALS);
  });

  test('when the username is unknown, then the same refusal is given', async () => {
    const response = await login({ username: uniqueUsername('ghost'), password: PASSWORD });
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, BAD_CREDENTIALS);
  });

  test('when both fields are missing, then both are required', async () => {
    const response = await login({});
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { username: [REQUIRED], password: [REQUIRED] });
  });

  test('when only the password is missing, then only it is reported', async () => {
    const response = await login({ username: alice.username });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { password: [REQUIRED] });
  });

  test('when both fields are blank, then both may not be blank', async () => {
    const response = await login({ username: '', password: '' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { username: [BLANK], password: [BLANK] });
  });

  test('when the login body is malformed JSON, then it is a parse error', async () => {
    const response = await testApp().app.inject({
      method: 'POST',
      url: '/api/login/',
      headers: { 'content-type': 'application/json' },
      payload: '{"username":',
    });
    assert.equal(response.statusCode, 400);
    assert.match(response.json().detail, /^JSON parse error - /);
  });

  test('when the login body is text/plain, then it is 415', async () => {
    const response = await testApp().app.inject({
      method: 'POST',
      url: '/api/login/',
      headers: { 'content-type': 'text/plain' },
      payload: 'username=alice',
    });
    assert.equal(response.statusCode, 415);
    assert.deepEqual(response.json(), { detail: 'Unsupported media type "text/plain" in request.' });
  });
});
