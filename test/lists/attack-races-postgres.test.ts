import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createTask, createUser, TEST_DATABASE_URL } from '../helpers.js';
import { addMember, api, blockerFor, newList, team, untilWaiting } from './attack-support.js';

/**
 * Races forced into their worst interleaving: a row lock held from a second connection stalls
 * one use case half done (after it has locked what it locks), the racing request is sent and
 * waits on it, then the lock is released.
 */
describe('[postgres] attack: membership writes racing deletions', { skip: TEST_DATABASE_URL === undefined && 'PostgreSQL only' }, () => {
  test('ATTACK when a member is added while the list is being deleted, then the reply is 404, not a 500 (foreign key)', async (t) => {
    const { app, database, owner, viewer, outsider, list } = await team(t);
    await createTask(app, owner, { list: list.id });
    const blocker = await blockerFor(t, database);
    // The deletion stalls on its deletion records for the viewer, holding the list's row.
    const lock = await blocker.hold('select id from users where id = $1 for update', [viewer.id]);
    const deletion = api(app, owner).delete(`/api/lists/${list.id}/`);
    await untilWaiting(database, lock.pid, 1);
    const adding = api(app, owner).post(`/api/lists/${list.id}/members/`, { username: outsider.username });
    await untilWaiting(database, lock.pid, 2);
    await lock.release();
    assert.equal((await deletion).statusCode, 204);
    const added = await adding;
    assert.equal(added.statusCode, 404, added.body);
  });

  test("ATTACK when a user is added to a list while their account is being deleted, then the reply is a field error, not a 500 (foreign key)", async (t) => {
    const { app, database, owner, list } = await team(t);
    const leaving = await createUser(app);
    const blocker = await blockerFor(t, database);
    // The account deletion stalls on its last statement, the user's row already taken.
    const lock = await blocker.hold('select id from users where id = $1 for key share', [leaving.id]);
    const deletion = api(app, leaving).delete('/api/user/', { current_password: leaving.password });
    await untilWaiting(database, lock.pid, 1);
    const adding = api(app, owner).post(`/api/lists/${list.id}/members/`, { username: leaving.username });
    await untilWaiting(database, lock.pid, 2);
    await lock.release();
    assert.equal((await deletion).statusCode, 204);
    const added = await adding;
    assert.equal(added.statusCode, 400, added.body);
    assert.deepEqual(added.json(), { username: ['No user with this username.'] });
  });

  test('ATTACK when a list is created while its creator\'s account is being deleted, then the reply is a 401, not a 500 (foreign key), and no list is left', async (t) => {
    const { app, database } = await team(t);
    const leaving = await createUser(app);
    const blocker = await blockerFor(t, database);
    const lock = await blocker.hold('select id from users where id = $1 for key share', [leaving.id]);
    const deletion = api(app, leaving).delete('/api/user/', { current_password: leaving.password });
    await untilWaiting(database, lock.pid, 1);
    const creating = api(app, leaving).post('/api/lists/', { name: 'Orphan' });
    await untilWaiting(database, lock.pid, 2);
    await lock.release();
    assert.equal((await deletion).statusCode, 204);
    const created = await creating;
    assert.notEqual(created.statusCode, 500, created.body);
    assert.equal(created.statusCode, 401, created.body);
    const orphans = await database.db
      .selectFrom('lists')
      .select('id')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('list_members').select('list_id').whereRef('list_members.list_id', '=', 'lists.id'))))
      .execute();
    assert.deepEqual(orphans, []);
  });
});

describe('[postgres] attack: roles checked before the lock', { skip: TEST_DATABASE_URL === undefined && 'PostgreSQL only' }, () => {
  test('ATTACK when an owner being demoted promotes themself back at the same moment, then the demotion is not undone', async (t) => {
    const { app, database, owner } = await team(t);
    const second = await createUser(app);
    const list = await newList(app, owner, 'Two owners');
    await addMember(app, owner, list.id, second, 'owner');
    const blocker = await blockerFor(t, database);
    // The demotion of `second` stalls on its update, holding the list's row.
    const lock = await blocker.hold('select 1 from list_members where list_id = $1 and user_id = $2 for share', [list.id, second.id]);
    const demotion = api(app, owner).patch(`/api/lists/${list.id}/members/${second.id}/`, { role: 'viewer' });
    await untilWaiting(database, lock.pid, 1);
    const selfPromotion = api(app, second).patch(`/api/lists/${list.id}/members/${second.id}/`, { role: 'owner' });
    await untilWaiting(database, lock.pid, 2);
    await lock.release();
    assert.equal((await demotion).statusCode, 200);
    const promoted = await selfPromotion;
    // Either order of the two requests leaves `second` a viewer: promoting an owner to owner
    // changes nothing, and a viewer may not promote anyone.
    const role = (await api(app, owner).get(`/api/lists/${list.id}/members/${second.id}/`)).json().role;
    assert.equal(role, 'viewer', `self-promotion answered ${promoted.statusCode} ${promoted.body}`);
  });
  test('ATTACK when an owner is removed while they add themself back, then they are not a member afterwards', async (t) => {
    const { app, database, owner } = await team(t);
    const second = await createUser(app);
    const list = await newList(app, owner, 'Two owners');
    await addMember(app, owner, list.id, second, 'owner');
    const blocker = await blockerFor(t, database);
    // The removal of `second` stalls on deleting their membership, holding their user row and the list's.
    const lock = await blocker.hold('select 1 from list_members where list_id = $1 and user_id = $2 for share', [list.id, second.id]);
    const removal = api(app, owner).delete(`/api/lists/${list.id}/members/${second.id}/`);
    await untilWaiting(database, lock.pid, 1);
    const comeback = api(app, second).post(`/api/lists/${list.id}/members/`, { username: second.username, role: 'owner' });
    await untilWaiting(database, lock.pid, 2);
    await lock.release();
    assert.equal((await removal).statusCode, 204);
    const back = await comeback;
    // In either order the comeback fails: "already a member" before the removal, 404 after it.
    const members = (await api(app, owner).get(`/api/lists/${list.id}/members/`)).json();
    assert.deepEqual(members.map((member: { user_id: number }) => member.user_id), [owner.id], `comeback answered ${back.statusCode} ${back.body}`);
  });
});

