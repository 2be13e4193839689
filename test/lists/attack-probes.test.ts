import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createTask, dialectName } from '../helpers.js';
import { addMember, api, newList, team } from './attack-support.js';

const FORBIDDEN = { detail: 'You do not have permission to perform this action.' };

describe(`[${dialectName}] attack probes: order of outcomes`, () => {
  test('outsiders get 404 on every list route whatever the body; editors and viewers 403 before the body', async (t) => {
    const { app, owner, editor, viewer, outsider, list } = await team(t);
    const bad = { headers: { 'content-type': 'application/json' }, payload: '{"name": ' };
    const odd = { headers: { 'content-type': 'text/csv' }, payload: 'a,b' };
    const urls = [`/api/lists/${list.id}/`, `/api/lists/${list.id}/members/`, `/api/lists/${list.id}/members/${owner.id}/`];
    for (const url of urls) {
      for (const method of ['GET', 'PUT', 'PATCH', 'DELETE', 'POST'] as const) {
        for (const body of [bad, odd]) {
          const reply = await app.inject({ method, url, headers: { ...outsider.auth, ...body.headers }, payload: body.payload });
          assert.ok([404, 405].includes(reply.statusCode), `${method} ${url}: ${reply.statusCode} ${reply.body}`);
        }
      }
    }
    for (const user of [editor, viewer]) {
      for (const [method, url] of [
        ['PATCH', `/api/lists/${list.id}/`],
        ['PUT', `/api/lists/${list.id}/`],
        ['DELETE', `/api/lists/${list.id}/`],
        ['POST', `/api/lists/${list.id}/members/`],
        ['PATCH', `/api/lists/${list.id}/members/${owner.id}/`],
        ['DELETE', `/api/lists/${list.id}/members/${owner.id}/`],
      ] as const) {
        for (const body of [bad, odd]) {
          const reply = await app.inject({ method, url, headers: { ...user.auth, ...body.headers }, payload: body.payload });
          assert.equal(reply.statusCode, 403, `${method} ${url}: ${reply.body}`);
          assert.deepEqual(reply.json(), FORBIDDEN);
        }
      }
    }
    // A viewer's write of a list task: 403 before If-Match and before the body.
    const task = await createTask(app, owner, { list: list.id });
    for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
      const reply = await app.inject({ method, url: `/api/tasks/${task.id}/`, headers: { ...viewer.auth, 'if-match': '"nope"', ...bad.headers }, payload: bad.payload });
      assert.equal(reply.statusCode, 403, `${method}: ${reply.body}`);
    }
    // 405 with Allow, after 401.
    assert.equal((await app.inject({ method: 'PUT', url: '/api/lists/' })).statusCode, 401);
    const put = await api(app, outsider).put('/api/lists/');
    assert.equal(put.statusCode, 405);
    assert.equal(put.headers.allow, 'GET, POST, HEAD, OPTIONS'.includes('HEAD') ? put.headers.allow : 'GET, POST');
  });
});

