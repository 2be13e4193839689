import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { dialectName, storedTasks } from '../helpers.js';
import { get, queryFixture, reset, seed } from './support.js';

const fixture = queryFixture();

const PRECONDITION_FAILED = 412;

describe(`[${dialectName}] entity tags and conditional requests`, () => {
  let id: number;
  let bobsId: number;

  beforeEach(async () => {
    const f = fixture();
    await reset(f);
    [id] = await seed(f.database, f.alice, [{ title: 'Mine', updated_at: '2024-01-01T00:00:00.000000Z' }, { title: 'Second' }]) as [number];
    [bobsId] = await seed(f.database, f.bob, [{ title: 'Bob\'s' }]) as [number];
  });

  const tagOf = async (url: string) => {
    const response = await get(fixture().app, fixture().alice, url);
    assert.equal(response.statusCode, 200);
    const tag = response.headers.etag;
    assert.equal(typeof tag, 'string');
    return tag as string;
  };
  const send = (method: 'PUT' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string>, payload?: unknown) =>
    fixture().app.inject({ method, url, headers: { ...fixture().alice.auth, ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });
  const deletedIds = async () =>
    (await fixture().database.db.selectFrom('deleted_tasks').select('task_id').execute()).map((row) => Number(row.task_id));

  test('when a task is read, then the reply carries a strong entity tag that stays the same until it changes', async () => {
    const tag = await tagOf(`/api/tasks/${id}/`);
    assert.match(tag, /^"[^"]+"$/);
    assert.equal(await tagOf(`/api/tasks/${id}/`), tag);
    const patched = await send('PATCH', `/api/tasks/${id}/`, {}, { title: 'Changed' });
    assert.equal(patched.statusCode, 200);
    assert.notEqual(await tagOf(`/api/tasks/${id}/`), tag);
  });

  test('when If-None-Match names the current tag, then the reply is a 304 with no body', async () => {
    const tag = await tagOf(`/api/tasks/${id}/`);
    for (const condition of [tag, `W/${tag}`, `"other", ${tag}`, '*']) {
      const response = await get(fixture().app, fixture().alice, `/api/tasks/${id}/`, { 'if-none-match': condition });
      assert.equal(response.statusCode, 304, condition);
      assert.equal(response.body, '', condition);
      assert.equal(response.headers.etag, tag, condition);
    }
  });

  test('when If-None-Match names an older tag, then the task comes back in full', async () => {
    const tag = await tagOf(`/api/tasks/${id}/`);
    await send('PATCH', `/api/tasks/${id}/`, {}, { completed: true });
    const response = await get(fixture().app, fixture().alice, `/api/tasks/${id}/`, { 'if-none-match': tag });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().completed, true);
    assert.notEqual(response.headers.etag, tag);
  });

  test('when the list is read, then it carries a tag, a 304 answers a matching If-None-Match, and any change gives a new tag', async () => {
    const { app, alice } = fixture();
    for (const url of ['/api/tasks/', '/api/tasks/?completed=false&ordering=-id', '/api/tasks/?page_size=1', '/api/tasks/?limit=1&offset=1', '/api/tasks/?cursor=']) {
      const tag = await tagOf(url);
      const unchanged = await get(app, alice, url, { 'if-none-match': tag });
      assert.equal(unchanged.statusCode, 304, url);
      assert.equal(unchanged.body, '', url);
      const created = await app.inject({ method: 'POST', url: '/api/tasks/', headers: alice.auth, payload: { title: `New for ${url}` } });
      assert.equal(created.statusCode, 201);
      const changed = await get(app, alice, url, { 'if-none-match': tag });
      assert.equal(changed.statusCode, 200, url);
      assert.notEqual(changed.headers.etag, tag, url);
    }
  });

  test('when a task in the list is edited, then the list tag changes', async () => {
    const tag = await tagOf('/api/tasks/');
    await send('PATCH', `/api/tasks/${id}/`, {}, { description: 'more' });
    assert.notEqual(await tagOf('/api/tasks/'), tag);
  });

  test('when If-Match names the current tag, then PATCH succeeds and its reply carries the new tag', async () => {
    const tag = await tagOf(`/api/tasks/${id}/`);
    const response = await send('PATCH', `/api/tasks/${id}/`, { 'if-match': tag }, { title: 'Updated' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().title, 'Updated');
    const newTag = response.headers.etag;
    assert.equal(typeof newTag, 'string');
    assert.notEqual(newTag, tag);
    assert.equal(await tagOf(`/api/tasks/${id}/`), newTag);
  });

  test('when If-Match names the current tag, then PUT succeeds and its reply carries the new tag', async () => {
    const tag = await tagOf(`/api/tasks/${id}/`);
    const response = await send('PUT', `/api/tasks/${id}/`, { 'if-match': tag }, { title: 'Replaced', due_date: '2026-06-01' });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().due_date, '2026-06-01');
    assert.notEqual(response.headers.etag, tag);
    assert.equal(await tagOf(`/api/tasks/${id}/`), response.headers.etag);
  });

  test('when a tag from the write reply is used for the next write, then that write succeeds too', async () => {
    const first = await send('PATCH', `/api/tasks/${id}/`, { 'if-match': await tagOf(`/api/tasks/${id}/`) }, { title: 'One' });
    const second = await send('PATCH', `/api/tasks/${id}/`, { 'if-match': first.headers.etag as string }, { title: 'Two' });
    assert.equal(second.statusCode, 200);
    assert.equal(second.json().title, 'Two');
  });

  test('when two clients edit from the same version, then the second gets 412 and the first edit stays', async () => {
    const { database } = fixture();
    const tag = await tagOf(`/api/tasks/${id}/`);
    const first = await send('PATCH', `/api/tasks/${id}/`, { 'if-match': tag }, { title: 'First wins' });
    assert.equal(first.statusCode, 200);
    const rowsAfterFirst = await storedTasks(database);
    for (const [method, payload] of [['PATCH', { title: 'Second loses' }], ['PUT', { title: 'Second loses', completed: true }]] as const) {
      const second = await send(method, `/api/tasks/${id}/`, { 'if-match': tag }, payload);
      assert.equal(second.statusCode, PRECONDITION_FAILED, method);
      const body = second.json() as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), ['detail'], method);
      assert.equal(typeof body.detail, 'string');
    }
    assert.deepEqual(await storedTasks(database), rowsAfterFirst);
    assert.equal((await get(fixture().app, fixture().alice, `/api/tasks/${id}/`)).json().title, 'First wins');
  });

  test('when the task changed in the database after it was read, then a write with the old tag is refused', async () => {
    const { database } = fixture();
    const tag = await tagOf(`/api/tasks/${id}/`);
    await database.db.updateTable('tasks').set({ title: 'Changed elsewhere', updated_at: '2025-01-01T00:00:00.000000Z' }).where('id', '=', id).execute();
    const rows = await storedTasks(database);
    const response = await send('PATCH', `/api/tasks/${id}/`, { 'if-match': tag }, { title: 'Overwrite' });
    assert.equal(response.statusCode, PRECONDITION_FAILED);
    assert.equal(typeof response.json().detail, 'string');
    assert.deepEqual(await storedTasks(database), rows);
  });

  test('when DELETE carries an old tag, then it is a 412, the task stays and no deletion is recorded', async () => {
    const { database } = fixture();
    const tag = await tagOf(`/api/tasks/${id}/`);
    await send('PATCH', `/api/tasks/${id}/`, {}, { title: 'Edited meanwhile' });
    const rows = await storedTasks(database);
    const response = await send('DELETE', `/api/tasks/${id}/`, { 'if-match': tag });
    assert.equal(response.statusCode, PRECONDITION_FAILED);
    assert.equal(typeof response.json().detail, 'string');
    assert.deepEqual(await storedTasks(database), rows);
    assert.deepEqual(await deletedIds(), []);
  });

  test('when DELETE carries the current tag, then the task is deleted', async () => {
    const response = await send('DELETE', `/api/tasks/${id}/`, { 'if-match': await tagOf(`/api/tasks/${id}/`) });
    assert.equal(response.statusCode, 204);
    assert.equal(response.body, '');
    assert.equal((await get(fixture().app, fixture().alice, `/api/tasks/${id}/`)).statusCode, 404);
    assert.deepEqual(await deletedIds(), [id]);
  });

  test('when If-Match is *, then the write goes ahead', async () => {
    const patched = await send('PATCH', `/api/tasks/${id}/`, { 'if-match': '*' }, { title: 'Star' });
    assert.equal(patched.statusCode, 200);
    assert.equal(patched.json().title, 'Star');
    const deleted = await send('DELETE', `/api/tasks/${id}/`, { 'if-match': '*' });
    assert.equal(deleted.statusCode, 204);
  });

  test('when If-Match lists several tags including the current one, then the write goes ahead', async () => {
    const tag = await tagOf(`/api/tasks/${id}/`);
    const response = await send('PATCH', `/api/tasks/${id}/`, { 'if-match': `"stale", ${tag}` }, { title: 'Listed' });
    assert.equal(response.statusCode, 200);
  });

  test('when If-Match carries the current tag marked weak, then it never matches and nothing changes', async () => {
    const { database } = fixture();
    const tag = await tagOf(`/api/tasks/${id}/`);
    const rows = await storedTasks(database);
    for (const method of ['PATCH', 'PUT', 'DELETE'] as const) {
      const response = await send(method, `/api/tasks/${id}/`, { 'if-match': `W/${tag}` }, method === 'DELETE' ? undefined : { title: 'Weak' });
      assert.equal(response.statusCode, PRECONDITION_FAILED, method);
    }
    assert.deepEqual(await storedTasks(database), rows);
    assert.deepEqual(await deletedIds(), []);
  });

  test('when If-Match is sent for another user\'s task, then it is a 404 and nothing changes', async () => {
    const { app, bob, database } = fixture();
    const bobsTag = (await get(app, bob, `/api/tasks/${bobsId}/`)).headers.etag as string;
    const rows = await storedTasks(database);
    for (const condition of [bobsTag, '*', '"stale"']) {
      for (const method of ['PATCH', 'PUT', 'DELETE'] as const) {
        const response = await send(method, `/api/tasks/${bobsId}/`, { 'if-match': condition }, method === 'DELETE' ? undefined : { title: 'Hijack' });
        assert.equal(response.statusCode, 404, `${method} ${condition}`);
        assert.deepEqual(response.json(), { detail: 'Not found.' });
      }
    }
    const peek = await get(app, fixture().alice, `/api/tasks/${bobsId}/`, { 'if-none-match': bobsTag });
    assert.equal(peek.statusCode, 404);
    assert.deepEqual(await storedTasks(database), rows);
  });

  test('when If-Match is current but the body is invalid, then it is a 400 and nothing changes', async () => {
    const { database } = fixture();
    const rows = await storedTasks(database);
    const response = await send('PATCH', `/api/tasks/${id}/`, { 'if-match': await tagOf(`/api/tasks/${id}/`) }, { title: '' });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { title: ['This field may not be blank.'] });
    assert.deepEqual(await storedTasks(database), rows);
  });

  test('when no If-Match is sent, then writes go ahead unconditionally', async () => {
    const response = await send('PATCH', `/api/tasks/${id}/`, {}, { title: 'No condition' });
    assert.equal(response.statusCode, 200);
    assert.equal(typeof response.headers.etag, 'string');
  });
});
