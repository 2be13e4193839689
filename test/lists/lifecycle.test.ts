import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Database } from '../../src/db/database.js';
import { buildTestApp, createTask, createUser, dialectName, type TestUser } from '../helpers.js';
import {
  addMember,
  ascending,
  assertIntegrity,
  createList,
  createListTask,
  deleteAccount,
  deletedFeed,
  deletionRows,
  deletionsFor,
  KEEP_AN_OWNER,
  listIds,
  memberRows,
  moment,
  NOT_FOUND,
  removeMember,
  rolesIn,
  send,
  setJoinedAt,
  setRole,
  taskRow,
  taskRows,
  userIds,
  visibleIds,
  type ListObject,
  type TaskObject,
  type TaskRow,
} from './support.js';

/**
 * The lifecycle rules of shared lists: whoever leaves a list, is removed from it, loses it or
 * deletes their account leaves the other members' tasks whole, gets told of every task that
 * left their view, and leaves nothing in the database pointing at them.
 */

/**
 * alice owns "Groceries", with bob (editor) and carol (viewer); alice also owns "Garden", where
 * bob is an editor too. Tasks are created by alice and bob, assigned to each of the three.
 */
async function groceries(app: FastifyInstance) {
  const alice = await createUser(app);
  const bob = await createUser(app);
  const carol = await createUser(app);
  const list = await createList(app, alice, 'Groceries');
  await addMember(app, alice, list.id, bob, 'editor');
  await addMember(app, alice, list.id, carol, 'viewer');
  const garden = await createList(app, alice, 'Garden');
  await addMember(app, alice, garden.id, bob, 'editor');
  const tasks = {
    aliceForBob: await createListTask(app, alice, list.id, { title: 'by alice, for bob', assignee: bob.id }),
    aliceForAlice: await createListTask(app, alice, list.id, { title: 'by alice, for alice', assignee: alice.id }),
    bobForBob: await createListTask(app, bob, list.id, { title: 'by bob, for bob', assignee: bob.id }),
    bobForCarol: await createListTask(app, bob, list.id, { title: 'by bob, for carol', assignee: carol.id }),
    bobUnassigned: await createListTask(app, bob, list.id, { title: 'by bob, unassigned' }),
  };
  const gardenForBob = await createListTask(app, alice, garden.id, { title: 'garden, for bob', assignee: bob.id });
  const bobsPersonal = await createTask(app, bob, { title: "bob's own" });
  const alicesPersonal = await createTask(app, alice, { title: "alice's own" });
  return { alice, bob, carol, list, garden, tasks, gardenForBob, bobsPersonal, alicesPersonal };
}

type Groceries = Awaited<ReturnType<typeof groceries>>;

const byId = (rows: TaskRow[]) => new Map(rows.map((row) => [row.id, row]));

