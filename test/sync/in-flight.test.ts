import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTestApp, createTask, createUser, dialectName } from '../helpers.js';
import { holdTransaction, openSharedDatabase, seedTasks, serverList, SyncClient } from './support.js';

const onPostgres = { skip: dialectName === 'postgres' ? false : 'SQLite has one writer at a time: no commit overtakes another' };

describe(`[${dialectName}] syncing while writes are in flight`, () => {
  test('when a write is open in another connection while the client syncs, then the sync after its commit brings it', async (t) => {
    const shared = await openSharedDatabase(t);
    const { app } = await buildTestApp(t, { database: shared.database });
    const alice = await createUser(app);
    const [held] = await seedTasks(shared.database, alice.id, 3);
    const client = new SyncClient(app, alice);
    await client.settle();

    const transaction = await holdTransaction(t, shared);
    await transaction.rename(held!, 'Committed late');
    const [during] = await client.sync();
    assert.deepEqual([during!.changed, during!.deleted], [[], []]);
    await transaction.commit();

    const [after] = await client.sync();
    assert.deepEqual(after!.changed.map((task) => [task.id, task.title]), [[held, 'Committed late']]);
    assert.deepEqual(client.list(), await serverList(app, alice));
  });

  test('when a transaction that started first commits after later ones the client has synced, then the next sync still brings it', onPostgres, async (t) => {
    const shared = await openSharedDatabase(t);
    const { app } = await buildTestApp(t, { database: shared.database });
    const alice = await createUser(app);
    const [held, other] = await seedTasks(shared.database, alice.id, 2);
    const client = new SyncClient(app, alice);
    await client.settle();

    // The held transaction's id is smaller than those of the writes that overtake it.
    const transaction = await holdTransaction(t, shared);
    await transaction.rename(held!, 'Started first, committed last');
    const patched = await app.inject({ method: 'PATCH', url: `/api/tasks/${other}/`, headers: alice.auth, payload: { title: 'Later' } });
    assert.equal(patched.statusCode, 200);
    const created = await createTask(app, alice, { title: 'Later still' });
    const [overtaken] = await client.sync();
    assert.deepEqual(overtaken!.changed.map((task) => task.id).sort((a, b) => a - b), [other, created.id]);
    await transaction.commit();

    await client.sync();
    assert.equal(client.tasks.get(held!)!.title, 'Started first, committed last');
    assert.deepEqual(client.list(), await serverList(app, alice));
  });

  test('when a transaction that started first commits after a page of the same sync went past it, then the next sync brings it', onPostgres, async (t) => {
    const shared = await openSharedDatabase(t);
    const { app } = await buildTestApp(t, { database: shared.database });
    const alice = await createUser(app);
    const [held, ...others] = await seedTasks(shared.database, alice.id, 151);
    const client = new SyncClient(app, alice);
    await client.sync();

    const transaction = await holdTransaction(t, shared);
    await transaction.rename(held!, 'Started first, committed mid-sync');
    for (const id of others) {
      const response = await app.inject({ method: 'PATCH', url: `/api/tasks/${id}/`, headers: alice.auth, payload: { completed: true } });
      assert.equal(response.statusCode, 200);
    }
    const first = await client.step();
    assert.equal(first.more, true);
    await transaction.commit();
    // The rest of this round reads after the last change delivered, past the held write's change id.
    await client.sync();

    await client.sync();
    assert.equal(client.tasks.get(held!)!.title, 'Started first, committed mid-sync');
    assert.deepEqual(client.list(), await serverList(app, alice));
  });
});
