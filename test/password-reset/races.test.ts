import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { createAccountsRepository } from '../../src/accounts/repository.js';
import { tokenDigest } from '../../src/accounts/tokens.js';
import { now, secondsFromNow } from '../../src/db/clock.js';
import { createPasswordResetRepository } from '../../src/password-reset/repository.js';
import { TEST_DATABASE_URL, openTestDatabase } from '../helpers.js';
import { blockerFor, untilWaiting } from '../postgres-locks.js';
import { insertUser, storedUser } from '../accounts/support.js';

/**
 * On PostgreSQL under READ COMMITTED, issuing and using a link read the account's row: these
 * tests hold that row locked from another connection, queue the racing changes behind it, then
 * let them through, and check that each saw the other (SQLite runs one write at a time).
 */
describe('[postgres] reset links racing other changes of the account', { skip: TEST_DATABASE_URL === undefined && 'PostgreSQL only' }, () => {
  async function setUp(t: TestContext) {
    const database = await openTestDatabase(t);
    const blocker = await blockerFor(t, database);
    const userId = await insertUser(database, { username: `reset_${Date.now()}`, password: 'stored-hash', email: 'racer@example.com' });
    const lockAccount = () => blocker.hold('select id from users where id = $1 for no key update', [userId]);
    return { database, userId, lockAccount, resets: createPasswordResetRepository(database), accounts: createAccountsRepository(database) };
  }

  const limits = (maxOutstanding: number) => ({ now: now(), expiresAt: secondsFromNow(3600), maxOutstanding });

  test('when two links are issued at once to an account allowed one, then only one is', async (t) => {
    const { database, userId, lockAccount, resets } = await setUp(t);
    const lock = await lockAccount();
    const issuing = Promise.all([resets.issue(userId, 'racer@example.com', limits(1)), resets.issue(userId, 'racer@example.com', limits(1))]);
    await untilWaiting(database, lock.pid, 2, issuing);
    await lock.release();

    const outcomes = (await issuing).map((issued) => issued.issued);
    assert.deepEqual(outcomes.sort(), [false, true]);
    const rows = await database.db.selectFrom('password_reset_tokens').select('id').where('user_id', '=', userId).execute();
    assert.equal(rows.length, 1);
  });

  test('when a link is used while a password change is under way, then it waits for the change and no longer works', async (t) => {
    const { database, userId, lockAccount, resets, accounts } = await setUp(t);
    const issued = await resets.issue(userId, 'racer@example.com', limits(1));
    assert.ok(issued.issued);
    const lock = await lockAccount();
    const change = accounts.changePassword({ userId, verifiedHash: 'stored-hash', passwordHash: 'changed-hash', keepSessionId: 0 });
    await untilWaiting(database, lock.pid, 1, change);
    const reset = resets.resetPassword({ userId, digest: tokenDigest(issued.token), passwordHash: 'reset-hash', now: now() });
    await untilWaiting(database, lock.pid, 2, reset);
    await lock.release();

    assert.equal(await change, 'changed');
    assert.equal(await reset, false);
    assert.equal((await storedUser(database, userId))!.password, 'changed-hash');
  });

  test('when a link is issued while a password change is under way, then it is issued for the new password', async (t) => {
    const { database, userId, lockAccount, resets, accounts } = await setUp(t);
    const lock = await lockAccount();
    const change = accounts.changePassword({ userId, verifiedHash: 'stored-hash', passwordHash: 'changed-hash', keepSessionId: 0 });
    await untilWaiting(database, lock.pid, 1, change);
    const issuing = resets.issue(userId, 'racer@example.com', limits(1));
    await untilWaiting(database, lock.pid, 2, issuing);
    await lock.release();

    assert.equal(await change, 'changed');
    const issued = await issuing;
    assert.ok(issued.issued);
    assert.equal(await resets.resetPassword({ userId, digest: tokenDigest(issued.token), passwordHash: 'reset-hash', now: now() }), true);
    assert.equal((await storedUser(database, userId))!.password, 'reset-hash');
  });
});
