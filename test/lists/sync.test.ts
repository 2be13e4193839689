import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildTestApp, createTask, createUser, dialectName, storedTasks, type TestUser } from '../helpers.js';
import { serverList, SyncClient, type SyncedTask } from '../sync/support.js';
import { addMember, createList, createListTask, moment, NOT_FOUND, patchTask, removeMember, send, type TaskObject } from './support.js';

/**
 * Sync with shared lists (rule 6): a client that keeps a copy of its tasks must end every
 * round with exactly what GET /api/tasks/ lists, whatever other members did to the lists it is
 * in, and whatever happened to its memberships.
 */

interface Client {
  /** Brings the copy up to date. */
  round(): Promise<void>;
  /** The copy, ascending by id, as GET /api/tasks/ lists tasks. */
  list(): SyncedTask[];
}

/**
 * The client of before the sync token: a full list first, then on each round the tasks
 * updated since the previous round began, and the tasks deleted since then.
 */
class PollingClient implements Client {
  readonly tasks = new Map<number, SyncedTask>();
  since: string | undefined;

  constructor(
    private readonly app: FastifyInstance,
    private readonly user: TestUser,
  ) {}

  async round(): Promise<void> {
    const started = await moment();
    const since = this.since === undefined ? undefined : encodeURIComponent(this.since);
    const changed = await send(this.app, this.user, 'GET', since === undefined ? '/api/tasks/' : `/api/tasks/?updated_since=${since}`);
    assert.equal(changed.statusCode, 200, changed.body);
    for (const task of changed.json() as SyncedTask[]) this.tasks.set(task.id, task);
    if (since !== undefined) {
      const deleted = await send(this.app, this.user, 'GET', `/api/tasks/deleted/?since=${since}`);
      assert.equal(deleted.statusCode, 200, deleted.body);
      for (const item of deleted.json() as { id: number }[]) this.tasks.delete(item.id);
    }
    this.since = started;
  }

  list(): SyncedTask[] {
    return [...this.tasks.values()].sort((a, b) => a.id - b.id);
  }
}

/** The token sync: `changed` applied by id, then `deleted`, repeated while `more`. */
class TokenClient implements Client {
  private readonly client: SyncClient;

  constructor(app: FastifyInstance, user: TestUser) {
    this.client = new SyncClient(app, user);
  }

  async round(): Promise<void> {
    await this.client.sync();
  }

  list(): SyncedTask[] {
    return this.client.list();
  }
}

const CLIENTS: [string, (app: FastifyInstance, user: TestUser) => Client][] = [
  ['updated_since and the deleted feed', (app, user) => new PollingClient(app, user)],
  ['the sync token', (app, user) => new TokenClient(app, user)],
];

/** One round, after which the copy must be exactly the server's list. */
async function roundMatches(app: FastifyInstance, user: TestUser, client: Client, when: string): Promise<SyncedTask[]> {
  await client.round();
  const listed = await serverList(app, user);
  assert.deepEqual(client.list(), listed, `after a round: ${when}`);
  return listed;
}

const ids = (tasks: { id: number }[]) => tasks.map((task) => task.id);

/** alice owns "Shared" with bob as an editor; bob, who syncs, also has a personal task. */
async function shared(app: FastifyInstance) {
  const alice = await createUser(app);
  const bob = await createUser(app);
  const carol = await createUser(app);
  const list = await createList(app, alice, 'Shared');
  await addMember(app, alice, list.id, bob, 'editor');
  await addMember(app, alice, list.id, carol, 'editor');
  const first = await createListTask(app, alice, list.id, { title: 'first' });
  const second = await createListTask(app, carol, list.id, { title: 'second', assignee: bob.id });
  const bobsOwn = await createTask(app, bob, { title: "bob's own" });
  return { alice, bob, carol, list, first, second, bobsOwn };
}

