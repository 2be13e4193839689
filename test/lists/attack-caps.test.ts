import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTestApp, createUser, dialectName, uniqueUsername } from '../helpers.js';
import { insertUser } from '../accounts/support.js';
import { api, newList } from './attack-support.js';

describe(`[${dialectName}] attack: the caps of 100 under parallel requests`, () => {
  test('when a user at 99 lists creates lists and is added to lists at the same moment, then they end in 100', async (t) => {
    const { app, database } = await buildTestApp(t);
    const [user, other] = await Promise.all([createUser(app), createUser(app)]);
    for (let i = 0; i < 99; i++) await newList(app, user, `l${i}`);
    const others = [];
    for (let i = 0; i < 6; i++) others.push(await newList(app, other, `o${i}`));
    const replies = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => api(app, user).post('/api/lists/', { name: `extra${i}` })),
      ...others.map((list) => api(app, other).post(`/api/lists/${list.id}/members/`, { username: user.username })),
    ]);
    assert.ok(replies.every((reply) => [201, 400].includes(reply.statusCode)), replies.map((r) => r.statusCode).join(','));
    const count = await database.db.selectFrom('list_members').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', user.id).executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 100);
  });

  test('when a list at 99 members gets eight members at the same moment, then it ends with 100', async (t) => {
    const { app, database } = await buildTestApp(t);
    const owner = await createUser(app);
    const list = await newList(app, owner);
    for (let i = 0; i < 98; i++) {
      const username = uniqueUsername('m');
      await insertUser(database, { username, password: 'x' });
      assert.equal((await api(app, owner).post(`/api/lists/${list.id}/members/`, { username })).statusCode, 201);
    }
    const names = [];
    for (let i = 0; i < 8; i++) {
      const username = uniqueUsername('late');
      await insertUser(database, { username, password: 'x' });
      names.push(username);
    }
    const replies = await Promise.all(names.map((username) => api(app, owner).post(`/api/lists/${list.id}/members/`, { username })));
    assert.deepEqual(replies.map((r) => r.statusCode).sort(), [201, 400, 400, 400, 400, 400, 400, 400]);
    assert.equal((await api(app, owner).get(`/api/lists/${list.id}/`)).json().member_count, 100);
  });
});
