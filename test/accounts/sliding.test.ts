import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTestApp, createUser, dialectName } from '../helpers.js';
import { storedSessions, timestampIn } from './support.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`[${dialectName}] sliding sessions with a short lifetime`, () => {
  test('when TOKEN_LIFETIME_SECONDS is 60 and a token last used 10 seconds ago is used, then its last use is written and its expiry slides a full lifetime ahead', async (t) => {
    const { app, database, config } = await buildTestApp(t, { env: { TOKEN_LIFETIME_SECONDS: '60' } });
    assert.equal(config.tokenLifetimeSeconds, 60);
    const user = await createUser(app);
    const [row] = await storedSessions(database, user.id);
    await database.db
      .updateTable('auth_tokens')
      .set({ last_used_at: timestampIn(-10), expires_at: timestampIn(50) })
      .where('id', '=', row!.id)
      .execute();

    assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth })).statusCode, 200);
    const [touched] = await storedSessions(database, user.id);
    assert.ok(Date.parse(touched!.last_used_at) > Date.now() - 5000, `last_used_at is ${touched!.last_used_at}`);
    const ahead = Date.parse(touched!.expires_at) - Date.parse(touched!.last_used_at);
    assert.ok(Math.abs(ahead - 60_000) < 2000, `the expiry is ${ahead} ms after the last use`);

    // Used again at once: the row is not written again, a tenth of the lifetime has not passed.
    assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth })).statusCode, 200);
    assert.deepEqual(await storedSessions(database, user.id), [touched]);
  });

  test('when a session with a two-second lifetime is used every few hundred milliseconds for several lifetimes, then it never expires, and it ends once left unused', async (t) => {
    const { app, database } = await buildTestApp(t, { config: { tokenLifetimeSeconds: 2 } });
    const user = await createUser(app);
    const statuses: number[] = [];
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      statuses.push((await app.inject({ method: 'GET', url: '/api/user/', headers: user.auth })).statusCode);
      await sleep(150);
    }
    assert.deepEqual([...new Set(statuses)], [200], `statuses seen: ${statuses.join(',')}`);
    const [row] = await storedSessions(database, user.id);
    assert.ok(Date.parse(row!.expires_at) > Date.now(), 'the session is still valid');

    await sleep(2100);
    const idle = await app.inject({ method: 'GET', url: '/api/user/', headers: user.auth });
    assert.deepEqual([idle.statusCode, idle.json()], [401, { detail: 'Invalid token.' }]);
  });
});
