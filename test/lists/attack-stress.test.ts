import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { buildTestApp, createTask, createUser, dialectName, type TestUser } from '../helpers.js';
import { addMember, api, newList } from './attack-support.js';

function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe(`[${dialectName}] attack: parallel writes on shared lists`, () => {
  test('ATTACK when members, roles, moves, assignments, list and account deletions run in parallel, then no reply is a 500 and every invariant holds', async (t) => {
    const { app, database } = await buildTestApp(t);
    const next = random(Number(process.env.ATTACK_SEED ?? 7));
    const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)]!;
    const users: TestUser[] = await Promise.all(Array.from({ length: 6 }, () => createUser(app)));
    const lists: { id: number; owner: TestUser }[] = [];
    for (const owner of users.slice(0, 3)) {
      const list = await newList(app, owner);
      for (const user of users) if (user !== owner) await addMember(app, owner, list.id, user, pick(['viewer', 'editor', 'owner']));
      for (let i = 0; i < 5; i++) await createTask(app, owner, { list: list.id });
      lists.push({ ...list, owner });
    }
    const failures: string[] = [];
    for (let round = 0; round < 25; round++) {
      const tasks = await database.db.selectFrom('tasks').select(['id', 'list_id']).execute();
      const listIds = (await database.db.selectFrom('lists').select('id').execute()).map((row) => row.id);
      const requests = Array.from({ length: 10 }, () => {
        const actor = pick(users);
        const listId = listIds.length > 0 ? pick(listIds) : 1;
        const task = tasks.length > 0 ? pick(tasks) : { id: 1 };
        const roll = next();
        const other = pick(users);
        const call =
          roll < 0.15 ? ['POST', `/api/lists/${listId}/members/`, { username: other.username, role: pick(['viewer', 'editor', 'owner']) }]
          : roll < 0.25 ? ['DELETE', `/api/lists/${listId}/members/${other.id}/`]
          : roll < 0.35 ? ['PATCH', `/api/lists/${listId}/members/${other.id}/`, { role: pick(['viewer', 'editor', 'owner']) }]
          : roll < 0.5 ? ['PATCH', `/api/tasks/${task.id}/`, { list: next() < 0.2 ? null : listId, ...(next() < 0.5 ? { assignee: other.id } : {}) }]
          : roll < 0.62 ? ['PATCH', `/api/tasks/${task.id}/`, { assignee: other.id }]
          : roll < 0.72 ? ['POST', '/api/tasks/', { title: 'n', list: listId, assignee: other.id }]
          : roll < 0.8 ? ['DELETE', `/api/tasks/${task.id}/`]
          : roll < 0.86 ? ['DELETE', `/api/lists/${listId}/`]
          : roll < 0.93 ? ['POST', '/api/lists/', { name: 'again' }]
          : ['DELETE', '/api/user/', { current_password: actor.password }];
        const [method, url, payload] = call as ['GET' | 'POST' | 'PATCH' | 'DELETE', string, Record<string, unknown> | undefined];
        return { actor, method, url, payload };
      });
      const replies = await Promise.all(requests.map(({ actor, method, url, payload }) => app.inject({ method, url, headers: actor.auth, payload })));
      for (const [index, reply] of replies.entries()) {
        const { actor, method, url, payload } = requests[index]!;
        if (reply.statusCode >= 500) failures.push(`${method} ${url} ${JSON.stringify(payload)}: ${reply.statusCode}`);
        if (method === 'DELETE' && url === '/api/user/' && reply.statusCode === 204) {
          users[users.indexOf(actor)] = await createUser(app);
        }
      }
      // Lists of the deleted stay reachable by someone; new users join some.
      for (const user of users) {
        const mine = (await api(app, user).get('/api/lists/')).json() as { id: number }[];
        if (mine.length === 0) {
          const list = await newList(app, user);
          for (const other of users) if (other !== user && next() < 0.5) await api(app, user).post(`/api/lists/${list.id}/members/`, { username: other.username, role: pick(['viewer', 'editor', 'owner']) });
          await createTask(app, user, { list: list.id });
        }
      }
    }
    const invariants = await sql<{ problem: string; n: number }>`
      select 'list without owner' as problem, count(*) as n from lists l
        where not exists (select 1 from list_members m where m.list_id = l.id and m.role = 'owner')
      union all
      select 'assignee not a member', count(*) from tasks t
        where t.assignee_id is not null and not exists (select 1 from list_members m where m.list_id = t.list_id and m.user_id = t.assignee_id)
      union all
      select 'assigned personal task', count(*) from tasks t where t.list_id is null and t.assignee_id is not null
      union all
      select 'task of a missing list', count(*) from tasks t where t.list_id is not null and not exists (select 1 from lists l where l.id = t.list_id)
      union all
      select 'member of a missing list or user', count(*) from list_members m
        where not exists (select 1 from lists l where l.id = m.list_id) or not exists (select 1 from users u where u.id = m.user_id)
      union all
      select 'task of a missing owner', count(*) from tasks t where not exists (select 1 from users u where u.id = t.owner_id)
      union all
      select 'user in more than 100 lists', count(*) from (select user_id from list_members group by user_id having count(*) > 100) x
    `.execute(database.db);
    const broken = invariants.rows.filter((row) => Number(row.n) > 0);
    assert.deepEqual({ failures, broken }, { failures: [], broken: [] });
  });
});