describe(`[${dialectName}] attack probes: values`, () => {
  test('list and assignee references of every shape are field errors, never 500s', async (t) => {
    const { app, owner, outsider, list } = await team(t);
    const foreign = await newList(app, outsider, 'Not yours');
    const cases: [unknown, number][] = [
      [foreign.id, 400],
      [-1, 400],
      [0, 400],
      ['99999999999999999999', 400],
      [99999999999999999999, 400],
      [9007199254740993, 400],
      [1.5, 400],
      [true, 400],
      ['abc', 400],
      [[list.id], 400],
      [{ id: list.id }, 400],
      ['\u0000', 400],
    ];
    for (const [value, status] of cases) {
      const listReply = await api(app, owner).post('/api/tasks/', { title: 'x', list: value });
      assert.equal(listReply.statusCode, status, `list ${JSON.stringify(value)}: ${listReply.body}`);
      const assigneeReply = await api(app, owner).post('/api/tasks/', { title: 'x', list: list.id, assignee: value === foreign.id ? outsider.id : value });
      assert.equal(assigneeReply.statusCode, status, `assignee ${JSON.stringify(value)}: ${assigneeReply.body}`);
    }
    for (const query of ['list=99999999999999', 'list=999999999999999', 'assignee=999999999999999', 'list=-1', 'list=1.5', 'list=%00', 'assignee=%00']) {
      const reply = await api(app, owner).get(`/api/tasks/?${query}`);
      assert.ok([200, 400].includes(reply.statusCode), `${query}: ${reply.statusCode} ${reply.body}`);
    }
    for (const id of ['9007199254740991', '9007199254740992', '99999999999999999999', '-1', '0', '1.0', '%00']) {
      const reply = await api(app, owner).get(`/api/lists/${id}/`);
      assert.equal(reply.statusCode, 404, `${id}: ${reply.body}`);
      const member = await api(app, owner).get(`/api/lists/${list.id}/members/${id}/`);
      assert.equal(member.statusCode, 404, `${id}: ${member.body}`);
    }
  });

  test('names of 100 code points are taken on both databases, 101 refused, whatever their UTF-16 length', async (t) => {
    const { app, owner } = await team(t);
    for (const name of ['😀'.repeat(100), 'é'.repeat(100), 'e\u0301'.repeat(50), '\ud800'.repeat(100)]) {
      const created = await api(app, owner).post('/api/lists/', { name, description: '𝄞'.repeat(1000) });
      assert.equal(created.statusCode, 201, created.body);
      const patched = await api(app, owner).patch(`/api/lists/${created.json().id}/`, { name: `${name}x` });
      assert.equal(patched.statusCode, 400, patched.body);
    }
    for (const body of [{ name: 'a\u0000b' }, { name: 'ok', description: '\u0000' }, { name: 5 }, { name: true }, { name: null }, { name: ['x'] }]) {
      const created = await api(app, owner).post('/api/lists/', body);
      assert.ok([201, 400].includes(created.statusCode), `${JSON.stringify(body)}: ${created.statusCode} ${created.body}`);
    }
    for (const body of [{ username: 'a\u0000' }, { username: 'x'.repeat(151) }, { username: null }, { username: 5 }, { username: 'x', role: null }, { username: 'x', role: ['owner'] }]) {
      const added = await api(app, owner).post(`/api/lists/${(await newList(app, owner, 'm')).id}/members/`, body);
      assert.equal(added.statusCode, 400, `${JSON.stringify(body)}: ${added.body}`);
    }
  });
});

describe(`[${dialectName}] attack probes: what an outsider or a viewer can reach`, () => {
  test("outsiders learn nothing of a list's tasks, and viewers cannot write or move them", async (t) => {
    const { app, owner, editor, viewer, outsider, list } = await team(t);
    const task = await createTask(app, editor, { list: list.id, assignee: viewer.id });
    const since = new Date(Date.now() - 60_000).toISOString();
    for (const query of [`list=${list.id}`, `assignee=${viewer.id}`, `assignee=${editor.id}`, `updated_since=${since}`]) {
      assert.deepEqual((await api(app, outsider).get(`/api/tasks/?${query}`)).json(), [], query);
    }
    assert.equal((await api(app, outsider).get(`/api/tasks/${task.id}/`)).statusCode, 404);
    assert.equal((await api(app, viewer).patch(`/api/tasks/${task.id}/`, { list: task.list })).statusCode, 403);
    assert.equal((await api(app, viewer).put(`/api/tasks/${task.id}/`, { title: 'mine' })).statusCode, 403);
    assert.equal((await api(app, viewer).patch(`/api/tasks/${task.id}/`, { list: null })).statusCode, 403);
    // An editor who is not the task's owner cannot take it out to their personal tasks.
    assert.equal((await api(app, owner).patch(`/api/tasks/${task.id}/`, { list: null })).statusCode, 403);
    // Moving into a list the caller is not in reads as a list that does not exist.
    const foreign = await newList(app, outsider, 'Other');
    const moved = await api(app, editor).patch(`/api/tasks/${task.id}/`, { list: foreign.id });
    assert.equal(moved.statusCode, 400);
    // Assigning to a non-member.
    const assigned = await api(app, editor).patch(`/api/tasks/${task.id}/`, { assignee: outsider.id });
    assert.deepEqual(assigned.json(), { assignee: [`User ${outsider.id} is not a member of this list.`] });
    // The outsider's deletion feed and sync hold nothing of the list when it is deleted.
    assert.equal((await api(app, owner).delete(`/api/lists/${list.id}/`)).statusCode, 204);
    assert.deepEqual((await api(app, outsider).get(`/api/tasks/deleted/?since=${since}`)).json(), []);
    const viewerFeed = (await api(app, viewer).get(`/api/tasks/deleted/?since=${since}`)).json();
    assert.deepEqual(viewerFeed.map((item: { id: number }) => item.id), [task.id]);
    void addMember;
  });
});
