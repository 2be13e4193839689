import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PASSWORD, createUser, dialectName, sharedTestApp } from '../helpers.js';
import { CREDENTIALS_REFUSED, countRows, postLogin, storedSessions } from './support.js';

const shared = sharedTestApp();

const register = (username: string) =>
  shared().app.inject({ method: 'POST', url: '/api/register/', payload: { username, password: PASSWORD } });

/**
 * Account values at the edges of their columns: usernames are unique by a case-folded key
 * stored in a column as long as the username's, and the folded key can be longer than the
 * name itself. What one database would refuse is refused by validation on both.
 */
describe(`[${dialectName}] account values at the edges of their columns`, () => {
  const FOLDED_TOO_LONG = { username: ['Ensure this field has no more than 150 characters once case-folded.'] };

  const usernames: [string, string, number, unknown][] = [
    ['76 ligatures ﬀ (152 once folded)', 'ﬀ'.repeat(76), 400, FOLDED_TOO_LONG],
    ['76 capital dotted Is (152 once folded)', 'İ'.repeat(76), 400, FOLDED_TOO_LONG],
    ['150 letters and one ligature', `${'a'.repeat(149)}ﬀ`, 400, FOLDED_TOO_LONG],
    ['a fullwidth name whose key grows', `${'Ａ'.repeat(100)}${'ﬃ'.repeat(25)}`, 400, FOLDED_TOO_LONG],
    ['151 letters', 'a'.repeat(151), 400, { username: ['Ensure this field has no more than 150 characters.'] }],
    ['75 ligatures ﬀ (150 once folded)', 'ﬀ'.repeat(75), 201, { message: 'User created successfully' }],
    ['75 capital dotted Is (150 once folded)', 'İ'.repeat(75), 201, { message: 'User created successfully' }],
    ['150 letters', 'b'.repeat(150), 201, { message: 'User created successfully' }],
  ];
  for (const [name, username, status, body] of usernames) {
    test(`when signing up with ${name}, then the reply is ${status}`, async () => {
      const before = await countRows(shared().database, 'users');
      const reply = await register(username);
      assert.deepEqual([reply.statusCode, reply.json()], [status, body]);
      assert.equal(await countRows(shared().database, 'users'), before + (status === 201 ? 1 : 0));
      const login = await postLogin(shared().app, username, PASSWORD);
      assert.equal(login.statusCode, status === 201 ? 200 : 400);
    });
  }

  test('when a name of 75 ligatures exists, then its folded spelling logs into it and cannot sign up again', async () => {
    const { app } = shared();
    assert.equal((await postLogin(app, 'FF'.repeat(75), PASSWORD)).statusCode, 200);
    const again = await register('ff'.repeat(75));
    assert.deepEqual([again.statusCode, again.json()], [400, { username: ['A user with that username already exists.'] }]);
  });

  for (const username of ['ﬀ'.repeat(76), 'x'.repeat(5000), 'İ'.repeat(1000)]) {
    test(`when logging in as a name of ${username.length} characters that no account can have, then the credentials are refused`, async () => {
      const reply = await postLogin(shared().app, username, PASSWORD);
      assert.deepEqual([reply.statusCode, reply.json()], [400, CREDENTIALS_REFUSED]);
    });
  }

  const emails: [string, string, number][] = [
    ['254 characters', `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, 200],
    ['255 characters', `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`, 400],
    ['254 characters with an international domain', `${'a'.repeat(60)}@münchen.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(57)}`, 200],
  ];
  for (const [name, email, status] of emails) {
    test(`when the email is changed to one of ${name}, then the reply is ${status} and the stored address is the one served`, async () => {
      const { app, database } = shared();
      const user = await createUser(app);
      const reply = await app.inject({ method: 'PATCH', url: '/api/user/', headers: user.auth, payload: { email } });
      assert.equal(reply.statusCode, status, reply.body);
      const stored = await database.db.selectFrom('users').select('email').where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(stored.email, status === 200 ? email : '');
    });
  }

  test('when a login sends a user agent longer than the column, then its first 512 characters are stored, the same on both databases', async () => {
    const { app, database } = shared();
    const user = await createUser(app);
    const agent = `Agent ${'é'.repeat(300)}${'x'.repeat(300)}`;
    const reply = await postLogin(app, user.username, PASSWORD, { headers: { 'user-agent': agent } });
    assert.equal(reply.statusCode, 200);
    const sessions = await storedSessions(database, user.id);
    assert.equal(sessions.at(-1)!.user_agent, agent.slice(0, 512));
  });

  test('when a login sends a user agent holding NUL and control characters, then it succeeds and the agent is stored without the NULs', async () => {
    const { app, database } = shared();
    const user = await createUser(app);
    const reply = await postLogin(app, user.username, PASSWORD, { headers: { 'user-agent': 'Agent\u0000 1.0\u0001\u0000' } });
    assert.equal(reply.statusCode, 200, reply.body);
    const sessions = await storedSessions(database, user.id);
    assert.equal(sessions.at(-1)!.user_agent, 'Agent 1.0\u0001');
  });
});