/** What must hold once bob is no longer in Groceries, however he went. */
async function assertBobIsGone(app: FastifyInstance, database: Database, world: Groceries, since: string, before: TaskRow[]) {
  const { alice, bob, carol, list, garden, tasks, gardenForBob, bobsPersonal } = world;
  const listTaskIds = ascending(Object.values(tasks).map((task) => task.id));

  // Memberships: bob is out of Groceries only.
  assert.deepEqual(await rolesIn(database, list.id), { [alice.id]: 'owner', [carol.id]: 'viewer' });
  assert.deepEqual(await rolesIn(database, garden.id), { [alice.id]: 'owner', [bob.id]: 'editor' });

  // Tasks: every one stays in the list with its creator; assignments to bob are cleared, and
  // those tasks' updated_at moved; other assignments stay.
  const previous = byId(before);
  const now = byId(await taskRows(database));
  for (const task of Object.values(tasks)) {
    const row = now.get(task.id);
    assert.ok(row, `task ${task.id} stays`);
    assert.equal(row.list_id, list.id, `task ${task.id} stays in the list`);
    assert.equal(row.owner_id, previous.get(task.id)!.owner_id, `task ${task.id} keeps its owner`);
  }
  for (const task of [tasks.aliceForBob, tasks.bobForBob]) {
    const row = now.get(task.id)!;
    assert.equal(row.assignee_id, null, `task ${task.id} is no longer assigned to bob`);
    assert.ok(row.updated_at > previous.get(task.id)!.updated_at, `task ${task.id}: updated_at moved`);
  }
  assert.equal(now.get(tasks.aliceForAlice.id)!.assignee_id, alice.id);
  assert.equal(now.get(tasks.bobForCarol.id)!.assignee_id, carol.id);
  assert.equal(now.get(tasks.bobForBob.id)!.owner_id, bob.id);
  assert.equal(now.get(tasks.bobUnassigned.id)!.owner_id, bob.id);
  assert.deepEqual(now.get(gardenForBob.id), previous.get(gardenForBob.id), 'a task of another list is untouched');
  assert.deepEqual(now.get(bobsPersonal.id), previous.get(bobsPersonal.id), 'a personal task is untouched');

  // Deletion records: bob has one for each task of the list, nobody else has any.
  assert.deepEqual(await deletionsFor(database, bob.id), listTaskIds);
  assert.deepEqual(await deletionsFor(database, alice.id), []);
  assert.deepEqual(await deletionsFor(database, carol.id), []);
  assert.deepEqual(await deletedFeed(app, bob, since), listTaskIds);
  assert.deepEqual(await deletedFeed(app, alice, since), []);
  assert.deepEqual(await deletedFeed(app, carol, since), []);

  // bob no longer sees the list nor its tasks, not even those he created.
  const listReply = await send(app, bob, 'GET', `/api/lists/${list.id}/`);
  assert.deepEqual([listReply.statusCode, listReply.json()], [404, NOT_FOUND]);
  const membersReply = await send(app, bob, 'GET', `/api/lists/${list.id}/members/`);
  assert.deepEqual([membersReply.statusCode, membersReply.json()], [404, NOT_FOUND]);
  for (const id of listTaskIds) {
    const reply = await send(app, bob, 'GET', `/api/tasks/${id}/`);
    assert.deepEqual([reply.statusCode, reply.json()], [404, NOT_FOUND], `task ${id}`);
  }
  const ofList = await send(app, bob, 'GET', `/api/tasks/?list=${list.id}`);
  assert.deepEqual([ofList.statusCode, ofList.json()], [200, []]);
  const bobsTasks = (await send(app, bob, 'GET', '/api/tasks/')).json() as TaskObject[];
  assert.deepEqual(bobsTasks.map((task) => task.id), ascending([gardenForBob.id, bobsPersonal.id]));
  assert.deepEqual(((await send(app, bob, 'GET', '/api/lists/')).json() as ListObject[]).map((item) => item.id), [garden.id]);

  // The others still see every task, with bob's assignments cleared.
  for (const member of [alice, carol]) {
    const seen = (await send(app, member, 'GET', `/api/tasks/?list=${list.id}`)).json() as TaskObject[];
    assert.deepEqual(seen.map((task) => task.id), listTaskIds);
    assert.ok(seen.every((task) => task.assignee !== bob.id));
    const reply = await send(app, member, 'GET', `/api/lists/${list.id}/`);
    assert.equal(reply.statusCode, 200);
    assert.equal(reply.json().member_count, 2);
  }
  await assertIntegrity(database);
}

