import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadSigningKey } from '../../src/browser-sessions/signing-key.js';
import { createDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createUser, dialectName, openTestDatabase } from '../helpers.js';
import { runCli, start, tempDatabaseUrl } from '../server-process.js';
import { ACCESS_REFUSED, PAGE, TOKEN_REFUSED, browserLogin, browserSessions, call, serve } from './support.js';

describe(`[${dialectName}] the key that signs browser sessions`, () => {
  test('when several loads race on a database without a key, then one key is made and all of them use it', async (t) => {
    const database = await openTestDatabase(t);
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadSigningKey(database.db, undefined)));
    const texts = new Set(keys.map((key) => Buffer.from(key).toString()));
    assert.equal(texts.size, 1);
    assert.ok([...texts][0]!.length >= 43, 'at least 256 bits');
    const rows = await database.db.selectFrom('jwt_signing_key').selectAll().execute();
    assert.equal(rows.length, 1);
  });

  test('when another app starts on the same database (a restart, another process), then sessions started on the first one keep working there', async (t) => {
    const first = await serve(t);
    const alice = await createUser(first.app);
    const session = await browserLogin(first.base, alice);
    const second = await serve(t, { database: first.database });
    const tasks = await call(second.base, 'GET', '/api/tasks/', { headers: { authorization: `Bearer ${session.access}` } });
    assert.equal(tasks.status, 200);
    const refreshed = await call(second.base, 'POST', '/dj-rest-auth/token/refresh/', { body: { refresh: session.refresh } });
    assert.equal(refreshed.status, 200);
  });

  test('when JWT_SIGNING_KEY is set, then it signs the tokens, and tokens of the stored key are refused', async (t) => {
    const stored = await serve(t);
    const alice = await createUser(stored.app);
    const storedSession = await browserLogin(stored.base, alice);
    const configured = await serve(t, { database: stored.database, env: { JWT_SIGNING_KEY: 'a-configured-signing-key-of-40-characters' } });
    const refused = await call(configured.base, 'GET', '/api/tasks/', { headers: { authorization: `Bearer ${storedSession.access}` } });
    assert.equal(refused.status, 401);
    assert.deepEqual(refused.body, ACCESS_REFUSED);
    const own = await browserLogin(configured.base, alice);
    assert.equal((await call(configured.base, 'GET', '/api/tasks/', { headers: { authorization: `Bearer ${own.access}` } })).status, 200);
    assert.equal((await call(stored.base, 'GET', '/api/tasks/', { headers: { authorization: `Bearer ${own.access}` } })).status, 401);
  });
});

describe(`[${dialectName}] task-tracker rotate-jwt-key`, () => {
  test('when the key is rotated, then every browser session ends at once, opaque tokens keep working, and apps started afterwards sign with the new key', async (t) => {
    const url = await tempDatabaseUrl(t);
    const database = createDatabase(url);
    t.after(() => database.close());
    await migrateToLatest(database.db);
    const before = await serve(t, { database });
    const alice = await createUser(before.app);
    const session = await browserLogin(before.base, alice);
    const oldKey = (await database.db.selectFrom('jwt_signing_key').select('secret').executeTakeFirstOrThrow()).secret;

    const rotated = await runCli(t, ['rotate-jwt-key'], url);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /^The key was replaced and 1 browser session ended\. Restart the servers/);
    const newKey = (await database.db.selectFrom('jwt_signing_key').select('secret').executeTakeFirstOrThrow()).secret;
    assert.notEqual(newKey, oldKey);
    assert.deepEqual(await browserSessions({ database }, alice.id), []);

    // The running app still holds the old key, but the session is gone: refused at once.
    assert.deepEqual((await call(before.base, 'GET', '/api/tasks/', { headers: { authorization: `Bearer ${session.access}` } })).body, ACCESS_REFUSED);
    assert.deepEqual((await call(before.base, 'POST', '/dj-rest-auth/token/refresh/', { body: { refresh: session.refresh } })).body, TOKEN_REFUSED);
    assert.equal((await call(before.base, 'GET', '/api/tasks/', { headers: alice.auth })).status, 200);

    const after = await serve(t, { database });
    const fresh = await browserLogin(after.base, alice, { origin: PAGE });
    assert.equal((await call(after.base, 'GET', '/api/tasks/', { headers: { authorization: `Bearer ${fresh.access}` } })).status, 200);
    // A token of the old key, even for a live session, is refused by an app with the new one.
    const stale = await browserLogin(before.base, alice);
    assert.equal((await call(after.base, 'GET', '/api/tasks/', { headers: { authorization: `Bearer ${stale.access}` } })).status, 401);
  });

  test('when JWT_SIGNING_KEY is set, then rotate-jwt-key refuses, since the stored key is not in use', async (t) => {
    const url = await tempDatabaseUrl(t);
    const database = createDatabase(url);
    t.after(() => database.close());
    await migrateToLatest(database.db);
    const running = start(t, 'src/cli.ts', ['rotate-jwt-key'], { DATABASE_URL: url, JWT_SIGNING_KEY: 'k'.repeat(40) });
    assert.equal(await running.exited, 1);
    assert.match(running.output().stderr, /JWT_SIGNING_KEY is set/);
    assert.doesNotMatch(running.output().stderr + running.output().stdout, /kkkk/);
  });
});
