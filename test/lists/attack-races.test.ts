import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTestApp, createTask, createUser, dialectName } from '../helpers.js';
import { addMember, api, newList, pause } from './attack-support.js';

/** Plain parallel requests, as clients send them; no lock is held from outside. */
describe(`[${dialectName}] attack: parallel requests on lists`, () => {
  test('ATTACK when two of three owners demote each other at the same moment, then at most one demotion succeeds', async (t) => {
    const { app } = await buildTestApp(t);
    const [a, b, c] = await Promise.all([createUser(app), createUser(app), createUser(app)]);
    let bothSucceeded = 0;
    for (let round = 0; round < 5; round++) {
      const list = await newList(app, a, `round ${round}`);
      await addMember(app, a, list.id, b, 'owner');
      await addMember(app, a, list.id, c, 'owner');
      const [ab, ba] = await Promise.all([
        api(app, a).patch(`/api/lists/${list.id}/members/${b.id}/`, { role: 'viewer' }),
        api(app, b).patch(`/api/lists/${list.id}/members/${a.id}/`, { role: 'viewer' }),
      ]);
      // Whichever runs second is by then a viewer: 403 (or 404), never 200.
      if (ab.statusCode === 200 && ba.statusCode === 200) bothSucceeded++;
    }
    assert.equal(bothSucceeded, 0, 'a demoted owner demoted their demoter');
  });

  test('ATTACK when an owner is removed while they add themself back, then they are not a member afterwards', async (t) => {
    const { app } = await buildTestApp(t);
    const [a, b] = await Promise.all([createUser(app), createUser(app)]);
    let cameBack = 0;
    for (let round = 0; round < 5; round++) {
      const list = await newList(app, a, `round ${round}`);
      await addMember(app, a, list.id, b, 'owner');
      await Promise.all([
        api(app, a).delete(`/api/lists/${list.id}/members/${b.id}/`),
        api(app, b).post(`/api/lists/${list.id}/members/`, { username: b.username, role: 'owner' }),
      ]);
      const members = (await api(app, a).get(`/api/lists/${list.id}/members/`)).json() as { user_id: number }[];
      if (members.some((member) => member.user_id === b.id)) cameBack++;
    }
    assert.equal(cameBack, 0, 'a removed owner put themself back');
  });

  test('ATTACK when members are added while the list is deleted, then no reply is a 500', async (t) => {
    const { app } = await buildTestApp(t);
    const owner = await createUser(app);
    const others = await Promise.all(Array.from({ length: 6 }, () => createUser(app)));
    const statuses: number[] = [];
    for (let round = 0; round < 6; round++) {
      const list = await newList(app, owner, `round ${round}`);
      await createTask(app, owner, { list: list.id });
      const replies = await Promise.all([
        ...others.map((user, index) => pause(index % 3).then(() => api(app, owner).post(`/api/lists/${list.id}/members/`, { username: user.username }))),
        pause(1).then(() => api(app, owner).delete(`/api/lists/${list.id}/`)),
      ]);
      statuses.push(...replies.map((reply) => reply.statusCode));
    }
    assert.ok(!statuses.includes(500), `statuses: ${statuses.join(',')}`);
  });

  test('ATTACK when lists are created while the account is deleted, then no reply is a 500 and no list is left without members', async (t) => {
    const { app, database } = await buildTestApp(t);
    const statuses: number[] = [];
    for (let round = 0; round < 4; round++) {
      const leaving = await createUser(app);
      const deletion = api(app, leaving).delete('/api/user/', { current_password: leaving.password });
      let done = false;
      void deletion.then(() => (done = true));
      const creations = [];
      // Keep creating until the deletion has answered, and a little after.
      for (let i = 0; i < 400 && !done; i++) {
        creations.push(api(app, leaving).post('/api/lists/', { name: `n${i}` }));
        await pause(0);
      }
      assert.equal((await deletion).statusCode, 204);
      statuses.push(...(await Promise.all(creations)).map((reply) => reply.statusCode));
    }
    const orphans = await database.db
      .selectFrom('lists')
      .select('id')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('list_members').select('list_id').whereRef('list_members.list_id', '=', 'lists.id'))))
      .execute();
    assert.ok(!statuses.includes(500), `statuses: ${[...new Set(statuses)].join(',')} (${statuses.filter((s) => s === 500).length} x 500)`);
    assert.deepEqual(orphans, []);
  });
});

describe(`[${dialectName}] attack: parallel requests on tasks of lists`, () => {
  test('when a member is removed while tasks are assigned to them or moved in with them as assignee, and the list is deleted while tasks are created in it or moved in, then no reply is a 500', async (t) => {
    const { app, database } = await buildTestApp(t);
    const [owner, editor, member] = await Promise.all([createUser(app), createUser(app), createUser(app)]);
    const home = await newList(app, editor, 'Home');
    await addMember(app, editor, home.id, member, 'viewer');
    const statuses: string[] = [];
    for (let round = 0; round < 8; round++) {
      const list = await newList(app, owner, `r${round}`);
      await addMember(app, owner, list.id, editor, 'editor');
      await addMember(app, owner, list.id, member, 'viewer');
      const inList = await Promise.all(Array.from({ length: 4 }, () => createTask(app, editor, { list: list.id })));
      const inHome = await Promise.all(Array.from({ length: 4 }, () => createTask(app, editor, { list: home.id })));
      const personal = await Promise.all(Array.from({ length: 2 }, () => createTask(app, editor)));
      const replies = await Promise.all([
        ...inList.map((task) => api(app, editor).patch(`/api/tasks/${task.id}/`, { assignee: member.id })),
        ...inHome.map((task) => api(app, editor).patch(`/api/tasks/${task.id}/`, { list: list.id, assignee: member.id })),
        pause(round % 3).then(() => api(app, owner).delete(`/api/lists/${list.id}/members/${member.id}/`)),
        ...personal.map((task) => api(app, editor).patch(`/api/tasks/${task.id}/`, { list: list.id })),
        api(app, editor).post('/api/tasks/', { title: 'late', list: list.id }),
        pause(2 + (round % 2)).then(() => api(app, owner).delete(`/api/lists/${list.id}/`)),
      ]);
      statuses.push(...replies.map((reply) => `${reply.statusCode}`));
    }
    assert.ok(!statuses.includes('500'), statuses.join(','));
    const bad = await database.db
      .selectFrom('tasks')
      .select('id')
      .where('assignee_id', 'is not', null)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('list_members').select('user_id').whereRef('list_members.list_id', '=', 'tasks.list_id').whereRef('list_members.user_id', '=', 'tasks.assignee_id'))),
      )
      .execute();
    assert.deepEqual(bad, []);
  });
});
