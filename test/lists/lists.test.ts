import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createTasksRepository } from '../../src/tasks/repository.js';
import { buildTestApp, createTask, createUser, dialectName, type TestUser } from '../helpers.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Requests as one user: `api(app, alice).patch(url, body)`. */
function api(app: FastifyInstance, user: TestUser) {
  const send = (method: Method) => (url: string, payload?: unknown) =>
    app.inject({ method, url, headers: user.auth, payload: payload as Record<string, unknown> | undefined });
  return { get: send('GET'), post: send('POST'), put: send('PUT'), patch: send('PATCH'), delete: send('DELETE') };
}

async function team(t: Parameters<typeof buildTestApp>[0]) {
  const { app, database } = await buildTestApp(t);
  const [owner, editor, viewer, outsider] = await Promise.all([createUser(app), createUser(app), createUser(app), createUser(app)]);
  const created = await api(app, owner).post('/api/lists/', { name: 'Team', description: 'Shared work' });
  assert.equal(created.statusCode, 201, created.body);
  const list = created.json();
  for (const [user, role] of [[editor, 'editor'], [viewer, 'viewer']] as const) {
    const added = await api(app, owner).post(`/api/lists/${list.id}/members/`, { username: user.username, role });
    assert.equal(added.statusCode, 201, added.body);
  }
  return { app, database, owner, editor, viewer, outsider, list };
}

