import assert from 'node:assert/strict';
import { hash, randomBytes } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig, type ThrottleConfig } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { DEFAULT_THROTTLE_NAMESPACE } from '../../src/accounts/throttle.js';
import { usernameKey } from '../../src/accounts/repository.js';
import { buildTestApp, createUser, dialectName, formBody, multipartBody, openTestDatabase, uniqueUsername } from '../helpers.js';
import { CREDENTIALS_REFUSED, postLogin, storedSessions, storedUser } from './support.js';
import { REDIS_URL, assertThrottled, dropNamespace, limits, uniqueNamespace } from './throttle-support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * Windows in these tests are a few seconds: long enough for the requests that fill them on a
 * busy machine, and then waited out by the Retry-After the refusal gave.
 */
const WINDOW = 8;
const waitOut = (refused: LightMyRequestResponse) => sleep(Number(refused.headers['retry-after']) * 1000 + 100);

const digest = (text: string) => hash('sha256', text, 'base64url');
const randomAddress = () => `10.${randomBytes(3).join('.')}`;

const register = (app: FastifyInstance, username: string, remoteAddress?: string) =>
  app.inject({ method: 'POST', url: '/api/register/', payload: { username, password: 'a decent passphrase' }, remoteAddress });

/**
 * One database for the whole file, so the tests can run side by side (most of their time is
 * spent waiting for throttle windows to pass); each test builds its own app, with its own
 * counters, and its own users.
 */
let database: Database;
const cleanups: (() => unknown)[] = [];
before(async () => {
  database = await openTestDatabase({ after: (cleanup: () => unknown) => void cleanups.push(cleanup) } as unknown as TestContext);
});
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const buildThrottledApp = (t: TestContext, throttle: ThrottleConfig) => buildTestApp(t, { database, config: { throttle } });

async function usernamesStored(usernames: string[]): Promise<string[]> {
  const rows = await database.db.selectFrom('users').select('username').where('username', 'in', usernames).orderBy('id').execute();
  return rows.map((row) => row.username);
}

/** An app whose throttle counters live in Redis under `namespace`, on a shared database. */
async function buildRedisApp(t: TestContext, namespace: string | undefined, throttle: ThrottleConfig) {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  const config = { ...loadConfig({ LOG_LEVEL: 'silent' }), throttle };
  const app = await buildApp({ config, database, redis, throttleNamespace: namespace });
  t.after(async () => {
    await app.close();
    redis.disconnect();
  });
  return { app, redis };
}

