import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createUser, dialectName, uniqueUsername, type TestUser } from '../helpers.js';
import { usernameKey } from '../../src/accounts/repository.js';
import { djangoPbkdf2, postLogin, storedSessions, storedUser, timestampIn } from './support.js';
import { STORES, assertThrottled, buildThrottledApp, buildThrottledApps, limits, sharedDatabase, tally } from './throttle-support.js';

/**
 * A guess takes its place in the count before the password is checked, so a burst of guesses
 * in parallel gets no more of them evaluated than the limit, however it is spread.
 */
const database = sharedDatabase();
const LIMIT = 5;
const WINDOW = 60;
const WRONG = 'wrong password';
const INVALID_PASSWORD = { current_password: ['Invalid password.'] };

const burst = (count: number, send: (index: number) => Promise<LightMyRequestResponse>) =>
  Promise.all(Array.from({ length: count }, (_, index) => send(index)));

const changePassword = (app: FastifyInstance, user: TestUser, current: string) =>
  app.inject({
    method: 'POST',
    url: '/api/user/password/',
    headers: user.auth,
    payload: { current_password: current, new_password: 'another fine passphrase' },
  });

const deleteAccount = (app: FastifyInstance, user: TestUser, current: string) =>
  app.inject({ method: 'DELETE', url: '/api/user/', headers: user.auth, payload: { current_password: current } });

for (const store of STORES) {
  describe(`[${dialectName}, counters ${store === 'redis' ? 'in Redis' : 'in memory'}] guesses in parallel`, { concurrency: true }, () => {
    test('when 60 wrong logins for one username arrive at once, then exactly the limit are checked and the rest get 429', async (t) => {
      const app = await buildThrottledApp(t, database(), store, limits({ loginPerUsername: { max: LIMIT, windowSeconds: WINDOW } }));
      const user = await createUser(app);
      assert.deepEqual(tally(await burst(60, () => postLogin(app, user.username, WRONG)), WINDOW), { evaluated: LIMIT, throttled: 55 });
    });

    test('when the parallel guesses spell the username in different letter cases, then they still share one count', async (t) => {
      const app = await buildThrottledApp(t, database(), store, limits({ loginPerUsername: { max: LIMIT, windowSeconds: WINDOW } }));
      const user = await createUser(app);
      const spellings = [user.username, user.username.toUpperCase(), `  ${user.username}  `];
      const replies = await burst(60, (index) => postLogin(app, spellings[index % spellings.length]!, WRONG));
      assert.deepEqual(tally(replies, WINDOW), { evaluated: LIMIT, throttled: 55 });
    });

    test('when parallel guesses are for a username that does not exist, then exactly the limit are checked too', async (t) => {
      const app = await buildThrottledApp(t, database(), store, limits({ loginPerUsername: { max: LIMIT, windowSeconds: WINDOW } }));
      const ghost = uniqueUsername('ghost');
      assert.deepEqual(tally(await burst(40, () => postLogin(app, ghost, WRONG)), WINDOW), { evaluated: LIMIT, throttled: 35 });
    });

    test('when one address sends guesses at many usernames at once, then exactly its limit are checked', async (t) => {
      const app = await buildThrottledApp(t, database(), store, limits({ loginPerAddress: { max: 10, windowSeconds: WINDOW } }));
      const replies = await burst(50, () => postLogin(app, uniqueUsername('guess'), WRONG, { remoteAddress: '203.0.113.50' }));
      assert.deepEqual(tally(replies, WINDOW), { evaluated: 10, throttled: 40 });
    });

    test('when guesses at one username come at once from many addresses, then exactly the ceiling across addresses is checked', async (t) => {
      const app = await buildThrottledApp(t, database(), store, limits({ loginPerUsernameTotal: { max: 8, windowSeconds: WINDOW } }));
      const user = await createUser(app);
      const replies = await burst(60, (index) => postLogin(app, user.username, WRONG, { remoteAddress: `198.51.100.${index + 1}` }));
      assert.deepEqual(tally(replies, WINDOW), { evaluated: 8, throttled: 52 });
    });

    test('when the right password is 51st in a burst of 100, then it is refused with 429 and no session is created', async (t) => {
      const app = await buildThrottledApp(t, database(), store, limits({ loginPerUsername: { max: LIMIT, windowSeconds: WINDOW } }));
      const user = await createUser(app);
      const sessionsBefore = await storedSessions(database(), user.id);
      const replies = await burst(100, (index) => postLogin(app, user.username, index === 50 ? user.password : WRONG));
      assert.equal(replies[50]!.statusCode, 429, replies[50]!.body);
      assert.deepEqual(tally(replies, WINDOW), { evaluated: LIMIT, throttled: 95 });
      assert.deepEqual(await storedSessions(database(), user.id), sessionsBefore);
    });

    test('when 50 wrong current passwords are sent at once to change the password, then exactly the limit are checked and nothing changes', async (t) => {
      const app = await buildThrottledApp(t, database(), store, limits({ loginPerUsername: { max: LIMIT, windowSeconds: WINDOW } }));
      const user = await createUser(app);
      const before = await storedUser(database(), user.id);
      const replies = await burst(50, (index) => changePassword(app, user, index === 30 ? user.password : `${WRONG} ${index}`));
      assert.equal(replies[30]!.statusCode, 429, replies[30]!.body);
      assert.deepEqual(tally(replies, WINDOW, INVALID_PASSWORD), { evaluated: LIMIT, throttled: 45 });
      assert.deepEqual(await storedUser(database(), user.id), before);
    });

    test('when 50 wrong current passwords are sent at once to delete the account, then exactly the limit are checked and the account stays', async (t) => {
      const app = await buildThrottledApp(t, database(), store, limits({ loginPerUsername: { max: LIMIT, windowSeconds: WINDOW } }));
      const user = await createUser(app);
      const before = await storedUser(database(), user.id);
      const sessionsBefore = await storedSessions(database(), user.id);
      const replies = await burst(50, (index) => deleteAccount(app, user, index === 30 ? user.password : `${WRONG} ${index}`));
      assert.equal(replies[30]!.statusCode, 429, replies[30]!.body);
      assert.deepEqual(tally(replies, WINDOW, INVALID_PASSWORD), { evaluated: LIMIT, throttled: 45 });
      assert.deepEqual(await storedUser(database(), user.id), before);
      assert.deepEqual(await storedSessions(database(), user.id), sessionsBefore);
    });

    test('when logins, password changes and deletions guess at one account at once, then together they get only the limit', async (t) => {
      const app = await buildThrottledApp(t, database(), store, limits({ loginPerUsername: { max: LIMIT, windowSeconds: WINDOW } }));
      const user = await createUser(app);
      const before = await storedUser(database(), user.id);
      const senders = [
        () => postLogin(app, user.username, WRONG),
        () => changePassword(app, user, WRONG),
        () => deleteAccount(app, user, WRONG),
      ];
      const replies = await burst(45, (index) => senders[index % senders.length]!());
      const evaluated = replies.filter((reply) => reply.statusCode === 400).length;
      const throttled = replies.filter((reply) => reply.statusCode === 429).length;
      assert.deepEqual({ evaluated, throttled }, { evaluated: LIMIT, throttled: 40 });
      assert.deepEqual(await storedUser(database(), user.id), before);
    });
  });
}