describe(`[${dialectName}] leaving a list and being removed from it`, () => {
  test('when an editor leaves, then their assignments there are cleared, the tasks they created stay with them as owner, and they are told every task of the list is gone from their view', async (t) => {
    const { app, database } = await buildTestApp(t);
    const world = await groceries(app);
    const since = await moment();
    const before = await taskRows(database);

    const reply = await send(app, world.bob, 'DELETE', `/api/lists/${world.list.id}/members/${world.bob.id}/`);
    assert.equal(reply.statusCode, 204);
    assert.equal(reply.body, '');

    await assertBobIsGone(app, database, world, since, before);
  });

  test('when the owner removes an editor, then the editor loses the list exactly as if they had left', async (t) => {
    const { app, database } = await buildTestApp(t);
    const world = await groceries(app);
    const since = await moment();
    const before = await taskRows(database);

    const reply = await send(app, world.alice, 'DELETE', `/api/lists/${world.list.id}/members/${world.bob.id}/`);
    assert.equal(reply.statusCode, 204);
    assert.equal(reply.body, '');

    await assertBobIsGone(app, database, world, since, before);
  });

  test('when a viewer leaves, then they get deletion records for the list and the list loses nothing', async (t) => {
    const { app, database } = await buildTestApp(t);
    const { alice, carol, list, tasks } = await groceries(app);
    const since = await moment();
    const before = await taskRows(database);

    const reply = await send(app, carol, 'DELETE', `/api/lists/${list.id}/members/${carol.id}/`);
    assert.equal(reply.statusCode, 204);

    const listTaskIds = ascending(Object.values(tasks).map((task) => task.id));
    assert.deepEqual(await deletedFeed(app, carol, since), listTaskIds);
    assert.deepEqual(await deletedFeed(app, alice, since), []);
    const after = byId(await taskRows(database));
    assert.equal(after.get(tasks.bobForCarol.id)!.assignee_id, null);
    assert.ok(after.get(tasks.bobForCarol.id)!.updated_at > byId(before).get(tasks.bobForCarol.id)!.updated_at);
    assert.equal(after.get(tasks.aliceForBob.id)!.assignee_id, byId(before).get(tasks.aliceForBob.id)!.assignee_id);
    const again = await send(app, carol, 'GET', `/api/lists/${list.id}/`);
    assert.deepEqual([again.statusCode, again.json()], [404, NOT_FOUND]);
    await assertIntegrity(database);
  });

  test('when a member is removed, added back and removed again, then the tasks are reported only while out of view, and each once', async (t) => {
    const { app, database } = await buildTestApp(t);
    const { alice, carol, list, tasks } = await groceries(app);
    const listTaskIds = ascending(Object.values(tasks).map((task) => task.id));
    const since = await moment();

    await removeMember(app, alice, list.id, carol);
    await addMember(app, alice, list.id, carol, 'editor');
    assert.deepEqual(await deletedFeed(app, carol, since), [], 'visible again, so not reported');
    assert.deepEqual(await visibleIds(app, carol), listTaskIds);

    await removeMember(app, alice, list.id, carol);
    assert.deepEqual(await deletedFeed(app, carol, since), listTaskIds);
    await assertIntegrity(database);
  });

  test('when the last owner tries to leave or to step down, then both are refused with 400 and nothing changes; with a second owner, one may leave', async (t) => {
    const { app, database } = await buildTestApp(t);
    const { alice, bob, carol, list } = await groceries(app);
    const members = await memberRows(database);
    const tasks = await taskRows(database);

    const leave = await send(app, alice, 'DELETE', `/api/lists/${list.id}/members/${alice.id}/`);
    assert.deepEqual([leave.statusCode, leave.json()], [400, { detail: KEEP_AN_OWNER }]);
    for (const role of ['editor', 'viewer']) {
      const demote = await send(app, alice, 'PATCH', `/api/lists/${list.id}/members/${alice.id}/`, { role });
      assert.deepEqual([demote.statusCode, demote.json()], [400, { role: [KEEP_AN_OWNER] }], role);
    }
    assert.deepEqual(await memberRows(database), members);
    assert.deepEqual(await taskRows(database), tasks);
    assert.deepEqual(await deletionRows(database), []);

    // A second owner: now alice may step down, and then leave.
    await setRole(app, alice, list.id, bob, 'owner');
    const stepDown = await send(app, alice, 'PATCH', `/api/lists/${list.id}/members/${alice.id}/`, { role: 'editor' });
    assert.equal(stepDown.statusCode, 200);
    assert.equal(stepDown.json().role, 'editor');
    await setRole(app, bob, list.id, alice, 'owner');
    const aliceLeaves = await send(app, alice, 'DELETE', `/api/lists/${list.id}/members/${alice.id}/`);
    assert.equal(aliceLeaves.statusCode, 204);
    assert.deepEqual(await rolesIn(database, list.id), { [bob.id]: 'owner', [carol.id]: 'viewer' });

    // bob is now the last owner: the same refusals.
    const bobLeaves = await send(app, bob, 'DELETE', `/api/lists/${list.id}/members/${bob.id}/`);
    assert.deepEqual([bobLeaves.statusCode, bobLeaves.json()], [400, { detail: KEEP_AN_OWNER }]);
    const bobSteps = await send(app, bob, 'PATCH', `/api/lists/${list.id}/members/${bob.id}/`, { role: 'viewer' });
    assert.deepEqual([bobSteps.statusCode, bobSteps.json()], [400, { role: [KEEP_AN_OWNER] }]);
    assert.deepEqual(await rolesIn(database, list.id), { [bob.id]: 'owner', [carol.id]: 'viewer' });
    await assertIntegrity(database);
  });

  test('when two owners each demote the other in turn, then the second demotion, which would leave none, is refused', async (t) => {
    const { app, database } = await buildTestApp(t);
    const { alice, bob, list } = await groceries(app);
    await setRole(app, alice, list.id, bob, 'owner');
    const first = await send(app, bob, 'PATCH', `/api/lists/${list.id}/members/${alice.id}/`, { role: 'viewer' });
    assert.equal(first.statusCode, 200);
    const second = await send(app, bob, 'PATCH', `/api/lists/${list.id}/members/${bob.id}/`, { role: 'editor' });
    assert.deepEqual([second.statusCode, second.json()], [400, { role: [KEEP_AN_OWNER] }]);
    assert.equal((await rolesIn(database, list.id))[bob.id], 'owner');
    await assertIntegrity(database);
  });
});

