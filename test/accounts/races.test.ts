import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createAccountsRepository } from '../../src/accounts/repository.js';
import type { Database } from '../../src/db/database.js';
import { PASSWORD, buildTestApp, createTask, createUser, dialectName, login, type TestUser } from '../helpers.js';
import { djangoPbkdf2, insertUser, postLogin, storedSessions, storedUser, timestampIn } from './support.js';

/**
 * Security changes racing the requests they must stop, over the real app on either database
 * (on PostgreSQL through a pool of several connections). Each race is run a few times with
 * fresh users, so its windows are hit from several sides.
 */
const ROUNDS = 3;
const NEW_PASSWORD = 'a fresh passphrase 42';
const auth = (token: string) => ({ authorization: `Token ${token}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends `send()` every `everyMs` while `running` has not settled, as clients would keep doing
 * while a change is made, then waits for every reply.
 */
async function sendWhile<T>(running: Promise<unknown>, send: () => Promise<T>, everyMs = 8): Promise<T[]> {
  let settled = false;
  void running.finally(() => {
    settled = true;
  });
  const sent: Promise<T>[] = [];
  const deadline = performance.now() + 30_000;
  while (!settled && performance.now() < deadline) {
    sent.push(send());
    await sleep(everyMs);
  }
  return Promise.all(sent);
}

/**
 * Logins of another user that keep every password-hashing thread busy for a while, so that
 * logins sent next have read their credentials long before they are checked.
 */
async function busyHashing(app: FastifyInstance): Promise<() => Promise<void>> {
  const other = await createUser(app);
  const logins = Array.from({ length: 10 }, () => login(app, other.username, other.password));
  return async () => void (await Promise.all(logins));
}

async function tokensOf(replies: { statusCode: number; json(): unknown }[]): Promise<string[]> {
  const statuses = new Set(replies.map((reply) => reply.statusCode));
  for (const status of statuses) assert.ok(status === 200 || status === 400, `a racing login answered ${status}`);
  return replies.filter((reply) => reply.statusCode === 200).map((reply) => (reply.json() as { token: string }).token);
}

async function assertRefused(app: FastifyInstance, tokens: string[], context: string): Promise<void> {
  for (const token of tokens) {
    const reply = await app.inject({ method: 'GET', url: '/api/tasks/', headers: auth(token) });
    assert.equal(reply.statusCode, 401, `${context}: a token from a racing login still works`);
  }
}

describe(`[${dialectName}] logins racing a revocation of every session`, () => {
  test('when logins with the old password race a password change, then after the 204 none of their tokens works and only the caller keeps a session', async (t) => {
    const { app, database } = await buildTestApp(t);
    for (let round = 0; round < ROUNDS; round++) {
      const user = await createUser(app);
      const change = app.inject({
        method: 'POST',
        url: '/api/user/password/',
        headers: user.auth,
        payload: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      });
      const logins = await sendWhile(change, () => postLogin(app, user.username, PASSWORD));
      assert.equal((await change).statusCode, 204);
      assert.ok(logins.length >= 3, `only ${logins.length} logins raced the change`);

      await assertRefused(app, await tokensOf(logins), `round ${round}`);
      assert.equal((await app.inject({ method: 'GET', url: '/api/user/', headers: user.auth })).statusCode, 200);
      const sessions = await storedSessions(database, user.id);
      assert.equal(sessions.length, 1, `round ${round}: ${sessions.length} sessions left`);
      assert.equal((await postLogin(app, user.username, PASSWORD)).statusCode, 400);
      assert.equal((await postLogin(app, user.username, NEW_PASSWORD)).statusCode, 200);
    }
  });

  test('when logins whose password is being checked race "log out everywhere", then none of their tokens works afterwards', async (t) => {
    const { app, database } = await buildTestApp(t);
    for (let round = 0; round < ROUNDS; round++) {
      const user = await createUser(app);
      const drained = await busyHashing(app);
      // Eight logins, as in the reported attack; their credentials are read at once, and
      // checked only after the other user's hashing is done, well after the revocation.
      const logins = Promise.all(Array.from({ length: 8 }, () => postLogin(app, user.username, PASSWORD)));
      await sleep(150);
      const revoke = await app.inject({ method: 'POST', url: '/api/logout/all/', headers: user.auth });
      assert.equal(revoke.statusCode, 204);

      await assertRefused(app, [user.token, ...(await tokensOf(await logins))], `round ${round}`);
      assert.deepEqual(await storedSessions(database, user.id), []);
      await drained();
      assert.equal((await postLogin(app, user.username, PASSWORD)).statusCode, 200, 'a login after the revocation works');
    }
  });

  test('when logins race a deactivation, then none of their tokens works, not even once the user is activated again', async (t) => {
    const { app, database } = await buildTestApp(t);
    const accounts = createAccountsRepository(database);
    for (let round = 0; round < ROUNDS; round++) {
      const user = await createUser(app);
      const drained = await busyHashing(app);
      const logins = Promise.all(Array.from({ length: 8 }, () => postLogin(app, user.username, PASSWORD)));
      await sleep(150);
      assert.equal(await accounts.setActive(user.username, false), true);
      const tokens = await tokensOf(await logins);
      assert.equal(await accounts.setActive(user.username, true), true);

      await assertRefused(app, [user.token, ...tokens], `round ${round}`);
      assert.deepEqual(await storedSessions(database, user.id), []);
      await drained();
    }
  });

  test('when imported users log in in parallel, then every login works and the hash is upgraded once to Argon2id', async (t) => {
    const { app, database } = await buildTestApp(t);
    const username = `imported_${Date.now()}`;
    const id = await insertUser(database, { username, password: djangoPbkdf2(PASSWORD, 20_000) });
    const logins = await Promise.all(Array.from({ length: 6 }, () => postLogin(app, username, PASSWORD)));
    assert.deepEqual(logins.map((reply) => reply.statusCode), [200, 200, 200, 200, 200, 200]);
    assert.match((await storedUser(database, id))!.password, /^\$argon2id\$/);
    assert.equal((await storedSessions(database, id)).length, 6);
  });

  test('when an imported user changes their password while logins with the old one upgrade its hash, then only the new password works afterwards', async (t) => {
    const { app, database } = await buildTestApp(t);
    for (let round = 0; round < ROUNDS; round++) {
      const username = `imported_${round}_${Date.now()}`;
      const id = await insertUser(database, { username, password: djangoPbkdf2(PASSWORD, 20_000) });
      const caller = auth(await login(app, username, PASSWORD));
      // Back to the imported hash: every racing login then verifies it and stores a new one.
      await database.db.updateTable('users').set({ password: djangoPbkdf2(PASSWORD, 20_000) }).where('id', '=', id).execute();
      const change = app.inject({
        method: 'POST',
        url: '/api/user/password/',
        headers: caller,
        payload: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      });
      const logins = await sendWhile(change, () => postLogin(app, username, PASSWORD));
      const changed = await change;
      assert.ok(changed.statusCode === 204 || changed.statusCode === 400, `the change answered ${changed.statusCode}`);
      await assertRefused(app, changed.statusCode === 204 ? await tokensOf(logins) : [], `round ${round}`);

      // Whatever won, the stored hash is of exactly one password, and the old one is refused
      // if the change was accepted.
      const expected = changed.statusCode === 204 ? NEW_PASSWORD : PASSWORD;
      const other = expected === PASSWORD ? NEW_PASSWORD : PASSWORD;
      assert.equal((await postLogin(app, username, other)).statusCode, 400, `round ${round}: the other password works`);
      assert.equal((await postLogin(app, username, expected)).statusCode, 200, `round ${round}: the expected password fails`);
    }
  });
});

/** Everything a user may do with a token, sent again and again while their account is deleted. */
function anyRequest(app: FastifyInstance, user: TestUser, taskIds: number[], tokens: string[], index: number) {
  const headers = auth(tokens[index % tokens.length]!);
  const taskId = taskIds[index % taskIds.length]!;
  const requests = [
    () => app.inject({ method: 'POST', url: '/api/tasks/', headers, payload: { title: `racing ${index}` } }),
    () => app.inject({ method: 'PATCH', url: `/api/tasks/${taskId}/`, headers, payload: { completed: true, title: `renamed ${index}` } }),
    () => app.inject({ method: 'DELETE', url: `/api/tasks/${taskId}/`, headers }),
    () => app.inject({ method: 'PUT', url: `/api/tasks/${taskId}/`, headers, payload: { title: `replaced ${index}` } }),
    () => app.inject({ method: 'GET', url: '/api/user/', headers }),
    () => app.inject({ method: 'PATCH', url: '/api/user/', headers, payload: { email: `racing${index}@example.com` } }),
    () => app.inject({ method: 'GET', url: '/api/tasks/?search=racing&page_size=5', headers }),
    () => app.inject({ method: 'GET', url: '/api/sessions/', headers }),
    () => postLogin(app, user.username, PASSWORD),
  ];
  return requests[index % requests.length]!();
}

const ALLOWED: Record<string, number[]> = {
  'POST /api/tasks/': [201, 401],
  'PATCH /api/tasks/:id/': [200, 401, 404],
  'DELETE /api/tasks/:id/': [204, 401, 404],
  'PUT /api/tasks/:id/': [200, 401, 404],
  'GET /api/user/': [200, 401, 404],
  'PATCH /api/user/': [200, 401, 404],
  'GET /api/tasks/': [200, 401],
  'GET /api/sessions/': [200, 401],
  'POST /api/login/': [200, 400],
};

function routeOf(method: string, url: string): string {
  return `${method} ${url.replace(/\/\d+\//, '/:id/').replace(/\?.*$/, '')}`;
}

/** Deletes the account as DELETE /api/user/ does, at a moment the test chooses. */
async function deleteAccount(database: Database, userId: number): Promise<void> {
  await database.db.deleteFrom('users').where('id', '=', userId).execute();
}

async function userRows(database: Database, userId: number) {
  const { db } = database;
  const ids = (rows: unknown[]) => rows.length;
  return {
    user: (await storedUser(database, userId)) !== undefined,
    tasks: ids(await db.selectFrom('tasks').select('id').where('owner_id', '=', userId).execute()),
    tombstones: ids(await db.selectFrom('deleted_tasks').select('task_id').where('owner_id', '=', userId).execute()),
    sessions: ids(await db.selectFrom('auth_tokens').select('id').where('user_id', '=', userId).execute()),
  };
}

describe(`[${dialectName}] requests racing an account deletion`, () => {
  test('when every kind of request races the deletion of the account, then each gets its normal answer, 401 or 404, never a server error, and nothing of the user is left', async (t) => {
    const { app, database } = await buildTestApp(t);
    for (let round = 0; round < ROUNDS; round++) {
      const user = await createUser(app);
      const tokens = [user.token];
      for (let i = 0; i < 3; i++) tokens.push(await login(app, user.username, PASSWORD));
      const taskIds: number[] = [];
      for (let i = 0; i < 12; i++) taskIds.push((await createTask(app, user, { title: `task ${i}` })).id);
      // Every session is due for its last-use write, so the racing requests make it too.
      await database.db.updateTable('auth_tokens').set({ last_used_at: timestampIn(-120) }).where('user_id', '=', user.id).execute();

      // The deletion's password check waits behind other hashing, so many requests overlap it.
      const drained = await busyHashing(app);
      const deletion = app.inject({ method: 'DELETE', url: '/api/user/', headers: user.auth, payload: { current_password: PASSWORD } });
      let index = 0;
      const replies = await sendWhile(deletion, async () => {
        const reply = await anyRequest(app, user, taskIds, tokens, index++);
        return { route: routeOf(reply.raw.req.method!, reply.raw.req.url!), status: reply.statusCode, body: reply.body };
      }, 2);
      const deleted = await deletion;
      assert.equal(deleted.statusCode, 204, deleted.body);
      assert.ok(replies.length >= 9, `only ${replies.length} requests raced the deletion`);
      await drained();
      for (const { route, status, body } of replies) {
        assert.ok(ALLOWED[route]?.includes(status), `round ${round}: ${route} answered ${status} ${body}`);
      }
      assert.deepEqual(await userRows(database, user.id), { user: false, tasks: 0, tombstones: 0, sessions: 0 });
      await assertRefused(app, tokens, `round ${round}`);
    }
  });

  test('when a password change races the deletion of the account, then one of them wins and neither is a server error', async (t) => {
    const { app, database } = await buildTestApp(t);
    for (let round = 0; round < ROUNDS; round++) {
      const user = await createUser(app);
      const other = auth(await login(app, user.username, PASSWORD));
      const [deletion, change] = await Promise.all([
        app.inject({ method: 'DELETE', url: '/api/user/', headers: user.auth, payload: { current_password: PASSWORD } }),
        app.inject({ method: 'POST', url: '/api/user/password/', headers: other, payload: { current_password: PASSWORD, new_password: NEW_PASSWORD } }),
      ]);
      const stored = await storedUser(database, user.id);
      if (deletion.statusCode === 204) {
        assert.equal(stored, undefined);
        assert.ok([400, 401, 404].includes(change.statusCode), `the change answered ${change.statusCode} ${change.body}`);
      } else {
        // The change came first: the deletion's password is no longer the account's.
        assert.deepEqual([deletion.statusCode, deletion.json()], [400, { current_password: ['Invalid password.'] }]);
        assert.equal(change.statusCode, 204);
        assert.ok(stored);
        assert.equal((await postLogin(app, user.username, NEW_PASSWORD)).statusCode, 200);
      }
    }
  });

  const afterAuthentication: [string, string, (task: number) => string, Record<string, unknown>, number, unknown][] = [
    ['POST', '/api/tasks/', () => '/api/tasks/', { title: 'too late' }, 401, { detail: 'User inactive or deleted.' }],
    ['PATCH', '/api/tasks/:id/', (task) => `/api/tasks/${task}/`, { title: 'too late' }, 404, { detail: 'Not found.' }],
    ['PUT', '/api/tasks/:id/', (task) => `/api/tasks/${task}/`, { title: 'too late' }, 404, { detail: 'Not found.' }],
    ['DELETE', '/api/tasks/:id/', (task) => `/api/tasks/${task}/`, {}, 404, { detail: 'Not found.' }],
    ['PATCH', '/api/user/', () => '/api/user/', { email: 'late@example.com' }, 404, { detail: 'Not found.' }],
    ['POST', '/api/user/password/', () => '/api/user/password/', { current_password: PASSWORD, new_password: NEW_PASSWORD }, 404, { detail: 'Not found.' }],
    ['DELETE', '/api/user/', () => '/api/user/', { current_password: PASSWORD }, 404, { detail: 'Not found.' }],
  ];
  for (const [method, route, url, payload, status, expected] of afterAuthentication) {
    test(`when the account is deleted after a ${method} ${route} was authenticated, then it answers ${status}, not a server error, and writes nothing`, async (t) => {
      const { app, database } = await buildTestApp(t);
      const user = await createUser(app);
      const task = await createTask(app, user);
      // The request is authenticated at once; its body arrives only after the account is gone.
      const body = new PassThrough();
      const request = app.inject({ method: method as 'POST', url: url(task.id), headers: { ...user.auth, 'content-type': 'application/json' }, payload: body });
      await sleep(20);
      await deleteAccount(database, user.id);
      body.end(JSON.stringify(payload));
      const reply = await request;
      assert.deepEqual([reply.statusCode, reply.json()], [status, expected]);
      assert.deepEqual(await userRows(database, user.id), { user: false, tasks: 0, tombstones: 0, sessions: 0 });
    });
  }

  test('when the account is deleted while a login checks its password, then the login is refused with 400 (or was done before), never a server error, and no session is left', async (t) => {
    const { app, database } = await buildTestApp(t);
    for (let round = 0; round < ROUNDS; round++) {
      const user = await createUser(app);
      const drained = await busyHashing(app);
      const logins = Promise.all(Array.from({ length: 4 }, () => postLogin(app, user.username, PASSWORD)));
      await sleep(150);
      await deleteAccount(database, user.id);
      // A login that finished before the deletion succeeded; its session went with the account.
      for (const reply of await logins) {
        if (reply.statusCode === 200) continue;
        assert.deepEqual([reply.statusCode, reply.json()], [400, { non_field_errors: ['Unable to log in with provided credentials.'] }]);
      }
      assert.deepEqual(await userRows(database, user.id), { user: false, tasks: 0, tombstones: 0, sessions: 0 });
      await drained();
    }
  });
});
