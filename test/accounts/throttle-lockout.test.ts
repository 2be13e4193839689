import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createUser, dialectName, type TestUser } from '../helpers.js';
import { CREDENTIALS_REFUSED, postLogin, storedSessions, storedUser } from './support.js';
import { STORES, assertThrottled, buildThrottledApp, limits, sharedDatabase, tally } from './throttle-support.js';

/**
 * Guesses from other addresses must not lock an account's owner out, while the guesses at one
 * account from everywhere stay bounded: failures are counted per username and address, and
 * under a higher ceiling per username across addresses, which does not apply from an address
 * the owner has logged in from.
 */
const database = sharedDatabase();
const WINDOW = 60;
const WRONG = 'wrong password';
const OWNER_HOME = '192.0.2.10';
const OWNER_TRAVELLING = '192.0.2.99';
const PER_PAIR = 3;
const CEILING = 10;
const SCHEME = limits({
  loginPerUsername: { max: PER_PAIR, windowSeconds: WINDOW },
  loginPerUsernameTotal: { max: CEILING, windowSeconds: WINDOW },
});

const attacker = (index: number) => `203.0.113.${index + 1}`;

/** Fails `perAddress` logins from each of `addresses` attackers' addresses, all at once. */
function attack(app: FastifyInstance, user: TestUser, addresses: number, perAddress: number) {
  return Promise.all(
    Array.from({ length: addresses * perAddress }, (_, index) =>
      postLogin(app, user.username, `${WRONG} ${index}`, { remoteAddress: attacker(index % addresses) }),
    ),
  );
}

const changePassword = (app: FastifyInstance, user: TestUser, current: string, remoteAddress: string) =>
  app.inject({
    method: 'POST',
    url: '/api/user/password/',
    headers: user.auth,
    payload: { current_password: current, new_password: 'another fine passphrase' },
    remoteAddress,
  });

/** An owner who has logged in from home before. */
async function ownerAtHome(app: FastifyInstance): Promise<TestUser> {
  const user = await createUser(app);
  assert.equal((await postLogin(app, user.username, user.password, { remoteAddress: OWNER_HOME })).statusCode, 200);
  return user;
}