describe(`[${dialectName}] deleting a list`, () => {
  test('when the owner deletes a list, then its tasks and memberships are gone, every member is told of each task, and other lists and personal tasks are untouched', async (t) => {
    const { app, database } = await buildTestApp(t);
    const { alice, bob, carol, list, garden, tasks, gardenForBob, bobsPersonal, alicesPersonal } = await groceries(app);
    const carolsPersonal = await createTask(app, carol, { title: "carol's own" });
    const since = await moment();
    const before = await taskRows(database);
    const gardenMembers = await memberRows(database, garden.id);

    const reply = await send(app, alice, 'DELETE', `/api/lists/${list.id}/`);
    assert.equal(reply.statusCode, 204);
    assert.equal(reply.body, '');

    const listTaskIds = ascending(Object.values(tasks).map((task) => task.id));
    assert.deepEqual(await listIds(database), [garden.id]);
    assert.deepEqual(await memberRows(database, list.id), []);
    assert.deepEqual(await memberRows(database, garden.id), gardenMembers);
    const after = await taskRows(database);
    assert.deepEqual(after, before.filter((row) => !listTaskIds.includes(row.id)), 'only the list tasks are gone, the rest unchanged');
    assert.deepEqual(after.map((row) => row.id), ascending([gardenForBob.id, bobsPersonal.id, alicesPersonal.id, carolsPersonal.id]));

    for (const member of [alice, bob, carol]) {
      assert.deepEqual(await deletionsFor(database, member.id), listTaskIds, `deletion records of user ${member.id}`);
      assert.deepEqual(await deletedFeed(app, member, since), listTaskIds, `deleted feed of user ${member.id}`);
      const gone = await send(app, member, 'GET', `/api/lists/${list.id}/`);
      assert.deepEqual([gone.statusCode, gone.json()], [404, NOT_FOUND]);
      for (const id of listTaskIds) assert.equal((await send(app, member, 'GET', `/api/tasks/${id}/`)).statusCode, 404);
    }
    assert.deepEqual(await visibleIds(app, alice), ascending([gardenForBob.id, alicesPersonal.id]));
    assert.deepEqual(await visibleIds(app, bob), ascending([gardenForBob.id, bobsPersonal.id]));
    assert.deepEqual(await visibleIds(app, carol), [carolsPersonal.id]);
    await assertIntegrity(database);
  });
});