describe(`[${dialectName}] lists`, () => {
  test('when a list is created, then its creator is its only owner and it is shown with their role and the member count', async (t) => {
    const { app } = await buildTestApp(t);
    const alice = await createUser(app);
    const response = await api(app, alice).post('/api/lists/', { name: '  Groceries  ' });
    assert.equal(response.statusCode, 201);
    const list = response.json();
    assert.deepEqual(Object.keys(list), ['id', 'name', 'description', 'created_at', 'updated_at', 'role', 'member_count']);
    assert.equal(list.name, 'Groceries');
    assert.equal(list.description, '');
    assert.equal(list.role, 'owner');
    assert.equal(list.member_count, 1);
    assert.deepEqual((await api(app, alice).get('/api/lists/')).json(), [list]);
    const members = (await api(app, alice).get(`/api/lists/${list.id}/members/`)).json();
    assert.deepEqual(members, [{ user_id: alice.id, username: alice.username, role: 'owner', joined_at: list.created_at }]);
  });

  test('when a list is created with a missing, blank or too long name, then each is a field error and nothing is created', async (t) => {
    const { app, database } = await buildTestApp(t);
    const alice = await createUser(app);
    const cases: [unknown, Record<string, string[]>][] = [
      [{}, { name: ['This field is required.'] }],
      [{ name: '   ' }, { name: ['This field may not be blank.'] }],
      [{ name: 'x'.repeat(101) }, { name: ['Ensure this field has no more than 100 characters.'] }],
      [{ name: 'ok', description: 'd'.repeat(1001) }, { description: ['Ensure this field has no more than 1000 characters.'] }],
    ];
    for (const [body, errors] of cases) {
      const response = await api(app, alice).post('/api/lists/', body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.deepEqual(response.json(), errors);
    }
    assert.deepEqual(await database.db.selectFrom('lists').selectAll().execute(), []);
  });

  test('when members are listed, then each role reads them, longest-standing first, and the count follows', async (t) => {
    const { app, owner, editor, viewer, list } = await team(t);
    for (const user of [owner, editor, viewer]) {
      const members = (await api(app, user).get(`/api/lists/${list.id}/members/`)).json();
      assert.deepEqual(members.map((member: { user_id: number }) => member.user_id), [owner.id, editor.id, viewer.id]);
      assert.deepEqual(members.map((member: { role: string }) => member.role), ['owner', 'editor', 'viewer']);
      const seen = (await api(app, user).get(`/api/lists/${list.id}/`)).json();
      assert.equal(seen.member_count, 3);
    }
    assert.equal((await api(app, viewer).get(`/api/lists/${list.id}/`)).json().role, 'viewer');
    const one = await api(app, viewer).get(`/api/lists/${list.id}/members/${editor.id}/`);
    assert.equal(one.statusCode, 200);
    assert.equal(one.json().username, editor.username);
  });

  test('when a member is added twice, by an unknown name or with a bad role, then each is a field error', async (t) => {
    const { app, owner, editor, outsider, list, database } = await team(t);
    const before = await database.db.selectFrom('list_members').selectAll().orderBy('user_id').execute();
    const cases: [unknown, Record<string, string[]>][] = [
      [{ username: editor.username }, { username: ['This user is already a member of this list.'] }],
      [{ username: editor.username.toUpperCase(), role: 'owner' }, { username: ['This user is already a member of this list.'] }],
      [{ username: 'nobody-at-all' }, { username: ['No user with this username.'] }],
      [{ username: outsider.username, role: 'boss' }, { role: ['"boss" is not a valid choice.'] }],
      [{ role: 'viewer' }, { username: ['This field is required.'] }],
    ];
    for (const [body, errors] of cases) {
      const response = await api(app, owner).post(`/api/lists/${list.id}/members/`, body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.deepEqual(response.json(), errors);
    }
    assert.deepEqual(await database.db.selectFrom('list_members').selectAll().orderBy('user_id').execute(), before);
  });

  test('when the last owner would leave or be demoted, then it is refused; with a second owner both work', async (t) => {
    const { app, owner, editor, list } = await team(t);
    const leave = await api(app, owner).delete(`/api/lists/${list.id}/members/${owner.id}/`);
    assert.equal(leave.statusCode, 400);
    assert.deepEqual(leave.json(), { detail: 'A list must keep at least one owner.' });
    const demote = await api(app, owner).patch(`/api/lists/${list.id}/members/${owner.id}/`, { role: 'editor' });
    assert.equal(demote.statusCode, 400);
    assert.deepEqual(demote.json(), { role: ['A list must keep at least one owner.'] });

    assert.equal((await api(app, owner).patch(`/api/lists/${list.id}/members/${editor.id}/`, { role: 'owner' })).statusCode, 200);
    assert.equal((await api(app, owner).patch(`/api/lists/${list.id}/members/${owner.id}/`, { role: 'viewer' })).json().role, 'viewer');
    assert.equal((await api(app, owner).delete(`/api/lists/${list.id}/members/${owner.id}/`)).statusCode, 204);
    assert.equal((await api(app, owner).get(`/api/lists/${list.id}/`)).statusCode, 404);
  });

  test('when two owners demote each other at the same moment, then the second is no longer an owner when its turn comes (403), and one owner stays', async (t) => {
    const { app, owner, editor, list, database } = await team(t);
    await api(app, owner).patch(`/api/lists/${list.id}/members/${editor.id}/`, { role: 'owner' });
    const replies = await Promise.all([
      api(app, owner).patch(`/api/lists/${list.id}/members/${editor.id}/`, { role: 'viewer' }),
      api(app, editor).patch(`/api/lists/${list.id}/members/${owner.id}/`, { role: 'viewer' }),
    ]);
    assert.deepEqual(replies.map((reply) => reply.statusCode).sort(), [200, 403]);
    const owners = await database.db.selectFrom('list_members').select('user_id').where('list_id', '=', list.id).where('role', '=', 'owner').execute();
    assert.equal(owners.length, 1);
  });

  test('when a list is renamed, then its updated_at moves; PUT keeps an omitted description', async (t) => {
    const { app, owner, list } = await team(t);
    const renamed = await api(app, owner).put(`/api/lists/${list.id}/`, { name: 'Renamed' });
    assert.equal(renamed.statusCode, 200);
    assert.equal(renamed.json().name, 'Renamed');
    assert.equal(renamed.json().description, 'Shared work');
    assert.ok(renamed.json().updated_at > list.updated_at);
    assert.equal((await api(app, owner).put(`/api/lists/${list.id}/`, { description: 'x' })).statusCode, 400);
    assert.equal((await api(app, owner).patch(`/api/lists/${list.id}/`, { description: 'Only this' })).json().name, 'Renamed');
  });

  test('when the list index is paginated, then it has the envelopes and links of the task list', async (t) => {
    const { app } = await buildTestApp(t);
    const alice = await createUser(app);
    const ids: number[] = [];
    for (const name of ['a', 'b', 'c', 'd', 'e']) ids.push((await api(app, alice).post('/api/lists/', { name })).json().id);
    const page = (await api(app, alice).get('/api/lists/?page=2&page_size=2')).json();
    assert.equal(page.count, 5);
    assert.deepEqual(page.results.map((list: { id: number }) => list.id), ids.slice(2, 4));
    assert.equal(page.next, 'http://localhost:80/api/lists/?page=3&page_size=2');
    assert.equal(page.previous, 'http://localhost:80/api/lists/?page_size=2');
    const offset = (await api(app, alice).get('/api/lists/?limit=2&offset=4')).json();
    assert.deepEqual(offset.results.map((list: { id: number }) => list.id), ids.slice(4));
    assert.equal(offset.next, null);

    let url: string | null = 'http://localhost/api/lists/?cursor=&page_size=2';
    const walked: number[] = [];
    while (url !== null) {
      const reply: { results: { id: number }[]; next: string | null } = (await api(app, alice).get(url.replace('http://localhost:80', ''))).json();
      walked.push(...reply.results.map((list: { id: number }) => list.id));
      url = reply.next;
    }
    assert.deepEqual(walked, ids);
    assert.equal((await api(app, alice).get('/api/lists/?cursor=nonsense')).statusCode, 400);
    assert.equal((await api(app, alice).get('/api/lists/?page=9')).statusCode, 404);
  });
});

describe(`[${dialectName}] deleting a list`, () => {
  test('when a list of 30 tasks and 5 members is deleted, then it writes one record per member, which each member reads as the 30 tasks, and purging forgets both', async (t) => {
    const { app, database, owner, editor, viewer, list } = await team(t);
    const others = [await createUser(app), await createUser(app)];
    for (const user of others) await api(app, owner).post(`/api/lists/${list.id}/members/`, { username: user.username });
    const ids: number[] = [];
    for (let index = 0; index < 30; index += 1) ids.push((await api(app, editor).post('/api/tasks/', { title: `Task ${index}`, list: list.id })).json().id);
    const since = new Date(Date.now() - 1000).toISOString();

    assert.equal((await api(app, owner).delete(`/api/lists/${list.id}/`)).statusCode, 204);
    const records = await database.db.selectFrom('deleted_tasks').select(['task_id', 'list_id']).execute();
    assert.equal(records.length, 5);
    assert.ok(records.every((record) => record.task_id === null && record.list_id === list.id));
    for (const user of [owner, editor, viewer, ...others]) {
      const feed = (await api(app, user).get(`/api/tasks/deleted/?since=${since}`)).json();
      assert.deepEqual(feed.map((item: { id: number }) => item.id).sort((a: number, b: number) => a - b), ids);
    }

    await createTasksRepository(database).purgeTombstones(new Date(Date.now() + 60_000).toISOString());
    assert.deepEqual(await database.db.selectFrom('deleted_tasks').selectAll().execute(), []);
    assert.deepEqual(await database.db.selectFrom('deleted_list_tasks').selectAll().execute(), []);
  });
});

describe(`[${dialectName}] tasks in lists`, () => {
  test('when an editor creates a task in a list, then every member sees it in their task list and the outsider does not', async (t) => {
    const { app, owner, editor, viewer, outsider, list } = await team(t);
    const personal = await createTask(app, owner, { title: 'Mine' });
    const created = await api(app, editor).post('/api/tasks/', { title: 'Shared', list: list.id });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().list, list.id);
    assert.equal(created.json().owner, editor.id);
    assert.equal(created.json().assignee, null);
    for (const user of [owner, editor, viewer]) {
      const ids = (await api(app, user).get('/api/tasks/')).json().map((task: { id: number }) => task.id);
      assert.deepEqual(ids, user === owner ? [personal.id, created.json().id] : [created.json().id]);
      assert.equal((await api(app, user).get(`/api/tasks/${created.json().id}/`)).statusCode, 200);
    }
    assert.deepEqual((await api(app, outsider).get('/api/tasks/')).json(), []);
    assert.equal((await api(app, outsider).get(`/api/tasks/${created.json().id}/`)).statusCode, 404);
  });

  test('when tasks are filtered by list and assignee, then each filter keeps exactly its tasks, in every pagination mode', async (t) => {
    const { app, owner, editor, list } = await team(t);
    const personal = await createTask(app, owner, { title: 'Personal' });
    const mine = (await api(app, owner).post('/api/tasks/', { title: 'For me', list: list.id, assignee: owner.id })).json();
    const theirs = (await api(app, owner).post('/api/tasks/', { title: 'For them', list: list.id, assignee: editor.id })).json();
    const nobody = (await api(app, owner).post('/api/tasks/', { title: 'Nobody', list: list.id })).json();
    const ids = async (query: string) => {
      const plain = (await api(app, owner).get(`/api/tasks/?${query}`)).json().map((task: { id: number }) => task.id);
      const paged = (await api(app, owner).get(`/api/tasks/?${query}&page_size=2`)).json();
      assert.equal(paged.count, plain.length, query);
      const cursor = (await api(app, owner).get(`/api/tasks/?${query}&cursor=&page_size=100`)).json();
      assert.deepEqual(cursor.results.map((task: { id: number }) => task.id), plain, query);
      return plain;
    };
    assert.deepEqual(await ids('list=personal'), [personal.id]);
    assert.deepEqual(await ids(`list=${list.id}`), [mine.id, theirs.id, nobody.id]);
    assert.deepEqual(await ids('assignee=me'), [mine.id]);
    assert.deepEqual(await ids(`assignee=${editor.id}`), [theirs.id]);
    assert.deepEqual(await ids('assignee=none'), [personal.id, nobody.id]);
    assert.deepEqual(await ids(`list=${list.id}&assignee=none&ordering=-title`), [nobody.id]);
    assert.deepEqual(await ids('list=999999'), []);
    for (const query of ['list=abc', 'list=0', 'assignee=someone']) {
      const response = await api(app, owner).get(`/api/tasks/?${query}`);
      assert.equal(response.statusCode, 400, query);
    }
  });

  test('when a task is assigned, then the assignee must be a member of its list, and a personal task cannot be assigned', async (t) => {
    const { app, owner, editor, outsider, list } = await team(t);
    const task = (await api(app, editor).post('/api/tasks/', { title: 'Assign me', list: list.id })).json();
    const assigned = await api(app, editor).patch(`/api/tasks/${task.id}/`, { assignee: owner.id });
    assert.equal(assigned.statusCode, 200);
    assert.equal(assigned.json().assignee, owner.id);
    const stranger = await api(app, editor).patch(`/api/tasks/${task.id}/`, { assignee: outsider.id });
    assert.equal(stranger.statusCode, 400);
    assert.deepEqual(stranger.json(), { assignee: [`User ${outsider.id} is not a member of this list.`] });
    const personal = await createTask(app, owner);
    const refused = await api(app, owner).patch(`/api/tasks/${personal.id}/`, { assignee: owner.id });
    assert.deepEqual(refused.json(), { assignee: ['Personal tasks cannot be assigned.'] });
    const typed = await api(app, owner).post('/api/tasks/', { title: 'x', list: 'abc' });
    assert.deepEqual(typed.json(), { list: ['Incorrect type. Expected pk value, received str.'] });
  });

  test('when tasks move, then the roles in both lists decide, a move clears the assignee, and a PUT without list leaves it in place', async (t) => {
    const { app, owner, editor, viewer, list } = await team(t);
    const other = (await api(app, editor).post('/api/lists/', { name: 'Editor only' })).json();
    await api(app, editor).post(`/api/lists/${other.id}/members/`, { username: viewer.username, role: 'viewer' });
    const task = (await api(app, owner).post('/api/tasks/', { title: 'Moving', list: list.id, assignee: viewer.id })).json();

    const put = await api(app, editor).put(`/api/tasks/${task.id}/`, { title: 'Still here' });
    assert.equal(put.json().list, list.id);
    assert.equal(put.json().assignee, viewer.id);

    const moved = await api(app, editor).patch(`/api/tasks/${task.id}/`, { list: other.id });
    assert.equal(moved.statusCode, 200);
    assert.equal(moved.json().list, other.id);
    assert.equal(moved.json().assignee, null);
    assert.equal((await api(app, owner).get(`/api/tasks/${task.id}/`)).statusCode, 404);

    // Back to the team list: the owner is not in the other list, the viewer may not write there.
    assert.equal((await api(app, viewer).patch(`/api/tasks/${task.id}/`, { list: list.id })).statusCode, 403);
    const intoUnknown = await api(app, editor).patch(`/api/tasks/${task.id}/`, { list: 999999 });
    assert.deepEqual(intoUnknown.json(), { list: ['Invalid pk "999999" - object does not exist.'] });

    // Out to personal: the task's owner only, and the owner is not in the other list.
    assert.equal((await api(app, editor).patch(`/api/tasks/${task.id}/`, { list: null })).statusCode, 403);
    assert.equal((await api(app, editor).patch(`/api/tasks/${task.id}/`, { list: list.id })).statusCode, 200);
    const home = await api(app, owner).patch(`/api/tasks/${task.id}/`, { list: null });
    assert.equal(home.statusCode, 200);
    assert.equal(home.json().list, null);
    assert.equal((await api(app, editor).get(`/api/tasks/${task.id}/`)).statusCode, 404);

    // A personal task into a list the caller only views: 403 before the bad title's 400.
    const viewerOwn = await createTask(app, viewer);
    assert.equal((await api(app, viewer).patch(`/api/tasks/${viewerOwn.id}/`, { list: list.id, title: '' })).statusCode, 403);
  });
});
