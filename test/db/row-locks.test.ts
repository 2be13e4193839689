import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { createAccountsRepository, type AccountsRepository } from '../../src/accounts/repository.js';
import { now, secondsFromNow } from '../../src/db/clock.js';
import { createTasksRepository } from '../../src/tasks/repository.js';
import { TEST_DATABASE_URL, openTestDatabase } from '../helpers.js';
import { blockerFor, untilWaiting } from '../postgres-locks.js';
import { insertSession, insertUser } from '../accounts/support.js';

/**
 * On PostgreSQL under READ COMMITTED, a statement that reads a row another transaction is
 * changing sees the old version unless it locks the row. These tests hold a security change
 * open at its worst moment (the user's row already changed, its other statements still to
 * come, nothing committed) by locking a row it needs next from a separate connection, then run
 * the racing statement, then let the change finish. SQLite runs one write at a time, so the
 * moment cannot arise there.
 */
describe('[postgres] statements racing a security change held open', { skip: TEST_DATABASE_URL === undefined && 'PostgreSQL only' }, () => {
  async function setUp(t: TestContext) {
    const database = await openTestDatabase(t);
    const blocker = await blockerFor(t, database);
    const userId = await insertUser(database, { username: `locked_${Date.now()}`, password: 'stored-hash' });
    return { database, blocker, userId, accounts: createAccountsRepository(database) };
  }

  function sessionFor(accounts: AccountsRepository, userId: number, sessionEpoch: number) {
    return accounts.createSession({ userId, sessionEpoch, digest: 'd'.repeat(64), userAgent: 'racing', now: now(), expiresAt: secondsFromNow(60) });
  }

  const revocations: [string, (accounts: AccountsRepository, userId: number, keep: number) => Promise<unknown>][] = [
    ['a password change', (accounts, userId, keep) => accounts.changePassword({ userId, verifiedHash: 'stored-hash', passwordHash: 'new-hash', keepSessionId: keep })],
    ['"log out everywhere"', (accounts, userId) => accounts.revokeSessions(userId)],
    ['a deactivation', async (accounts, userId, _keep) => {
      const { username } = await accounts.findAccount(userId).then((account) => account!);
      return accounts.setActive(username, false);
    }],
  ];

  for (const [name, revoke] of revocations) {
    test(`when a login's session is inserted while ${name} is half done, then it waits for it and is not created`, async (t) => {
      const { database, blocker, userId, accounts } = await setUp(t);
      await insertSession(database, userId);
      await insertSession(database, userId);
      const [kept, locked] = await database.db.selectFrom('auth_tokens').select('id').where('user_id', '=', userId).orderBy('id').execute();
      const lock = await blocker.hold('select id from auth_tokens where id = $1 for update', [locked!.id]);

      const revocation = revoke(accounts, userId, kept!.id);
      await untilWaiting(database, lock.pid, 1, revocation);
      const login = sessionFor(accounts, userId, 0);
      await untilWaiting(database, lock.pid, 2, login);
      await lock.release();

      await revocation;
      assert.equal(await login, undefined);
      const left = await database.db.selectFrom('auth_tokens').select(['id', 'user_agent']).where('user_id', '=', userId).execute();
      assert.ok(left.every((row) => row.user_agent !== 'racing'), `the racing session survived: ${JSON.stringify(left)}`);
    });
  }

  test('when a task is created while its owner is being deleted, then it waits and is not created, instead of failing the foreign key', async (t) => {
    const { database, blocker, userId, accounts } = await setUp(t);
    const tasks = createTasksRepository(database);
    const first = (await tasks.create(database.db, { userId: userId }, { title: 'first' }, now()))!;
    const lock = await blocker.hold('select id from tasks where id = $1 for update', [first.id]);

    const deletion = accounts.deleteUser(userId, 'stored-hash', now());
    await untilWaiting(database, lock.pid, 1, deletion);
    const creation = tasks.create(database.db, { userId: userId }, { title: 'too late' }, now());
    await untilWaiting(database, lock.pid, 2, creation);
    await lock.release();

    assert.equal(await deletion, 'deleted');
    assert.equal(await creation, undefined);
    assert.deepEqual(await database.db.selectFrom('tasks').select('id').where('owner_id', '=', userId).execute(), []);
  });

  test('when a task is deleted while its owner is being deleted, then it waits and reports no task, instead of deadlocking', async (t) => {
    const { database, blocker, userId, accounts } = await setUp(t);
    const tasks = createTasksRepository(database);
    const first = (await tasks.create(database.db, { userId: userId }, { title: 'first' }, now()))!;
    const second = (await tasks.create(database.db, { userId: userId }, { title: 'second' }, now()))!;
    // The deletion's cascade stops at the first task, before it reaches the second.
    const lock = await blocker.hold('select id from tasks where id = $1 for update', [first.id]);

    const deletion = accounts.deleteUser(userId, 'stored-hash', now());
    await untilWaiting(database, lock.pid, 1, deletion);
    const removal = tasks.remove(database.db, { userId: userId }, second.id, now());
    await untilWaiting(database, lock.pid, 2, removal);
    await lock.release();

    assert.equal(await deletion, 'deleted');
    assert.equal(await removal, false);
    assert.deepEqual(await database.db.selectFrom('deleted_tasks').select('task_id').where('owner_id', '=', userId).execute(), []);
  });
});