describe(`[${dialectName}] deleting an account`, () => {
  test('(a) when a user with only personal tasks deletes their account, then their tasks and records go and nobody else loses anything', async (t) => {
    const { app, database } = await buildTestApp(t);
    const { alice, bob, list } = await groceries(app);
    const dora = await createUser(app);
    const kept = await createTask(app, dora, { title: 'kept until the end' });
    const removed = await createTask(app, dora, { title: 'deleted first' });
    assert.equal((await send(app, dora, 'DELETE', `/api/tasks/${removed.id}/`)).statusCode, 204);
    const since = await moment();
    const others = (await taskRows(database)).filter((row) => row.owner_id !== dora.id);
    const members = await memberRows(database);
    const lists = await listIds(database);

    await deleteAccount(app, dora);

    assert.ok(!(await userIds(database)).includes(dora.id));
    assert.deepEqual(await taskRows(database), others);
    assert.ok(!others.some((row) => row.id === kept.id));
    assert.deepEqual(await memberRows(database), members);
    assert.deepEqual(await listIds(database), lists);
    assert.deepEqual(await deletionsFor(database, dora.id), []);
    assert.deepEqual(await deletedFeed(app, alice, since), []);
    assert.deepEqual(await deletedFeed(app, bob, since), []);
    assert.equal((await send(app, alice, 'GET', `/api/lists/${list.id}/`)).statusCode, 200);
    await assertIntegrity(database);
  });

  test('(b) when the sole owner of a shared list deletes their account, then the earliest-joined other member becomes owner, inherits their tasks there, and their assignments are cleared', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    // carol has the lower id, bob joins first: joining time decides, not the id, nor the role.
    const carol = await createUser(app);
    const bob = await createUser(app);
    const list = await createList(app, alice, 'Handed over');
    await addMember(app, alice, list.id, bob, 'viewer');
    await addMember(app, alice, list.id, carol, 'editor');
    const aliceForAlice = await createListTask(app, alice, list.id, { title: 'by alice, for alice', assignee: alice.id });
    const aliceForCarol = await createListTask(app, alice, list.id, { title: 'by alice, for carol', assignee: carol.id });
    const carolForAlice = await createListTask(app, carol, list.id, { title: 'by carol, for alice', assignee: alice.id });
    const carolForBob = await createListTask(app, carol, list.id, { title: 'by carol, for bob', assignee: bob.id });
    const alicesPersonal = await createTask(app, alice, { title: "alice's own" });
    const since = await moment();
    const before = byId(await taskRows(database));

    await deleteAccount(app, alice);

    assert.deepEqual(await listIds(database), [list.id]);
    assert.deepEqual(await rolesIn(database, list.id), { [bob.id]: 'owner', [carol.id]: 'editor' });
    const after = byId(await taskRows(database));
    assert.equal(after.get(alicesPersonal.id), undefined);
    assert.deepEqual(
      [aliceForAlice, aliceForCarol, carolForAlice, carolForBob].map((task) => {
        const row = after.get(task.id)!;
        return [row.list_id, row.owner_id, row.assignee_id];
      }),
      [
        [list.id, bob.id, null],
        [list.id, bob.id, carol.id],
        [list.id, carol.id, null],
        [list.id, carol.id, bob.id],
      ],
    );
    for (const task of [aliceForAlice, carolForAlice]) {
      assert.ok(after.get(task.id)!.updated_at > before.get(task.id)!.updated_at, `task ${task.id}: updated_at moved`);
    }
    for (const member of [bob, carol]) {
      assert.deepEqual(await deletedFeed(app, member, since), [], `nothing left the view of user ${member.id}`);
      const seen = (await send(app, member, 'GET', '/api/tasks/')).json() as TaskObject[];
      assert.deepEqual(
        seen.map((task) => [task.id, task.owner, task.assignee]),
        [
          [aliceForAlice.id, bob.id, null],
          [aliceForCarol.id, bob.id, carol.id],
          [carolForAlice.id, carol.id, null],
          [carolForBob.id, carol.id, bob.id],
        ],
      );
    }
    const asBob = await send(app, bob, 'GET', `/api/lists/${list.id}/`);
    assert.equal(asBob.statusCode, 200);
    assert.deepEqual([asBob.json().role, asBob.json().member_count], ['owner', 2]);
    // The new owner can run the list: rename it, and invite.
    assert.equal((await send(app, bob, 'PATCH', `/api/lists/${list.id}/`, { name: 'Bob runs it' })).statusCode, 200);
    await assertIntegrity(database);
  });

  test('(b) when the other members joined at the same moment, then the one with the lowest user id becomes owner', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const carol = await createUser(app);
    const bob = await createUser(app);
    const list = await createList(app, alice, 'Tie');
    await addMember(app, alice, list.id, bob, 'editor');
    await addMember(app, alice, list.id, carol, 'editor');
    const task = await createListTask(app, alice, list.id, { title: 'by alice' });
    const joined = (await memberRows(database, list.id)).find((row) => row.user_id === bob.id)!.joined_at;
    await setJoinedAt(database, list.id, carol.id, joined);

    await deleteAccount(app, alice);

    assert.ok(carol.id < bob.id);
    assert.deepEqual(await rolesIn(database, list.id), { [bob.id]: 'editor', [carol.id]: 'owner' });
    assert.equal((await taskRow(database, task.id))!.owner_id, carol.id);
    await assertIntegrity(database);
  });

  test('(c) when the sole member of a list deletes their account, then the list and its tasks are deleted', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const bob = await createUser(app);
    const alone = await createList(app, alice, 'Alone');
    const first = await createListTask(app, alice, alone.id, { title: 'one', assignee: alice.id });
    const second = await createListTask(app, alice, alone.id, { title: 'two' });
    const bobsList = await createList(app, bob, "Bob's");
    const bobsListTask = await createListTask(app, bob, bobsList.id, { title: "bob's list task" });
    const bobsPersonal = await createTask(app, bob, { title: "bob's own" });
    const since = await moment();
    const bobsRows = (await taskRows(database)).filter((row) => row.owner_id === bob.id);

    await deleteAccount(app, alice);

    assert.deepEqual(await listIds(database), [bobsList.id]);
    assert.deepEqual(await memberRows(database, alone.id), []);
    const after = await taskRows(database);
    assert.ok(!after.some((row) => row.id === first.id || row.id === second.id));
    assert.deepEqual(after, bobsRows);
    assert.deepEqual(after.map((row) => row.id), ascending([bobsListTask.id, bobsPersonal.id]));
    assert.deepEqual(await deletedFeed(app, bob, since), []);
    await assertIntegrity(database);
  });

  test('(d) when a co-owner deletes their account, then the list stays and their tasks there go to the earliest-joined remaining owner', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const carol = await createUser(app);
    const bob = await createUser(app);
    const dave = await createUser(app);
    const list = await createList(app, alice, 'Co-owned');
    // dave joins first but only as an editor; bob is the longest-standing other owner although
    // carol has the lower id.
    await addMember(app, alice, list.id, dave, 'editor');
    await addMember(app, alice, list.id, bob, 'owner');
    await addMember(app, alice, list.id, carol, 'owner');
    const aliceUnassigned = await createListTask(app, alice, list.id, { title: 'by alice' });
    const aliceForDave = await createListTask(app, alice, list.id, { title: 'by alice, for dave', assignee: dave.id });
    const daveForAlice = await createListTask(app, dave, list.id, { title: 'by dave, for alice', assignee: alice.id });
    const before = byId(await taskRows(database));
    const since = await moment();

    await deleteAccount(app, alice);

    assert.deepEqual(await listIds(database), [list.id]);
    assert.deepEqual(await rolesIn(database, list.id), { [carol.id]: 'owner', [bob.id]: 'owner', [dave.id]: 'editor' });
    const after = byId(await taskRows(database));
    assert.deepEqual(
      [aliceUnassigned, aliceForDave, daveForAlice].map((task) => {
        const row = after.get(task.id)!;
        return [row.list_id, row.owner_id, row.assignee_id];
      }),
      [
        [list.id, bob.id, null],
        [list.id, bob.id, dave.id],
        [list.id, dave.id, null],
      ],
    );
    assert.ok(after.get(daveForAlice.id)!.updated_at > before.get(daveForAlice.id)!.updated_at);
    for (const member of [bob, carol, dave]) assert.deepEqual(await deletedFeed(app, member, since), []);
    await assertIntegrity(database);
  });

  test('(e) when a plain editor deletes their account, then their membership goes, their tasks in the list pass to the owner and their assignments are cleared', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const bob = await createUser(app);
    const carol = await createUser(app);
    const list = await createList(app, alice, "Alice's");
    await addMember(app, alice, list.id, bob, 'editor');
    await addMember(app, alice, list.id, carol, 'editor');
    const aliceForBob = await createListTask(app, alice, list.id, { title: 'by alice, for bob', assignee: bob.id });
    const bobUnassigned = await createListTask(app, bob, list.id, { title: 'by bob' });
    const bobForCarol = await createListTask(app, bob, list.id, { title: 'by bob, for carol', assignee: carol.id });
    const bobForBob = await createListTask(app, bob, list.id, { title: 'by bob, for bob', assignee: bob.id });
    const bobsPersonal = await createTask(app, bob, { title: "bob's own" });
    const before = byId(await taskRows(database));
    const since = await moment();

    await deleteAccount(app, bob);

    assert.deepEqual(await rolesIn(database, list.id), { [alice.id]: 'owner', [carol.id]: 'editor' });
    const after = byId(await taskRows(database));
    assert.equal(after.get(bobsPersonal.id), undefined);
    assert.deepEqual(
      [aliceForBob, bobUnassigned, bobForCarol, bobForBob].map((task) => {
        const row = after.get(task.id)!;
        return [row.list_id, row.owner_id, row.assignee_id];
      }),
      [
        [list.id, alice.id, null],
        [list.id, alice.id, null],
        [list.id, alice.id, carol.id],
        [list.id, alice.id, null],
      ],
    );
    for (const task of [aliceForBob, bobForBob]) assert.ok(after.get(task.id)!.updated_at > before.get(task.id)!.updated_at);
    for (const member of [alice, carol]) {
      assert.deepEqual(await deletedFeed(app, member, since), []);
      assert.deepEqual(await visibleIds(app, member), ascending([aliceForBob.id, bobUnassigned.id, bobForCarol.id, bobForBob.id]));
    }
    const reply = await send(app, alice, 'GET', `/api/lists/${list.id}/`);
    assert.equal(reply.json().member_count, 2);
    await assertIntegrity(database);
  });

  test('when a former member whose tasks stayed in a list deletes their account, then those tasks pass to the earliest-joined owner of the list', async (t) => {
    const { app, database } = await buildTestApp(t);
    const { alice, bob, carol, list, tasks } = await groceries(app);
    const dave = await createUser(app);
    await addMember(app, alice, list.id, dave, 'owner');
    await removeMember(app, bob, list.id, bob);
    const before = byId(await taskRows(database));
    assert.equal(before.get(tasks.bobUnassigned.id)!.owner_id, bob.id, 'his tasks stayed with him as owner');

    await deleteAccount(app, bob);

    const after = byId(await taskRows(database));
    for (const task of [tasks.bobForBob, tasks.bobForCarol, tasks.bobUnassigned]) {
      const row = after.get(task.id)!;
      assert.deepEqual([row.list_id, row.owner_id], [list.id, alice.id], `task ${task.id}`);
    }
    assert.equal(after.get(tasks.bobForCarol.id)!.assignee_id, carol.id);
    assert.equal(after.get(tasks.aliceForAlice.id)!.owner_id, alice.id);
    assert.deepEqual(await rolesIn(database, list.id), { [alice.id]: 'owner', [carol.id]: 'viewer', [dave.id]: 'owner' });
    assert.deepEqual(await visibleIds(app, carol), ascending(Object.values(tasks).map((task) => task.id)));
    await assertIntegrity(database);
  });

  test('when a user in every situation at once deletes their account, then each list ends as its rule says and nothing is left orphaned', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const bob = await createUser(app);
    const carol = await createUser(app);
    // alice: sole owner with others, sole member, co-owner, plain editor, viewer.
    const handed = await createList(app, alice, 'Handed over');
    await addMember(app, alice, handed.id, carol, 'viewer');
    await addMember(app, alice, handed.id, bob, 'editor');
    const alone = await createList(app, alice, 'Alone');
    const coOwned = await createList(app, bob, 'Co-owned');
    await addMember(app, bob, coOwned.id, alice, 'owner');
    await addMember(app, bob, coOwned.id, carol, 'editor');
    const edited = await createList(app, carol, 'Edited');
    await addMember(app, carol, edited.id, alice, 'editor');
    const viewed = await createList(app, carol, 'Viewed');
    await addMember(app, carol, viewed.id, alice, 'viewer');
    const task = (list: ListObject, by: TestUser, assignee: TestUser | null) =>
      createListTask(app, by, list.id, { title: `in ${list.name}`, assignee: assignee?.id ?? null });
    const inHanded = [await task(handed, alice, alice), await task(handed, bob, alice), await task(handed, alice, bob)];
    const inAlone = [await task(alone, alice, alice), await task(alone, alice, null)];
    const inCoOwned = [await task(coOwned, alice, carol), await task(coOwned, carol, alice)];
    const inEdited = [await task(edited, alice, alice), await task(edited, carol, alice)];
    const inViewed = [await task(viewed, carol, alice)];
    await createTask(app, alice, { title: "alice's own" });
    const since = await moment();

    await deleteAccount(app, alice);

    assert.deepEqual(await listIds(database), ascending([handed.id, coOwned.id, edited.id, viewed.id]));
    assert.deepEqual(await rolesIn(database, handed.id), { [bob.id]: 'editor', [carol.id]: 'owner' });
    assert.deepEqual(await rolesIn(database, coOwned.id), { [bob.id]: 'owner', [carol.id]: 'editor' });
    assert.deepEqual(await rolesIn(database, edited.id), { [carol.id]: 'owner' });
    assert.deepEqual(await rolesIn(database, viewed.id), { [carol.id]: 'owner' });
    const rows = byId(await taskRows(database));
    const shape = (tasks: TaskObject[]) => tasks.map((item) => {
      const row = rows.get(item.id);
      return row && [row.list_id, row.owner_id, row.assignee_id];
    });
    assert.deepEqual(shape(inHanded), [[handed.id, carol.id, null], [handed.id, bob.id, null], [handed.id, carol.id, bob.id]]);
    assert.deepEqual(shape(inAlone), [undefined, undefined]);
    assert.deepEqual(shape(inCoOwned), [[coOwned.id, bob.id, carol.id], [coOwned.id, carol.id, null]]);
    assert.deepEqual(shape(inEdited), [[edited.id, carol.id, null], [edited.id, carol.id, null]]);
    assert.deepEqual(shape(inViewed), [[viewed.id, carol.id, null]]);
    assert.ok(![...rows.values()].some((row) => row.owner_id === alice.id || row.assignee_id === alice.id));
    assert.deepEqual(await deletedFeed(app, bob, since), []);
    assert.deepEqual(await deletedFeed(app, carol, since), []);
    await assertIntegrity(database);
  });
});