for (const [how, makeClient] of CLIENTS) {
  describe(`[${dialectName}] a client syncing with ${how}`, () => {
    test('when another member edits, creates and deletes list tasks, then each change arrives', async (t) => {
      const { app } = await buildTestApp(t);
      const { alice, bob, carol, list, first, second, bobsOwn } = await shared(app);
      const client = makeClient(app, bob);
      assert.deepEqual(ids(await roundMatches(app, bob, client, 'the first sync')), [first.id, second.id, bobsOwn.id]);

      const edited = await patchTask(app, alice, first.id, { title: 'edited by alice', assignee: bob.id });
      assert.ok(edited.updated_at > first.updated_at);
      await roundMatches(app, bob, client, 'an edit by the owner');
      assert.equal(client.list().find((task) => task.id === first.id)!.title, 'edited by alice');

      await patchTask(app, carol, second.id, { completed: true });
      const added = await createListTask(app, carol, list.id, { title: 'added by carol' });
      await roundMatches(app, bob, client, 'an edit and a new task by another editor');
      assert.ok(client.list().some((task) => task.id === added.id));

      assert.equal((await send(app, carol, 'DELETE', `/api/tasks/${first.id}/`)).statusCode, 204);
      await roundMatches(app, bob, client, 'a deletion by another editor');
      assert.ok(!client.list().some((task) => task.id === first.id));
      await roundMatches(app, bob, client, 'nothing changed');
    });

    test('when the caller joins a list whose tasks nobody touched since, then they arrive at the next round', async (t) => {
      const { app } = await buildTestApp(t);
      const alice = await createUser(app);
      const bob = await createUser(app);
      const list = await createList(app, alice, 'Joined later');
      const old = [await createListTask(app, alice, list.id, { title: 'old one' }), await createListTask(app, alice, list.id, { title: 'old two' })];
      const bobsOwn = await createTask(app, bob, { title: "bob's own" });
      const client = makeClient(app, bob);
      assert.deepEqual(ids(await roundMatches(app, bob, client, 'before joining')), [bobsOwn.id]);
      await roundMatches(app, bob, client, 'nothing changed');

      await addMember(app, alice, list.id, bob, 'viewer');

      const listed = await roundMatches(app, bob, client, 'joined');
      assert.deepEqual(ids(listed), [old[0]!.id, old[1]!.id, bobsOwn.id]);
      for (const task of old) {
        assert.equal(listed.find((item) => item.id === task.id)!.updated_at, task.updated_at, 'untouched since it was created');
      }
      await roundMatches(app, bob, client, 'nothing changed after joining');
    });

    test('when the caller joins a list of 150 untouched tasks, then all of them arrive, over several pages where the sync pages', async (t) => {
      const { app } = await buildTestApp(t);
      const alice = await createUser(app);
      const bob = await createUser(app);
      const list = await createList(app, alice, 'Long');
      for (let index = 0; index < 150; index += 1) await createListTask(app, alice, list.id, { title: `task ${index}` });
      const client = makeClient(app, bob);
      await roundMatches(app, bob, client, 'before joining');
      await addMember(app, alice, list.id, bob, 'viewer');
      const listed = await roundMatches(app, bob, client, 'joined');
      assert.equal(listed.length, 150);
    });

    test('when a list task is moved to a list the caller is not in, then it is dropped', async (t) => {
      const { app } = await buildTestApp(t);
      const { alice, bob, first, second } = await shared(app);
      const elsewhere = await createList(app, alice, 'Not for bob');
      const client = makeClient(app, bob);
      await roundMatches(app, bob, client, 'the first sync');

      const moved = await patchTask(app, alice, first.id, { list: elsewhere.id });
      assert.equal(moved.list, elsewhere.id);

      const listed = await roundMatches(app, bob, client, 'moved away');
      assert.ok(!ids(listed).includes(first.id));
      assert.ok(ids(listed).includes(second.id));
    });

    test("when a list task is moved to another member's personal tasks, then it is dropped", async (t) => {
      const { app } = await buildTestApp(t);
      const { bob, carol, second } = await shared(app);
      const client = makeClient(app, bob);
      await roundMatches(app, bob, client, 'the first sync');

      await patchTask(app, carol, second.id, { list: null });

      assert.ok(!ids(await roundMatches(app, bob, client, 'made personal')).includes(second.id));
    });

    test('when the caller is removed from one list and leaves another, then the tasks of both are dropped and the rest stays', async (t) => {
      const { app } = await buildTestApp(t);
      const { alice, bob, list, bobsOwn } = await shared(app);
      const other = await createList(app, alice, 'Other');
      await addMember(app, alice, other.id, bob, 'viewer');
      await createListTask(app, alice, other.id, { title: 'in other' });
      const kept = await createList(app, alice, 'Kept');
      await addMember(app, alice, kept.id, bob, 'viewer');
      const keptTask = await createListTask(app, alice, kept.id, { title: 'in kept' });
      const client = makeClient(app, bob);
      assert.equal((await roundMatches(app, bob, client, 'the first sync')).length, 5);

      await removeMember(app, alice, list.id, bob);
      await roundMatches(app, bob, client, 'removed');
      await removeMember(app, bob, other.id, bob);
      const listed = await roundMatches(app, bob, client, 'left');
      assert.deepEqual(ids(listed), [keptTask.id, bobsOwn.id].sort((a, b) => a - b));
    });

    test('when the caller is removed and added back between two rounds, then the list tasks end present', async (t) => {
      const { app } = await buildTestApp(t);
      const { alice, bob, list, first, second, bobsOwn } = await shared(app);
      const client = makeClient(app, bob);
      await roundMatches(app, bob, client, 'the first sync');

      await removeMember(app, alice, list.id, bob);
      await addMember(app, alice, list.id, bob, 'viewer');

      assert.deepEqual(ids(await roundMatches(app, bob, client, 'removed and back')), [first.id, second.id, bobsOwn.id]);
    });

    test('when the list is deleted, then its tasks are dropped', async (t) => {
      const { app } = await buildTestApp(t);
      const { alice, bob, list, bobsOwn } = await shared(app);
      const client = makeClient(app, bob);
      await roundMatches(app, bob, client, 'the first sync');

      assert.equal((await send(app, alice, 'DELETE', `/api/lists/${list.id}/`)).statusCode, 204);

      assert.deepEqual(ids(await roundMatches(app, bob, client, 'list deleted')), [bobsOwn.id]);
    });

    test('when a task is moved out of the caller\'s view and back between two rounds, then it ends present', async (t) => {
      const { app } = await buildTestApp(t);
      const { alice, bob, list, first } = await shared(app);
      const elsewhere = await createList(app, alice, 'Not for bob');
      const client = makeClient(app, bob);
      await roundMatches(app, bob, client, 'the first sync');

      await patchTask(app, alice, first.id, { list: elsewhere.id });
      await patchTask(app, alice, first.id, { list: list.id });

      assert.ok(ids(await roundMatches(app, bob, client, 'out and back')).includes(first.id));
      await roundMatches(app, bob, client, 'nothing changed');
    });

    test('when a task is moved out of the caller\'s view, synced, and moved back, then it is dropped and then present again', async (t) => {
      const { app } = await buildTestApp(t);
      const { alice, bob, list, first } = await shared(app);
      const elsewhere = await createList(app, alice, 'Not for bob');
      const client = makeClient(app, bob);
      await roundMatches(app, bob, client, 'the first sync');

      await patchTask(app, alice, first.id, { list: elsewhere.id });
      assert.ok(!ids(await roundMatches(app, bob, client, 'out')).includes(first.id));
      await patchTask(app, alice, first.id, { list: list.id });
      assert.ok(ids(await roundMatches(app, bob, client, 'back')).includes(first.id));
      await roundMatches(app, bob, client, 'nothing changed');
    });
  });
}

