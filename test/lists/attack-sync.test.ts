import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildTestApp, createTask, createUser, dialectName, type TestUser } from '../helpers.js';
import { serverList, SyncClient, syncPage, type SyncedTask } from '../sync/support.js';
import { addMember, api, newList, pause } from './attack-support.js';

/** A client that keeps its copy with `updated_since` and `/api/tasks/deleted/`. */
class PollingClient {
  readonly tasks = new Map<number, SyncedTask>();
  since: string | undefined;
  constructor(
    private readonly app: FastifyInstance,
    private readonly user: TestUser,
  ) {}
  async sync() {
    const started = new Date(Date.now() - 5).toISOString();
    if (this.since === undefined) {
      for (const task of await serverList(this.app, this.user)) this.tasks.set(task.id, task);
    } else {
      const changed = await api(this.app, this.user).get(`/api/tasks/?updated_since=${encodeURIComponent(this.since)}`);
      const deleted = await api(this.app, this.user).get(`/api/tasks/deleted/?since=${encodeURIComponent(this.since)}`);
      for (const task of changed.json() as SyncedTask[]) this.tasks.set(task.id, task);
      for (const { id } of deleted.json() as { id: number }[]) this.tasks.delete(id);
    }
    this.since = started;
    await pause(3);
  }
  list() {
    return [...this.tasks.values()].sort((a, b) => a.id - b.id);
  }
}

/** A small seeded generator, so a failure replays. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe(`[${dialectName}] attack: every task that leaves a view reaches its clients`, () => {
  test('when members come and go, tasks move, are assigned, deleted and lists deleted, then every client ends with the server list', async (t) => {
    const { app } = await buildTestApp(t);
    const users = await Promise.all(Array.from({ length: 4 }, () => createUser(app)));
    const syncers = users.map((user) => new SyncClient(app, user));
    const pollers = users.map((user) => new PollingClient(app, user));
    for (const client of [...syncers, ...pollers]) await client.sync();
    const next = random(Number(process.env.ATTACK_SEED ?? 20261130));
    const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)]!;
    const lists: { id: number; owner: TestUser }[] = [];
    for (const user of users.slice(0, 3)) lists.push({ ...(await newList(app, user)), owner: user });
    for (let step = 0; step < 250; step++) {
      const actor = pick(users);
      const list = pick(lists);
      const roll = next();
      const visible = (await serverList(app, actor)) as (SyncedTask & { list: number | null; owner: number })[];
      if (roll < 0.2) {
        await api(app, list.owner).post(`/api/lists/${list.id}/members/`, { username: pick(users).username, role: pick(['viewer', 'editor', 'owner']) });
      } else if (roll < 0.3) {
        const member = pick(users);
        await api(app, list.owner).delete(`/api/lists/${list.id}/members/${member.id}/`);
      } else if (roll < 0.35) {
        await api(app, actor).delete(`/api/lists/${list.id}/members/${actor.id}/`);
      } else if (roll < 0.55) {
        await api(app, actor).post('/api/tasks/', { title: `t${step}`, list: next() < 0.8 ? list.id : null });
      } else if (roll < 0.75 && visible.length > 0) {
        const task = pick(visible);
        await api(app, actor).patch(`/api/tasks/${task.id}/`, { list: next() < 0.2 ? null : pick(lists).id });
      } else if (roll < 0.85 && visible.length > 0) {
        await api(app, actor).patch(`/api/tasks/${pick(visible).id}/`, { assignee: pick(users).id });
      } else if (roll < 0.92 && visible.length > 0) {
        await api(app, actor).delete(`/api/tasks/${pick(visible).id}/`);
      } else if (roll < 0.94) {
        await api(app, list.owner).delete(`/api/lists/${list.id}/`);
        lists.splice(lists.indexOf(list), 1, { ...(await newList(app, list.owner)), owner: list.owner });
      }
      if (next() < 0.25) {
        const index = Math.floor(next() * users.length);
        await (next() < 0.5 ? syncers[index]!.sync() : pollers[index]!.sync());
      }
    }
    for (const [index, user] of users.entries()) {
      await syncers[index]!.settle();
      await pollers[index]!.sync();
      const expected = (await serverList(app, user)).map((task) => task.id);
      assert.deepEqual(syncers[index]!.list().map((task) => task.id), expected, `sync copy of user ${index}`);
      assert.deepEqual(pollers[index]!.list().map((task) => task.id), expected, `polling copy of user ${index}`);
      assert.deepEqual(syncers[index]!.list(), await serverList(app, user));
    }
    void createTask;
  });

  test('ATTACK when a member is removed, added back and removed again, then a sync reports each task once', async (t) => {
    const { app } = await buildTestApp(t);
    const [owner, member] = await Promise.all([createUser(app), createUser(app)]);
    const list = await newList(app, owner);
    const task = await createTask(app, owner, { list: list.id });
    await addMember(app, owner, list.id, member);
    const client = new SyncClient(app, member);
    await client.settle();
    for (let round = 0; round < 2; round++) {
      assert.equal((await api(app, owner).delete(`/api/lists/${list.id}/members/${member.id}/`)).statusCode, 204);
      if (round === 0) await addMember(app, owner, list.id, member);
    }
    const reply = await syncPage(app, member, client.token);
    assert.deepEqual(reply.deleted.map((item) => item.id), [task.id]);
  });
});