for (const store of STORES) {
  describe(`[${dialectName}, counters ${store === 'redis' ? 'in Redis' : 'in memory'}] lock-out`, { concurrency: true }, () => {
    test('when attackers fail their limit from several addresses, then they are refused while the owner logs in from a new address', async (t) => {
      const app = await buildThrottledApp(t, database(), store, SCHEME);
      const user = await createUser(app);
      const replies = await attack(app, user, 3, PER_PAIR);
      assert.deepEqual(tally(replies, WINDOW), { evaluated: 9, throttled: 0 });
      assertThrottled(await postLogin(app, user.username, user.password, { remoteAddress: attacker(0) }), WINDOW);

      const before = await storedSessions(database(), user.id);
      const owner = await postLogin(app, user.username, user.password, { remoteAddress: OWNER_TRAVELLING });
      assert.equal(owner.statusCode, 200, owner.body);
      assert.equal((await storedSessions(database(), user.id)).length, before.length + 1);
    });

    test('when a distributed attack spends the ceiling, then only the ceiling is checked, and every new address is refused, the right password included', async (t) => {
      const app = await buildThrottledApp(t, database(), store, SCHEME);
      const user = await ownerAtHome(app);
      // 40 addresses, 2 guesses each: within every address's own limit, but 80 in all.
      assert.deepEqual(tally(await attack(app, user, 40, 2), WINDOW), { evaluated: CEILING, throttled: 70 });
      assert.deepEqual(tally(await attack(app, user, 40, 1), WINDOW), { evaluated: 0, throttled: 40 });

      const before = await storedSessions(database(), user.id);
      assertThrottled(await postLogin(app, user.username, user.password, { remoteAddress: OWNER_TRAVELLING }), WINDOW);
      assert.deepEqual(await storedSessions(database(), user.id), before);
    });

    test('when a distributed attack spends the ceiling, then the owner still logs in, changes the password and deletes the account from home', async (t) => {
      const app = await buildThrottledApp(t, database(), store, SCHEME);
      const user = await ownerAtHome(app);
      await attack(app, user, 40, 2);
      assertThrottled(await postLogin(app, user.username, user.password, { remoteAddress: OWNER_TRAVELLING }), WINDOW);

      // The owner's own slips at home count against home alone.
      const slip = await postLogin(app, user.username, 'a typo', { remoteAddress: OWNER_HOME });
      assert.equal(slip.statusCode, 400);
      assert.deepEqual(slip.json(), CREDENTIALS_REFUSED);
      assert.equal((await postLogin(app, user.username, user.password, { remoteAddress: OWNER_HOME })).statusCode, 200);

      const changed = await changePassword(app, user, user.password, OWNER_HOME);
      assert.equal(changed.statusCode, 204, changed.body);
      const deleted = await app.inject({
        method: 'DELETE',
        url: '/api/user/',
        headers: user.auth,
        payload: { current_password: 'another fine passphrase' },
        remoteAddress: OWNER_HOME,
      });
      assert.equal(deleted.statusCode, 204, deleted.body);
      assert.equal(await storedUser(database(), user.id), undefined);
    });

    test('when someone at the owner\'s own address guesses, then the limit per username and address still holds there', async (t) => {
      const app = await buildThrottledApp(t, database(), store, SCHEME);
      const user = await ownerAtHome(app);
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, index) => postLogin(app, user.username, `${WRONG} ${index}`, { remoteAddress: OWNER_HOME })),
      );
      assert.deepEqual(tally(replies, WINDOW), { evaluated: PER_PAIR, throttled: 17 });
      assertThrottled(await postLogin(app, user.username, user.password, { remoteAddress: OWNER_HOME }), WINDOW);
    });

    test('when the owner logs in after slips, then the slips from that address are forgiven and the login is not counted', async (t) => {
      const app = await buildThrottledApp(t, database(), store, limits({
        loginPerUsername: { max: PER_PAIR, windowSeconds: WINDOW },
        loginPerUsernameTotal: { max: 6, windowSeconds: WINDOW },
      }));
      const user = await createUser(app);
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < PER_PAIR - 1; i++) {
          assert.equal((await postLogin(app, user.username, WRONG, { remoteAddress: OWNER_TRAVELLING })).statusCode, 400);
        }
        assert.equal((await postLogin(app, user.username, user.password, { remoteAddress: OWNER_TRAVELLING })).statusCode, 200);
      }
      // Of the six slips, only the first two came before the address was the owner's, so the
      // ceiling has four guesses left for attackers; the three logins took none.
      const replies = await attack(app, user, 4, 2);
      assert.deepEqual(tally(replies, WINDOW), { evaluated: 4, throttled: 4 });
    });

    test('when a token holder guesses the current password from elsewhere, then the owner can still change it from home', async (t) => {
      const app = await buildThrottledApp(t, database(), store, SCHEME);
      const user = await ownerAtHome(app);
      const before = await storedUser(database(), user.id);
      const guesses = await Promise.all(
        Array.from({ length: 30 }, (_, index) => changePassword(app, user, `${WRONG} ${index}`, attacker(index % 10))),
      );
      assert.deepEqual(tally(guesses, WINDOW, { current_password: ['Invalid password.'] }), { evaluated: CEILING, throttled: 20 });
      assert.deepEqual(await storedUser(database(), user.id), before);

      assertThrottled(await changePassword(app, user, user.password, attacker(20)), WINDOW);
      assert.equal((await changePassword(app, user, user.password, OWNER_HOME)).statusCode, 204);
    });

    test('when clients come through a trusted proxy, then attackers and the owner are told apart by X-Forwarded-For', async (t) => {
      const app = await buildThrottledApp(t, database(), store, SCHEME, { TRUST_PROXY: 'true' });
      const user = await createUser(app);
      const through = (client: string) => ({ headers: { 'x-forwarded-for': client } });
      const replies = await Promise.all(
        Array.from({ length: 12 }, (_, index) => postLogin(app, user.username, `${WRONG} ${index}`, through(attacker(index % 2)))),
      );
      assert.deepEqual(tally(replies, WINDOW), { evaluated: 2 * PER_PAIR, throttled: 12 - 2 * PER_PAIR });
      assertThrottled(await postLogin(app, user.username, user.password, through(attacker(0))), WINDOW);
      assert.equal((await postLogin(app, user.username, user.password, through(OWNER_TRAVELLING))).statusCode, 200);
    });

    test('when no proxy is trusted, then a forged X-Forwarded-For does not make one client count as many', async (t) => {
      const app = await buildThrottledApp(t, database(), store, SCHEME);
      const user = await createUser(app);
      const replies = await Promise.all(
        Array.from({ length: 12 }, (_, index) =>
          postLogin(app, user.username, `${WRONG} ${index}`, { remoteAddress: attacker(0), headers: { 'x-forwarded-for': attacker(index + 1) } }),
        ),
      );
      assert.deepEqual(tally(replies, WINDOW), { evaluated: PER_PAIR, throttled: 12 - PER_PAIR });
    });
  });
}