describe(`[${dialectName}] moving tasks out of other members' view`, () => {
  test("when a task's owner moves it from a list to their personal tasks, then the other members lose it and are told, and the owner keeps it", async (t) => {
    const { app, database } = await buildTestApp(t);
    const { alice, bob, carol, list, tasks } = await groceries(app);
    const moved = tasks.bobForCarol;
    const since = await moment();

    const reply = await send(app, bob, 'PATCH', `/api/tasks/${moved.id}/`, { list: null });
    assert.equal(reply.statusCode, 200);
    assert.deepEqual([reply.json().list, reply.json().assignee, reply.json().owner], [null, null, bob.id]);

    const row = (await taskRow(database, moved.id))!;
    assert.deepEqual([row.list_id, row.assignee_id, row.owner_id], [null, null, bob.id]);
    for (const member of [alice, carol]) {
      const gone = await send(app, member, 'GET', `/api/tasks/${moved.id}/`);
      assert.deepEqual([gone.statusCode, gone.json()], [404, NOT_FOUND]);
      assert.deepEqual(await deletedFeed(app, member, since), [moved.id]);
      assert.deepEqual(await deletionsFor(database, member.id), [moved.id]);
      assert.ok(!(await visibleIds(app, member)).includes(moved.id));
    }
    assert.equal((await send(app, bob, 'GET', `/api/tasks/${moved.id}/`)).statusCode, 200);
    assert.deepEqual(await deletedFeed(app, bob, since), []);
    assert.deepEqual(await deletionsFor(database, bob.id), []);
    const personal = (await send(app, bob, 'GET', '/api/tasks/?list=personal')).json() as TaskObject[];
    assert.ok(personal.some((task) => task.id === moved.id));
    const inList = (await send(app, alice, 'GET', `/api/tasks/?list=${list.id}`)).json() as TaskObject[];
    assert.ok(!inList.some((task) => task.id === moved.id));
    await assertIntegrity(database);
  });

  test('when a task moves from list A to list B, then the members of A who are not in B lose it and are told, and the members of B see it', async (t) => {
    const { app, database } = await buildTestApp(t);
    const { alice, bob, carol, list, tasks } = await groceries(app);
    const dave = await createUser(app);
    const other = await createList(app, alice, 'Elsewhere');
    await addMember(app, alice, other.id, bob, 'editor');
    await addMember(app, alice, other.id, dave, 'viewer');
    const moved = tasks.bobForCarol;
    const since = await moment();

    const moveReply = await send(app, alice, 'PATCH', `/api/tasks/${moved.id}/`, { list: other.id });
    assert.equal(moveReply.statusCode, 200);
    assert.deepEqual([moveReply.json().list, moveReply.json().assignee, moveReply.json().owner], [other.id, null, bob.id]);

    const row = (await taskRow(database, moved.id))!;
    assert.deepEqual([row.list_id, row.assignee_id, row.owner_id], [other.id, null, bob.id]);
    const gone = await send(app, carol, 'GET', `/api/tasks/${moved.id}/`);
    assert.deepEqual([gone.statusCode, gone.json()], [404, NOT_FOUND]);
    assert.deepEqual(await deletedFeed(app, carol, since), [moved.id]);
    assert.deepEqual(await deletionsFor(database, carol.id), [moved.id]);
    for (const member of [alice, bob, dave]) {
      assert.equal((await send(app, member, 'GET', `/api/tasks/${moved.id}/`)).statusCode, 200);
      assert.deepEqual(await deletedFeed(app, member, since), [], `user ${member.id} still sees it`);
      assert.ok((await visibleIds(app, member)).includes(moved.id));
    }
    assert.ok(!(await visibleIds(app, carol)).includes(moved.id));
    assert.ok(!(await send(app, alice, 'GET', `/api/tasks/?list=${list.id}`)).json().some((task: TaskObject) => task.id === moved.id));
    await assertIntegrity(database);
  });
});