describe(`[${dialectName}] throttling`, { concurrency: true }, () => {
  describe('login per username', { concurrency: true }, () => {
    test('when a username has failed too often, then even the right password is refused with 429 and no session is made', async (t) => {
      const { app, database } = await buildThrottledApp(t, limits({ loginPerUsername: { max: 3, windowSeconds: 60 } }));
      const user = await createUser(app);
      for (let i = 0; i < 3; i++) {
        const reply = await postLogin(app, user.username, 'wrong password');
        assert.equal(reply.statusCode, 400);
        assert.deepEqual(reply.json(), CREDENTIALS_REFUSED);
      }
      const sessionsBefore = await storedSessions(database, user.id);
      const refused = await postLogin(app, user.username, user.password);
      assertThrottled(refused, 60);
      assert.ok(Number(refused.headers['retry-after']) > 50);
      // The same account under another letter case is the same counter.
      assertThrottled(await postLogin(app, user.username.toUpperCase(), user.password), 60);
      assert.deepEqual(await storedSessions(database, user.id), sessionsBefore);

      // Other accounts, from the same address, are unaffected.
      const other = await createUser(app);
      assert.equal((await postLogin(app, other.username, other.password)).statusCode, 200);
    });

    test('when failures are for a username that does not exist, then it is throttled just like a real one', async (t) => {
      const { app } = await buildThrottledApp(t, limits({ loginPerUsername: { max: 2, windowSeconds: 60 } }));
      const user = await createUser(app);
      const ghost = uniqueUsername('ghost');
      for (const username of [ghost, user.username]) {
        for (let i = 0; i < 2; i++) assert.equal((await postLogin(app, username, 'wrong password')).statusCode, 400);
      }
      const ghostReply = await postLogin(app, ghost, 'wrong password');
      const realReply = await postLogin(app, user.username, 'wrong password');
      assertThrottled(ghostReply, 60);
      assertThrottled(realReply, 60);
      // The same reply but for the seconds left, which depend on when each window began.
      const shape = (body: string) => body.replace(/\d+ seconds?/, 'N seconds');
      assert.equal(shape(ghostReply.body), shape(realReply.body));
    });

    test('when the window has passed, then the username may log in again', async (t) => {
      const { app } = await buildThrottledApp(t, limits({ loginPerUsername: { max: 2, windowSeconds: WINDOW } }));
      const user = await createUser(app);
      // From an address of its own, so that the window begins with the first failure.
      const from = { remoteAddress: randomAddress() };
      for (let i = 0; i < 2; i++) assert.equal((await postLogin(app, user.username, 'wrong password', from)).statusCode, 400);
      const refused = await postLogin(app, user.username, user.password, from);
      assertThrottled(refused, WINDOW);
      await waitOut(refused);
      assert.equal((await postLogin(app, user.username, user.password, from)).statusCode, 200);
    });

    test('when logins succeed, then they are not counted as failures', async (t) => {
      const { app } = await buildThrottledApp(t, limits({ loginPerUsername: { max: 2, windowSeconds: 60 }, loginPerAddress: { max: 2, windowSeconds: 60 } }));
      const user = await createUser(app);
      for (let i = 0; i < 5; i++) assert.equal((await postLogin(app, user.username, user.password)).statusCode, 200);
      // Bad requests (missing fields) are not failed logins either.
      for (let i = 0; i < 3; i++) assert.equal((await postLogin(app, user.username, '')).statusCode, 400);
      assert.equal((await postLogin(app, user.username, 'wrong password')).statusCode, 400);
      assert.equal((await postLogin(app, user.username, user.password)).statusCode, 200);
    });
  });

  describe('current password checks', { concurrency: true }, () => {
    test('when a token holder keeps guessing the current password, then they are throttled like failed logins and nothing changes', async (t) => {
      const { app, database } = await buildThrottledApp(t, limits({ loginPerUsername: { max: 2, windowSeconds: 60 } }));
      const user = await createUser(app);
      const before = await storedUser(database, user.id);
      const change = (current: string) =>
        app.inject({
          method: 'POST',
          url: '/api/user/password/',
          headers: user.auth,
          payload: { current_password: current, new_password: 'another fine passphrase' },
        });
      for (let i = 0; i < 2; i++) {
        const reply = await change('wrong guess');
        assert.equal(reply.statusCode, 400);
        assert.deepEqual(reply.json(), { current_password: ['Invalid password.'] });
      }
      assertThrottled(await change(user.password), 60);
      const deletion = await app.inject({ method: 'DELETE', url: '/api/user/', headers: user.auth, payload: { current_password: user.password } });
      assertThrottled(deletion, 60);
      assert.deepEqual(await storedUser(database, user.id), before);
      // The account's logins are held back as well: the guesses were failed attempts at it.
      assertThrottled(await postLogin(app, user.username, user.password), 60);
    });
  });

  describe('login per address', { concurrency: true }, () => {
    test('when one address fails too often across usernames, then it is refused with 429 while other addresses log in', async (t) => {
      const { app, database } = await buildThrottledApp(t, limits({ loginPerAddress: { max: 3, windowSeconds: 60 } }));
      const user = await createUser(app);
      for (let i = 0; i < 3; i++) {
        assert.equal((await postLogin(app, uniqueUsername('guess'), 'password123', { remoteAddress: '203.0.113.7' })).statusCode, 400);
      }
      const before = await storedSessions(database, user.id);
      assertThrottled(await postLogin(app, user.username, user.password, { remoteAddress: '203.0.113.7' }), 60);
      // Malformed logins from that address are refused before any work, too.
      assertThrottled(await app.inject({ method: 'POST', url: '/api/login/', payload: {}, remoteAddress: '203.0.113.7' }), 60);
      assert.deepEqual(await storedSessions(database, user.id), before);

      assert.equal((await postLogin(app, user.username, user.password, { remoteAddress: '198.51.100.20' })).statusCode, 200);
    });

    test('when addresses from one IPv6 /64 fail too often, then the whole /64 is refused', async (t) => {
      const { app } = await buildThrottledApp(t, limits({ loginPerAddress: { max: 2, windowSeconds: 60 } }));
      const user = await createUser(app);
      assert.equal((await postLogin(app, 'nobody', 'password123', { remoteAddress: '2001:db8:1:2::1' })).statusCode, 400);
      assert.equal((await postLogin(app, 'nobody', 'password123', { remoteAddress: '2001:db8:1:2::2' })).statusCode, 400);
      assertThrottled(await postLogin(app, user.username, user.password, { remoteAddress: '2001:db8:1:2:ffff::9' }), 60);
      assert.equal((await postLogin(app, user.username, user.password, { remoteAddress: '2001:db8:1:3::1' })).statusCode, 200);
    });

    test('when the address window has passed, then the address may log in again', async (t) => {
      const { app } = await buildThrottledApp(t, limits({ loginPerAddress: { max: 2, windowSeconds: WINDOW } }));
      const user = await createUser(app);
      // From an address of its own, so that the window begins with the first failure.
      const from = { remoteAddress: randomAddress() };
      for (let i = 0; i < 2; i++) assert.equal((await postLogin(app, user.username, 'wrong password', from)).statusCode, 400);
      const refused = await postLogin(app, user.username, user.password, from);
      assertThrottled(refused, WINDOW);
      await waitOut(refused);
      assert.equal((await postLogin(app, user.username, user.password, from)).statusCode, 200);
    });
  });

  describe('registration per address', { concurrency: true }, () => {
    test('when one address signs up too often, then it is refused with 429, nothing is created, and other addresses still sign up', async (t) => {
      const { app } = await buildThrottledApp(t, limits({ registerPerAddress: { max: 2, windowSeconds: WINDOW } }));
      const acceptedName = uniqueUsername();
      assert.equal((await register(app, acceptedName, '192.0.2.1')).statusCode, 201);
      // Failed sign-ups count too: the limit is on attempts.
      const invalid = await app.inject({ method: 'POST', url: '/api/register/', payload: {}, remoteAddress: '192.0.2.1' });
      assert.equal(invalid.statusCode, 400);
      const refusedName = uniqueUsername();
      const refused = await register(app, refusedName, '192.0.2.1');
      assertThrottled(refused, WINDOW);
      assert.deepEqual(await usernamesStored([acceptedName, refusedName]), [acceptedName]);

      assert.equal((await register(app, uniqueUsername(), '192.0.2.99')).statusCode, 201);
      // An IPv6 client is one address per /64.
      assert.equal((await register(app, uniqueUsername(), '2001:db8:5::1')).statusCode, 201);
      assert.equal((await register(app, uniqueUsername(), '2001:db8:5::2')).statusCode, 201);
      assertThrottled(await register(app, uniqueUsername(), '2001:db8:5:0:abcd::3'), WINDOW);
      await waitOut(refused);
      assert.equal((await register(app, refusedName, '192.0.2.1')).statusCode, 201);
    });
  });

  describe('login names no account can have', { concurrency: true }, () => {
    const MEGABYTE = 1_000_000;
    // Each under the body limit: a form percent-encodes a character in up to 9 bytes.
    const bodies = (username: string) => [
      { payload: { username, password: 'any password' } },
      formBody({ username: username.slice(0, MEGABYTE / 10), password: 'any password' }),
      multipartBody({ username: username.slice(0, MEGABYTE / 4), password: 'any password' }),
    ];

    for (const [name, username] of [
      ['letters', 'a'.repeat(MEGABYTE)],
      ['digits, as a string', '7'.repeat(MEGABYTE)],
      ['letters that normalization changes', 'ﬀ'.repeat(MEGABYTE / 4)],
      ['accented letters', 'É'.repeat(MEGABYTE / 2)],
    ] as const) {
      test(`when a login name of a megabyte of ${name} is sent, then it is refused as failed credentials, counted against the address only`, async (t) => {
        const namespace = uniqueNamespace();
        t.after(() => dropNamespace(namespace));
        const { app, redis } = await buildRedisApp(t, namespace, limits({ loginPerAddress: { max: 3, windowSeconds: 60 } }));
        const user = await createUser(app);
        const address = randomAddress();
        const keysBefore = await redis.keys(`${namespace}*`);
        for (const body of bodies(username)) {
          const reply = await app.inject({ method: 'POST', url: '/api/login/', remoteAddress: address, ...body });
          assert.equal(reply.statusCode, 400, reply.body);
          assert.deepEqual(reply.json(), CREDENTIALS_REFUSED);
        }
        // The name was neither normalized nor hashed into a counter of its own.
        const keysAdded = (await redis.keys(`${namespace}*`)).filter((key) => !keysBefore.includes(key));
        assert.deepEqual(keysAdded, [`${namespace}login-address:${digest(address)}`]);
        assertThrottled(await postLogin(app, user.username, user.password, { remoteAddress: address }), 60);
        assert.equal((await postLogin(app, user.username, user.password, { remoteAddress: randomAddress() })).statusCode, 200);
      });
    }

    test('when a login name is longer than any username but short, then it is refused as failed credentials like any unknown name', async (t) => {
      const { app } = await buildThrottledApp(t, limits({ loginPerAddress: { max: 2, windowSeconds: 60 } }));
      const user = await createUser(app);
      const address = randomAddress();
      for (const username of [`${user.username}${'x'.repeat(150)}`, 'é'.repeat(151)]) {
        const reply = await postLogin(app, username, user.password, { remoteAddress: address });
        assert.equal(reply.statusCode, 400, reply.body);
        assert.deepEqual(reply.json(), CREDENTIALS_REFUSED);
      }
      assertThrottled(await postLogin(app, user.username, user.password, { remoteAddress: address }), 60);
    });
  });

  describe('settings', { concurrency: true }, () => {
    test('when the throttle variables are set, then they are read as MAX/SECONDS', () => {
      const config = loadConfig({
        THROTTLE_LOGIN_USERNAME: '3/120',
        THROTTLE_LOGIN_USERNAME_TOTAL: '40/1800',
        THROTTLE_LOGIN_ADDRESS: ' 7 / 30 ',
        THROTTLE_REGISTER_ADDRESS: '2/1',
        THROTTLE_PASSWORD_RESET_ADDRESS: '8/90',
        THROTTLE_PASSWORD_RESET_EMAIL: '1/3600',
      });
      assert.deepEqual(config.throttle, {
        loginPerUsername: { max: 3, windowSeconds: 120 },
        loginPerUsernameTotal: { max: 40, windowSeconds: 1800 },
        loginPerAddress: { max: 7, windowSeconds: 30 },
        registerPerAddress: { max: 2, windowSeconds: 1 },
        passwordResetPerAddress: { max: 8, windowSeconds: 90 },
        passwordResetPerEmail: { max: 1, windowSeconds: 3600 },
      });
    });

    test("when no throttle variables are set, then django-allauth's defaults apply, with a ceiling of 100 an hour across addresses", () => {
      assert.deepEqual(loadConfig({}).throttle, {
        loginPerUsername: { max: 5, windowSeconds: 300 },
        loginPerUsernameTotal: { max: 100, windowSeconds: 3600 },
        loginPerAddress: { max: 10, windowSeconds: 60 },
        registerPerAddress: { max: 20, windowSeconds: 60 },
        // django-allauth's reset_password: 20/m/ip, 5/m/key.
        passwordResetPerAddress: { max: 20, windowSeconds: 60 },
        passwordResetPerEmail: { max: 5, windowSeconds: 60 },
      });
    });

    test('when a throttle variable is malformed, then start-up stops naming it', () => {
      for (const name of ['THROTTLE_LOGIN_USERNAME', 'THROTTLE_LOGIN_USERNAME_TOTAL']) {
        for (const value of ['5', '5/0', '0/60', 'five/60', '5/60/1', '-1/60']) {
          assert.throws(() => loadConfig({ [name]: value }), (error: unknown) => {
            return error instanceof ConfigError && error.message.includes(`${name}=`);
          }, `${name}=${value}`);
        }
      }
    });

    test('when an app is configured from the variables, then its login limit is the configured one', async (t) => {
      const throttle = loadConfig({ THROTTLE_LOGIN_USERNAME: '1/60' }).throttle;
      const { app } = await buildThrottledApp(t, throttle);
      const user = await createUser(app);
      assert.equal((await postLogin(app, user.username, 'wrong password')).statusCode, 400);
      assertThrottled(await postLogin(app, user.username, user.password), 60);
    });
  });

  describe('shared through Redis', { concurrency: true }, () => {
    test('when a username is throttled through one process, then another process sharing Redis refuses it too', async (t) => {
      const namespace = uniqueNamespace();
      t.after(() => dropNamespace(namespace));
      const throttle = limits({ loginPerUsername: { max: 3, windowSeconds: 60 } });
      const first = await buildRedisApp(t, namespace, throttle);
      const second = await buildRedisApp(t, namespace, throttle);
      const user = await createUser(first.app);

      // Failures spread over both processes add up.
      assert.equal((await postLogin(first.app, user.username, 'wrong password')).statusCode, 400);
      assert.equal((await postLogin(second.app, user.username, 'wrong password')).statusCode, 400);
      assert.equal((await postLogin(first.app, user.username, 'wrong password')).statusCode, 400);
      assertThrottled(await postLogin(second.app, user.username, user.password), 60);
      assertThrottled(await postLogin(first.app, user.username, user.password), 60);

      // The counters are in Redis, under the namespace, and the username is not kept in clear.
      const keys = await first.redis.keys(`${namespace}*`);
      assert.ok(keys.length >= 2, keys.join(', '));
      assert.ok(keys.every((key) => !key.toLowerCase().includes(user.username.toLowerCase())), keys.join(', '));

      // A process with its own namespace keeps its own counters.
      const separate = await buildRedisApp(t, `${namespace}other:`, throttle);
      t.after(() => dropNamespace(`${namespace}other:`));
      assert.equal((await postLogin(separate.app, user.username, user.password)).statusCode, 200);
    });

    test('when an address signs up too often through one process, then another process sharing Redis refuses it', async (t) => {
      const namespace = uniqueNamespace();
      t.after(() => dropNamespace(namespace));
      const throttle = limits({ registerPerAddress: { max: 2, windowSeconds: WINDOW } });
      const first = await buildRedisApp(t, namespace, throttle);
      const second = await buildRedisApp(t, namespace, throttle);

      const names = [uniqueUsername(), uniqueUsername(), uniqueUsername()];
      assert.equal((await register(first.app, names[0]!, '192.0.2.5')).statusCode, 201);
      assert.equal((await register(first.app, names[1]!, '192.0.2.5')).statusCode, 201);
      const refused = await register(second.app, names[2]!, '192.0.2.5');
      assertThrottled(refused, WINDOW);
      assert.deepEqual(await usernamesStored(names), names.slice(0, 2));

      // Redis expires the counter with the window.
      await waitOut(refused);
      assert.equal((await register(second.app, uniqueUsername(), '192.0.2.5')).statusCode, 201);
    });

    for (const namespace of [DEFAULT_THROTTLE_NAMESPACE, uniqueNamespace()]) {
      test(`when counters are kept under ${namespace === DEFAULT_THROTTLE_NAMESPACE ? 'the default' : 'a chosen'} namespace, then each key is the namespace, a readable kind and a digest`, async (t) => {
        const chosen = namespace === DEFAULT_THROTTLE_NAMESPACE ? undefined : namespace;
        const { app, redis } = await buildRedisApp(t, chosen, limits({}));
        const username = uniqueUsername('Keys');
        const address = randomAddress();
        const pair = digest(JSON.stringify([usernameKey(username), address]));
        const expected = {
          registration: `${namespace}register-address:${digest(address)}`,
          address: `${namespace}login-address:${digest(address)}`,
          pair: `${namespace}login-username-address:${pair}`,
          username: `${namespace}login-username:${digest(usernameKey(username))}`,
          ownersAddress: `${namespace}known-address:${pair}`,
        };
        t.after(async () => {
          const cleaner = new Redis(REDIS_URL);
          await cleaner.del(...Object.values(expected));
          cleaner.disconnect();
        });
        const exists = async () => Object.fromEntries(
          await Promise.all(Object.entries(expected).map(async ([name, key]) => [name, await redis.exists(key)] as const)),
        );

        assert.equal((await register(app, username, address)).statusCode, 201);
        assert.equal((await postLogin(app, username, 'wrong password', { remoteAddress: address })).statusCode, 400);
        assert.deepEqual(await exists(), { registration: 1, address: 1, pair: 1, username: 1, ownersAddress: 0 });
        // A success forgets the pair's failures and remembers the address as the owner's.
        assert.equal((await postLogin(app, username.toUpperCase(), 'a decent passphrase', { remoteAddress: address })).statusCode, 200);
        assert.deepEqual(await exists(), { registration: 1, address: 1, pair: 0, username: 1, ownersAddress: 1 });

        if (chosen !== undefined) {
          const keys = await redis.keys(`${namespace}*`);
          assert.deepEqual(keys.sort(), [expected.registration, expected.address, expected.username, expected.ownersAddress].sort());
        }
      });
    }

    test('when the connection to Redis is lost, then the process goes on counting on its own instead of failing or lifting the limit', async (t) => {
      const namespace = uniqueNamespace();
      t.after(() => dropNamespace(namespace));
      const { app, redis } = await buildRedisApp(t, namespace, limits({ loginPerUsername: { max: 2, windowSeconds: 60 } }));
      const user = await createUser(app);
      assert.equal((await postLogin(app, user.username, 'wrong password')).statusCode, 400);
      redis.disconnect();
      // Counting starts afresh in the process: the failure counted in Redis is not known here.
      assert.equal((await postLogin(app, user.username, 'wrong password')).statusCode, 400);
      assert.equal((await postLogin(app, user.username, 'wrong password')).statusCode, 400);
      assertThrottled(await postLogin(app, user.username, user.password), 60);
    });

    test('when Redis is unreachable, then the process applies the limits on its own and nobody else is locked out', async (t) => {
      const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on('error', () => {});
      const throttle = limits({ loginPerUsername: { max: 2, windowSeconds: 60 }, registerPerAddress: { max: 2, windowSeconds: 60 } });
      const config = { ...loadConfig({ LOG_LEVEL: 'silent' }), throttle };
      const app = await buildApp({ config, database, redis, throttleNamespace: 'unreachable:' });
      t.after(async () => {
        await app.close();
        redis.disconnect();
      });
      const user = await createUser(app);
      const other = await createUser(app);
      assert.equal((await postLogin(app, user.username, 'wrong password')).statusCode, 400);
      assert.equal((await postLogin(app, user.username, 'wrong password')).statusCode, 400);
      assertThrottled(await postLogin(app, user.username, user.password), 60);
      assert.equal((await postLogin(app, other.username, other.password)).statusCode, 200);

      const names = [uniqueUsername(), uniqueUsername(), uniqueUsername()];
      assert.equal((await register(app, names[0]!, '192.0.2.77')).statusCode, 201);
      assert.equal((await register(app, names[1]!, '192.0.2.77')).statusCode, 201);
      assertThrottled(await register(app, names[2]!, '192.0.2.77'), 60);
      assert.deepEqual(await usernamesStored(names), names.slice(0, 2));
    });
  });
});