describe(`[${dialectName}, counters in Redis] guesses in parallel through several processes`, { concurrency: true }, () => {
  test('when a burst of guesses is spread over three processes, then together they get exactly the limit checked', async (t) => {
    const { apps } = await buildThrottledApps(t, database(), 'redis', limits({ loginPerUsername: { max: LIMIT, windowSeconds: WINDOW } }), 3);
    const user = await createUser(apps[0]!);
    const sessionsBefore = await storedSessions(database(), user.id);
    const replies = await burst(90, (index) => postLogin(apps[index % 3]!, user.username, index === 60 ? user.password : WRONG));
    assert.equal(replies[60]!.statusCode, 429, replies[60]!.body);
    assert.deepEqual(tally(replies, WINDOW), { evaluated: LIMIT, throttled: 85 });
    assert.deepEqual(await storedSessions(database(), user.id), sessionsBefore);
  });
});

describe(`[${dialectName}, counters in memory] a flood of other keys`, { concurrency: true }, () => {
  test("when the store is flooded with the counters of thousands of other usernames, then a username's counter is still there", async (t) => {
    const app = await buildThrottledApp(t, database(), 'memory', limits({ loginPerUsername: { max: 2, windowSeconds: WINDOW } }));
    const user = await createUser(app);
    for (let i = 0; i < 2; i++) assert.equal((await postLogin(app, user.username, WRONG)).statusCode, 400);

    // Accounts imported with a one-iteration Django hash make each failed login cheap to cause.
    const others = await insertCheapAccounts(12_000);
    for (let start = 0; start < others.length; start += 500) {
      const replies = await Promise.all(
        others.slice(start, start + 500).map((username, index) =>
          postLogin(app, username, WRONG, { remoteAddress: `10.${(start + index) >> 16}.${((start + index) >> 8) & 255}.${(start + index) & 255}` }),
        ),
      );
      assert.ok(replies.every((reply) => reply.statusCode === 400));
    }

    const sessionsBefore = await storedSessions(database(), user.id);
    assertThrottled(await postLogin(app, user.username, user.password), WINDOW);
    assert.deepEqual(await storedSessions(database(), user.id), sessionsBefore);
  });
});

async function insertCheapAccounts(count: number): Promise<string[]> {
  const password = djangoPbkdf2('a password nobody guesses', 1);
  const usernames = Array.from({ length: count }, () => uniqueUsername('flood'));
  for (let start = 0; start < count; start += 500) {
    const rows = usernames.slice(start, start + 500).map((username) => ({
      username,
      username_key: usernameKey(username),
      email: '',
      password,
      is_active: true,
      date_joined: timestampIn(0),
    }));
    await database().db.insertInto('users').values(rows).execute();
  }
  return usernames;
}