describe(`[${dialectName}] entity tags on list tasks`, () => {
  test("when another member changes a list task, then the old tag no longer matches: If-None-Match gives the new version and If-Match on a write gives 412", async (t) => {
    const { app, database } = await buildTestApp(t);
    const { alice, bob, first } = await shared(app);
    const url = `/api/tasks/${first.id}/`;

    const read = await send(app, bob, 'GET', url);
    assert.equal(read.statusCode, 200);
    const tag = read.headers.etag;
    assert.equal(typeof tag, 'string');
    assert.match(String(tag), /^"[^"]+"$/);

    const unchanged = await send(app, bob, 'GET', url, undefined, { 'if-none-match': String(tag) });
    assert.equal(unchanged.statusCode, 304);
    assert.equal(unchanged.body, '');

    const patched = await send(app, alice, 'PATCH', url, { title: 'changed by alice' });
    assert.equal(patched.statusCode, 200);

    const changed = await send(app, bob, 'GET', url, undefined, { 'if-none-match': String(tag) });
    assert.equal(changed.statusCode, 200);
    assert.equal((changed.json() as TaskObject).title, 'changed by alice');
    assert.notEqual(changed.headers.etag, tag);

    const rows = await storedTasks(database);
    for (const method of ['PATCH', 'PUT', 'DELETE'] as const) {
      const stale = await send(app, bob, method, url, method === 'DELETE' ? undefined : { title: 'stale edit by bob' }, { 'if-match': String(tag) });
      assert.equal(stale.statusCode, 412, method);
      assert.deepEqual(Object.keys(stale.json()), ['detail'], method);
    }
    assert.deepEqual(await storedTasks(database), rows, 'the refused writes changed nothing');

    const fresh = await send(app, bob, 'PATCH', url, { title: 'edit by bob' }, { 'if-match': String(changed.headers.etag) });
    assert.equal(fresh.statusCode, 200);
    const gone = await send(app, await createUser(app), 'GET', url, undefined, { 'if-none-match': String(changed.headers.etag) });
    assert.deepEqual([gone.statusCode, gone.json()], [404, NOT_FOUND]);
  });
});