describe('[postgres] attack: two accounts deleted at once', { skip: TEST_DATABASE_URL === undefined && 'PostgreSQL only' }, () => {
  test("ATTACK when a list's only owner and a former member who created a task in it delete their accounts at once, then the task stays in the list for the remaining member", async (t) => {
    const { app, database } = await team(t);
    const [owner, creator, remaining] = await Promise.all([createUser(app), createUser(app), createUser(app)]);
    const list = await newList(app, owner, 'Handed over');
    await addMember(app, owner, list.id, creator, 'editor');
    await addMember(app, owner, list.id, remaining, 'viewer');
    const task = await createTask(app, creator, { list: list.id, title: 'Created by a former member' });
    assert.equal((await api(app, creator).delete(`/api/lists/${list.id}/members/${creator.id}/`)).statusCode, 204);
    const since = new Date().toISOString();

    const blocker = await blockerFor(t, database);
    // The owner's account deletion stalls on its last statement (the user's row), its hand-over done.
    const lock = await blocker.hold('select id from users where id = $1 for key share', [owner.id]);
    const ownerGone = api(app, owner).delete('/api/user/', { current_password: owner.password });
    await untilWaiting(database, lock.pid, 1);
    // The creator's hand-over takes the list's row, which the owner's deletion holds: it waits.
    const creatorGone = api(app, creator).delete('/api/user/', { current_password: creator.password });
    await untilWaiting(database, lock.pid, 2);
    await lock.release();
    assert.equal((await ownerGone).statusCode, 204);
    assert.equal((await creatorGone).statusCode, 204);

    const seen = await api(app, remaining).get(`/api/tasks/?list=${list.id}`);
    const deleted = (await api(app, remaining).get(`/api/tasks/deleted/?since=${since}`)).json();
    assert.deepEqual(
      seen.json().map((item: { id: number }) => item.id),
      [task.id],
      `the task is gone from the list; deletion feed of the remaining member: ${JSON.stringify(deleted)}`,
    );
  });
});

describe('[postgres] attack: account deletion reads its roles before locking the lists', { skip: TEST_DATABASE_URL === undefined && 'PostgreSQL only' }, () => {
  /**
   * The leaving user is an editor of `list` and a member of an earlier list, whose row is held
   * so that the deletion has read its memberships but not yet locked `list`. Meanwhile the
   * owner promotes them to owner and leaves, as owners may.
   */
  async function promotedWhileLeaving(t: Parameters<typeof team>[0], withTask: boolean) {
    const { app, database } = await team(t);
    const [owner, leaving, staying] = await Promise.all([createUser(app), createUser(app), createUser(app)]);
    const earlier = await newList(app, owner, 'Earlier');
    await addMember(app, owner, earlier.id, leaving, 'viewer');
    const list = await newList(app, owner, 'Handed over');
    await addMember(app, owner, list.id, leaving, 'editor');
    await addMember(app, owner, list.id, staying, 'viewer');
    if (withTask) await createTask(app, leaving, { list: list.id });

    const blocker = await blockerFor(t, database);
    const lock = await blocker.hold('select id from lists where id = $1 for share', [earlier.id]);
    const deletion = api(app, leaving).delete('/api/user/', { current_password: leaving.password });
    await untilWaiting(database, lock.pid, 1);
    assert.equal((await api(app, owner).patch(`/api/lists/${list.id}/members/${leaving.id}/`, { role: 'owner' })).statusCode, 200);
    assert.equal((await api(app, owner).delete(`/api/lists/${list.id}/members/${owner.id}/`)).statusCode, 204);
    await lock.release();
    const deleted = await deletion;
    const members = (await api(app, staying).get(`/api/lists/${list.id}/members/`)).json();
    return { deleted, members };
  }

  test('ATTACK when the leaving editor is made the only owner meanwhile, then the list keeps an owner', async (t) => {
    const { deleted, members } = await promotedWhileLeaving(t, false);
    assert.equal(deleted.statusCode, 204);
    assert.deepEqual(members.map((member: { role: string }) => member.role), ['owner'], JSON.stringify(members));
  });

  test('ATTACK when the leaving editor, who created a task in the list, is made its only owner meanwhile, then the account deletion is not a 500', async (t) => {
    const { deleted, members } = await promotedWhileLeaving(t, true);
    assert.equal(deleted.statusCode, 204, `${deleted.body}; members after: ${JSON.stringify(members)}`);
  });
});
