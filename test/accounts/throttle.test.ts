import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig, type ThrottleConfig } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { buildTestApp, createUser, dialectName, openTestDatabase, uniqueUsername } from '../helpers.js';
import { CREDENTIALS_REFUSED, postLogin, storedSessions, storedUser } from './support.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const GENEROUS = { max: 1000, windowSeconds: 60 };

function limits(overrides: Partial<ThrottleConfig>): ThrottleConfig {
  return { loginPerUsername: GENEROUS, loginPerAddress: GENEROUS, registerPerAddress: GENEROUS, ...overrides };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The reply is DRF's throttling answer, and its Retry-After agrees with the body. */
function assertThrottled(reply: LightMyRequestResponse, windowSeconds: number): void {
  assert.equal(reply.statusCode, 429, reply.body);
  const wait = Number(reply.headers['retry-after']);
  assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= windowSeconds, `Retry-After ${reply.headers['retry-after']}`);
  assert.deepEqual(reply.json(), {
    detail: `Request was throttled. Expected available in ${wait} second${wait === 1 ? '' : 's'}.`,
  });
}

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
async function buildRedisApp(t: TestContext, namespace: string, throttle: ThrottleConfig) {
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

async function dropNamespace(namespace: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${namespace}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
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
      assert.equal(ghostReply.body, realReply.body);
    });

    test('when the window has passed, then the username may log in again', async (t) => {
      const { app } = await buildThrottledApp(t, limits({ loginPerUsername: { max: 2, windowSeconds: 2 } }));
      const user = await createUser(app);
      for (let i = 0; i < 2; i++) assert.equal((await postLogin(app, user.username, 'wrong password')).statusCode, 400);
      assertThrottled(await postLogin(app, user.username, user.password), 2);
      await sleep(2100);
      assert.equal((await postLogin(app, user.username, user.password)).statusCode, 200);
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
      const { app } = await buildThrottledApp(t, limits({ loginPerAddress: { max: 2, windowSeconds: 2 } }));
      const user = await createUser(app);
      for (let i = 0; i < 2; i++) assert.equal((await postLogin(app, user.username, 'wrong password')).statusCode, 400);
      assertThrottled(await postLogin(app, user.username, user.password), 2);
      await sleep(2100);
      assert.equal((await postLogin(app, user.username, user.password)).statusCode, 200);
    });
  });

  describe('registration per address', { concurrency: true }, () => {
    test('when one address signs up too often, then it is refused with 429, nothing is created, and other addresses still sign up', async (t) => {
      const { app } = await buildThrottledApp(t, limits({ registerPerAddress: { max: 2, windowSeconds: 2 } }));
      const acceptedName = uniqueUsername();
      assert.equal((await register(app, acceptedName, '192.0.2.1')).statusCode, 201);
      // Failed sign-ups count too: the limit is on attempts.
      const invalid = await app.inject({ method: 'POST', url: '/api/register/', payload: {}, remoteAddress: '192.0.2.1' });
      assert.equal(invalid.statusCode, 400);
      const refusedName = uniqueUsername();
      assertThrottled(await register(app, refusedName, '192.0.2.1'), 2);
      assert.deepEqual(await usernamesStored([acceptedName, refusedName]), [acceptedName]);

      assert.equal((await register(app, uniqueUsername(), '192.0.2.99')).statusCode, 201);
      // An IPv6 client is one address per /64.
      assert.equal((await register(app, uniqueUsername(), '2001:db8:5::1')).statusCode, 201);
      assert.equal((await register(app, uniqueUsername(), '2001:db8:5::2')).statusCode, 201);
      assertThrottled(await register(app, uniqueUsername(), '2001:db8:5:0:abcd::3'), 2);
      await sleep(2100);
      assert.equal((await register(app, refusedName, '192.0.2.1')).statusCode, 201);
    });
  });

  describe('settings', { concurrency: true }, () => {
    test('when the throttle variables are set, then they are read as MAX/SECONDS', () => {
      const config = loadConfig({ THROTTLE_LOGIN_USERNAME: '3/120', THROTTLE_LOGIN_ADDRESS: ' 7 / 30 ', THROTTLE_REGISTER_ADDRESS: '2/1' });
      assert.deepEqual(config.throttle, {
        loginPerUsername: { max: 3, windowSeconds: 120 },
        loginPerAddress: { max: 7, windowSeconds: 30 },
        registerPerAddress: { max: 2, windowSeconds: 1 },
      });
    });

    test("when no throttle variables are set, then django-allauth's defaults apply", () => {
      assert.deepEqual(loadConfig({}).throttle, {
        loginPerUsername: { max: 5, windowSeconds: 300 },
        loginPerAddress: { max: 10, windowSeconds: 60 },
        registerPerAddress: { max: 20, windowSeconds: 60 },
      });
    });

    test('when a throttle variable is malformed, then start-up stops naming it', () => {
      for (const value of ['5', '5/0', '0/60', 'five/60', '5/60/1', '-1/60']) {
        assert.throws(() => loadConfig({ THROTTLE_LOGIN_USERNAME: value }), (error: unknown) => {
          return error instanceof ConfigError && error.message.includes('THROTTLE_LOGIN_USERNAME');
        }, value);
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
      const namespace = `tt-test:${randomBytes(6).toString('hex')}:`;
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
      const namespace = `tt-test:${randomBytes(6).toString('hex')}:`;
      t.after(() => dropNamespace(namespace));
      const throttle = limits({ registerPerAddress: { max: 2, windowSeconds: 2 } });
      const first = await buildRedisApp(t, namespace, throttle);
      const second = await buildRedisApp(t, namespace, throttle);

      const names = [uniqueUsername(), uniqueUsername(), uniqueUsername()];
      assert.equal((await register(first.app, names[0]!, '192.0.2.5')).statusCode, 201);
      assert.equal((await register(first.app, names[1]!, '192.0.2.5')).statusCode, 201);
      assertThrottled(await register(second.app, names[2]!, '192.0.2.5'), 2);
      assert.deepEqual(await usernamesStored(names), names.slice(0, 2));

      // Redis expires the counter with the window.
      await sleep(2100);
      assert.equal((await register(second.app, uniqueUsername(), '192.0.2.5')).statusCode, 201);
    });

    test('when Redis is unreachable, then logins and sign-ups still work instead of locking everyone out', async (t) => {
      const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on('error', () => {});
      const config = { ...loadConfig({ LOG_LEVEL: 'silent' }), throttle: limits({ loginPerUsername: { max: 1, windowSeconds: 60 } }) };
      const app = await buildApp({ config, database, redis, throttleNamespace: 'unreachable:' });
      t.after(async () => {
        await app.close();
        redis.disconnect();
      });
      const user = await createUser(app);
      assert.equal((await postLogin(app, user.username, 'wrong password')).statusCode, 400);
      assert.equal((await postLogin(app, user.username, 'wrong password')).statusCode, 400);
      assert.equal((await postLogin(app, user.username, user.password)).statusCode, 200);
    });
  });
});
