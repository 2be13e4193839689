import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/database.js';
import { createUser, dialectName, formBody, login, sharedFixture, type TestUser } from '../helpers.js';

/**
 * Every role walked through every action on a shared list, its members and its tasks, one row
 * per (role, action). The outcome order is the spec's: 401 → 404 (not visible) → 403 (role too
 * low) → 412 (If-Match) → 400 (body); so a viewer's invalid body is a 403 and a non-member's is a
 * 404. After every refusal the tables that hold lists and tasks are exactly as before.
 */

const FORBIDDEN = { detail: 'You do not have permission to perform this action.' };
const NOT_FOUND = { detail: 'Not found.' };
const NOT_PROVIDED = { detail: 'Authentication credentials were not provided.' };
const INVALID_TOKEN = { detail: 'Invalid token.' };
const KEEP_AN_OWNER = 'A list must keep at least one owner.';
const invalidPk = (id: number) => ({ list: [`Invalid pk "${id}" - object does not exist.`] });

type MemberRole = 'owner' | 'editor' | 'viewer' | 'outsider';
type Credential = 'anonymous' | 'forged' | 'revoked';
type Role = MemberRole | Credential;

interface People {
  owner: TestUser;
  editor: TestUser;
  viewer: TestUser;
  outsider: TestUser;
  /** A second viewer of the list: the one whose role is changed and who is removed. */
  member: TestUser;
  /** Owns the other lists; never in the main one. */
  stranger: TestUser;
  /** Not in the main list: the one an owner adds. */
  newcomer: TestUser;
}

/** What a row works on; built anew once a successful write may have used it up. */
interface Scene {
  list: number;
  /** A list in which the actor is a viewer. */
  viewerList: number;
  /** A list the actor is not in. */
  foreignList: number;
  /** A task of the list created by a member other than the actor. */
  shared: number;
  /** A task of the list created by the actor (the outsider created it before being removed). */
  mine: number;
  /** The actor's own personal task. */
  personal: number;
  /** A tag the shared task had before it was edited. */
  staleTag: string;
}

type Payload = Record<string, unknown>;
type Send = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: Payload, headers?: Record<string, string>) => Promise<LightMyRequestResponse>;

function api(app: FastifyInstance, auth: Record<string, string>) {
  const send: Send = (method, url, payload, headers = {}) =>
    app.inject({ method, url, headers: { ...auth, ...headers }, ...(payload === undefined ? {} : { payload }) });
  return {
    send,
    get: (url: string, headers?: Record<string, string>) => send('GET', url, undefined, headers),
    post: (url: string, payload: Payload) => send('POST', url, payload),
    put: (url: string, payload: Payload, headers?: Record<string, string>) => send('PUT', url, payload, headers),
    patch: (url: string, payload: Payload, headers?: Record<string, string>) => send('PATCH', url, payload, headers),
    delete: (url: string, headers?: Record<string, string>) => send('DELETE', url, undefined, headers),
    /** A form-encoded request, as a browser form sends it. */
    form: (method: 'PUT' | 'PATCH', url: string, fields: Record<string, string>) => {
      const { headers, payload } = formBody(fields);
      return app.inject({ method, url, headers: { ...auth, ...headers }, payload });
    },
  };
}
type Api = ReturnType<typeof api>;

interface Context {
  api: Api;
  s: Scene;
  p: People;
  actor: TestUser;
}

interface Expected {
  status: number;
  /** The exact body; 401, 403 and 404 get theirs without saying. */
  body?: (c: Context) => unknown;
  check?: (reply: any, c: Context) => void;
}

const allow = (status: number, check?: Expected['check']): Expected => ({ status, check });
const invalid = (body?: Expected['body']): Expected => ({ status: 400, body });
const forbidden: Expected = { status: 403 };
const notFound: Expected = { status: 404 };
const stale: Expected = { status: 412, check: (reply) => assert.deepEqual(Object.keys(reply), ['detail']) };

interface Row {
  action: string;
  request: (c: Context) => Promise<LightMyRequestResponse>;
  expect: Record<MemberRole, Expected>;
  /** A read: even when allowed it leaves the scene as it was. */
  reads?: true;
}

const task = (id: number) => `/api/tasks/${id}/`;
const list = (id: number) => `/api/lists/${id}/`;
const members = (id: number) => `/api/lists/${id}/members/`;
const member = (id: number, userId: number) => `/api/lists/${id}/members/${userId}/`;

/** What the three roles inside the list get for a task write only editors may make. */
const editorsWrite = (ok: Expected): Record<MemberRole, Expected> => ({ owner: ok, editor: ok, viewer: forbidden, outsider: notFound });
/** What they get for a change to the list or its members only an owner may make. */
const ownersWrite = (ok: Expected): Record<MemberRole, Expected> => ({ owner: ok, editor: forbidden, viewer: forbidden, outsider: notFound });
const membersRead = (ok: Expected): Record<MemberRole, Expected> => ({ owner: ok, editor: ok, viewer: ok, outsider: notFound });

const ROWS: Row[] = [
  // Tasks of the list.
  {
    action: 'reads a task of the list',
    reads: true,
    request: ({ api, s }) => api.get(task(s.shared)),
    expect: membersRead(allow(200, (reply, { s }) => assert.deepEqual([reply.id, reply.list], [s.shared, s.list]))),
  },
  {
    action: 'reads a task of the list they created',
    reads: true,
    request: ({ api, s }) => api.get(task(s.mine)),
    expect: membersRead(allow(200, (reply, { s, actor }) => assert.deepEqual([reply.id, reply.owner], [s.mine, actor.id]))),
  },
  {
    action: "lists the list's tasks",
    reads: true,
    request: ({ api, s }) => api.get(`/api/tasks/?list=${s.list}`),
    expect: {
      ...membersRead(allow(200, (reply, { s }) => {
        assert.ok(Array.isArray(reply));
        assert.ok(reply.some((t: { id: number }) => t.id === s.shared), 'the shared task is listed');
        assert.ok(reply.every((t: { list: number }) => t.list === s.list));
      })),
      outsider: allow(200, (reply) => assert.deepEqual(reply, [])),
    },
  },
  {
    action: 'creates a task in the list',
    request: ({ api, s }) => api.post('/api/tasks/', { title: 'Created in the list', list: s.list }),
    expect: {
      ...editorsWrite(allow(201, (reply, { s, actor }) => assert.deepEqual([reply.list, reply.owner, reply.assignee], [s.list, actor.id, null]))),
      outsider: invalid(({ s }) => invalidPk(s.list)),
    },
  },
  {
    action: 'creates a task in the list with a blank title',
    request: ({ api, s }) => api.post('/api/tasks/', { title: '', list: s.list }),
    expect: {
      ...editorsWrite(invalid(() => ({ title: ['This field may not be blank.'] }))),
      // Both the list and the title are wrong: which errors are named is not this test's point.
      outsider: invalid(),
    },
  },
  {
    action: 'replaces a task of the list (PUT)',
    request: ({ api, s }) => api.put(task(s.shared), { title: 'Replaced', description: 'New text', completed: false }),
    expect: editorsWrite(allow(200, (reply, { s }) => assert.deepEqual([reply.title, reply.description, reply.list], ['Replaced', 'New text', s.list]))),
  },
  {
    action: 'replaces a task of the list without a title (PUT)',
    request: ({ api, s }) => api.put(task(s.shared), { description: 'No title' }),
    expect: editorsWrite(invalid(() => ({ title: ['This field is required.'] }))),
  },
  {
    action: 'renames a task of the list (PATCH title)',
    request: ({ api, s }) => api.patch(task(s.shared), { title: 'Renamed' }),
    expect: editorsWrite(allow(200, (reply, { s }) => assert.deepEqual([reply.title, reply.list], ['Renamed', s.list]))),
  },
  {
    action: 'renames a task of the list with a form body',
    request: ({ api, s }) => api.form('PATCH', task(s.shared), { title: 'From a form' }),
    expect: editorsWrite(allow(200, (reply) => assert.equal(reply.title, 'From a form'))),
  },
  {
    action: 'gives a task of the list a blank title',
    request: ({ api, s }) => api.patch(task(s.shared), { title: '' }),
    expect: editorsWrite(invalid(() => ({ title: ['This field may not be blank.'] }))),
  },
  {
    action: 'moves a task of the list to the list "x"',
    request: ({ api, s }) => api.patch(task(s.shared), { list: 'x' }),
    expect: editorsWrite(invalid(() => ({ list: ['Incorrect type. Expected pk value, received str.'] }))),
  },
  {
    action: 'completes a task of the list',
    request: ({ api, s }) => api.patch(task(s.shared), { completed: true }),
    expect: editorsWrite(allow(200, (reply) => assert.equal(reply.completed, true))),
  },
  {
    action: 'deletes a task of the list',
    request: ({ api, s }) => api.delete(task(s.shared)),
    expect: editorsWrite(allow(204)),
  },
  {
    action: 'moves their personal task into the list',
    request: ({ api, s }) => api.patch(task(s.personal), { list: s.list }),
    expect: {
      ...editorsWrite(allow(200, (reply, { s, actor }) => assert.deepEqual([reply.list, reply.owner], [s.list, actor.id]))),
      // The task is theirs and visible; only the list named in the body is not.
      outsider: invalid(({ s }) => invalidPk(s.list)),
    },
  },
  {
    action: "moves another member's task of the list out to personal",
    request: ({ api, s }) => api.patch(task(s.shared), { list: null }),
    expect: editorsWrite(forbidden),
  },
  {
    action: 'moves a task of the list they created out to personal',
    request: ({ api, s }) => api.patch(task(s.mine), { list: null }),
    expect: editorsWrite(allow(200, (reply, { actor }) => assert.deepEqual([reply.list, reply.owner, reply.assignee], [null, actor.id, null]))),
  },
  {
    action: 'moves a task of the list to a list in which they are a viewer',
    request: ({ api, s }) => api.patch(task(s.shared), { list: s.viewerList }),
    expect: editorsWrite(forbidden),
  },
  {
    action: 'moves a task of the list to a list they are not in',
    request: ({ api, s }) => api.patch(task(s.shared), { list: s.foreignList }),
    expect: editorsWrite(invalid(({ s }) => invalidPk(s.foreignList))),
  },
  {
    action: 'moves a task of the list to a list that does not exist',
    request: ({ api, s }) => api.patch(task(s.shared), { list: 999_999 }),
    expect: editorsWrite(invalid(() => invalidPk(999_999))),
  },
  {
    action: 'assigns a task of the list to a member',
    request: ({ api, s, p }) => api.patch(task(s.shared), { assignee: p.member.id }),
    expect: editorsWrite(allow(200, (reply, { p }) => assert.equal(reply.assignee, p.member.id))),
  },
  {
    action: 'assigns a task of the list to a user who is not a member',
    request: ({ api, s, p }) => api.patch(task(s.shared), { assignee: p.stranger.id }),
    expect: editorsWrite(invalid(({ p }) => ({ assignee: [`User ${p.stranger.id} is not a member of this list.`] }))),
  },
  {
    action: 'edits a task of the list with a stale If-Match',
    request: ({ api, s }) => api.patch(task(s.shared), { title: 'Overwrite' }, { 'if-match': s.staleTag }),
    expect: editorsWrite(stale),
  },
  {
    action: 'deletes a task of the list with a stale If-Match',
    request: ({ api, s }) => api.delete(task(s.shared), { 'if-match': s.staleTag }),
    expect: editorsWrite(stale),
  },

  // The list itself.
  {
    action: 'reads the list',
    reads: true,
    request: ({ api, s }) => api.get(list(s.list)),
    expect: {
      owner: allow(200, (reply, { s }) => assert.deepEqual([reply.id, reply.role, reply.member_count], [s.list, 'owner', 4])),
      editor: allow(200, (reply) => assert.equal(reply.role, 'editor')),
      viewer: allow(200, (reply) => assert.equal(reply.role, 'viewer')),
      outsider: notFound,
    },
  },
  {
    action: 'renames the list (PATCH)',
    request: ({ api, s }) => api.patch(list(s.list), { name: 'Renamed list' }),
    expect: ownersWrite(allow(200, (reply) => assert.deepEqual([reply.name, reply.role], ['Renamed list', 'owner']))),
  },
  {
    action: 'renames the list to a blank name',
    request: ({ api, s }) => api.patch(list(s.list), { name: '' }),
    expect: ownersWrite(invalid(() => ({ name: ['This field may not be blank.'] }))),
  },
  {
    action: 'replaces the list (PUT)',
    request: ({ api, s }) => api.put(list(s.list), { name: 'Replaced list', description: 'Described' }),
    expect: ownersWrite(allow(200, (reply) => assert.deepEqual([reply.name, reply.description], ['Replaced list', 'Described']))),
  },
  {
    action: 'replaces the list without a name (PUT)',
    request: ({ api, s }) => api.put(list(s.list), { description: 'No name' }),
    expect: ownersWrite(invalid(() => ({ name: ['This field is required.'] }))),
  },
  {
    action: 'deletes the list',
    request: ({ api, s }) => api.delete(list(s.list)),
    expect: ownersWrite(allow(204)),
  },

  // Its members.
  {
    action: 'lists the members',
    reads: true,
    request: ({ api, s }) => api.get(members(s.list)),
    expect: membersRead(allow(200, (reply, { p, actor }) => {
      const ids = reply.map((m: { user_id: number }) => m.user_id);
      assert.deepEqual([...ids].sort((a, b) => a - b), [p.owner.id, p.editor.id, p.viewer.id, p.member.id].sort((a, b) => a - b));
      assert.ok(ids.includes(actor.id));
    })),
  },
  {
    action: 'reads the owner as a member',
    reads: true,
    request: ({ api, s, p }) => api.get(member(s.list, p.owner.id)),
    expect: membersRead(allow(200, (reply, { p }) => assert.deepEqual([reply.user_id, reply.username, reply.role], [p.owner.id, p.owner.username, 'owner']))),
  },
  {
    action: 'reads a user who is not a member as a member',
    reads: true,
    request: ({ api, s, p }) => api.get(member(s.list, p.stranger.id)),
    expect: { owner: notFound, editor: notFound, viewer: notFound, outsider: notFound },
  },
  {
    action: 'adds a member',
    request: ({ api, s, p }) => api.post(members(s.list), { username: p.newcomer.username, role: 'editor' }),
    expect: ownersWrite(allow(201, (reply, { p }) => assert.deepEqual([reply.user_id, reply.role], [p.newcomer.id, 'editor']))),
  },
  {
    action: 'adds a member without a username',
    request: ({ api, s }) => api.post(members(s.list), {}),
    expect: ownersWrite(invalid(() => ({ username: ['This field is required.'] }))),
  },
  {
    action: "changes another member's role",
    request: ({ api, s, p }) => api.patch(member(s.list, p.member.id), { role: 'editor' }),
    expect: ownersWrite(allow(200, (reply, { p }) => assert.deepEqual([reply.user_id, reply.role], [p.member.id, 'editor']))),
  },
  {
    action: "changes another member's role to one that does not exist",
    request: ({ api, s, p }) => api.patch(member(s.list, p.member.id), { role: 'boss' }),
    expect: ownersWrite(invalid(() => ({ role: ['"boss" is not a valid choice.'] }))),
  },
  {
    action: 'demotes the only owner',
    request: ({ api, s, p }) => api.patch(member(s.list, p.owner.id), { role: 'editor' }),
    expect: ownersWrite(invalid(() => ({ role: [KEEP_AN_OWNER] }))),
  },
  {
    action: 'removes another member',
    request: ({ api, s, p }) => api.delete(member(s.list, p.member.id)),
    expect: ownersWrite(allow(204)),
  },
  {
    action: 'removes the only owner',
    request: ({ api, s, p }) => api.delete(member(s.list, p.owner.id)),
    // For the owner this is leaving.
    expect: ownersWrite(invalid(() => ({ detail: KEEP_AN_OWNER }))),
  },
  {
    action: 'leaves the list',
    request: ({ api, s, actor }) => api.delete(member(s.list, actor.id)),
    expect: {
      // The owner is the list's only one.
      owner: invalid(() => ({ detail: KEEP_AN_OWNER })),
      editor: allow(204),
      viewer: allow(204),
      outsider: notFound,
    },
  },
];

/** The rows of every table that holds lists and tasks, in a stable order. */
async function snapshot(database: Database) {
  const db = database.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
  const tables: [string, string[]][] = [
    ['tasks', ['id']],
    ['lists', ['id']],
    ['list_members', ['list_id', 'user_id']],
    ['deleted_tasks', ['task_id', 'list_id', 'owner_id', 'change_id']],
    ['deleted_list_tasks', ['list_id', 'task_id']],
  ];
  const rows: Record<string, unknown[]> = {};
  for (const [table, order] of tables) {
    let query = db.selectFrom(table).selectAll();
    for (const column of order) query = query.orderBy(column);
    rows[table] = await query.execute();
  }
  return rows;
}

async function created(reply: LightMyRequestResponse): Promise<number> {
  assert.equal(reply.statusCode, 201, reply.body);
  return reply.json().id;
}

const ROLES: Role[] = ['owner', 'editor', 'viewer', 'outsider', 'anonymous', 'forged', 'revoked'];
const TITLES: Record<Role, string> = {
  owner: 'the owner',
  editor: 'an editor',
  viewer: 'a viewer',
  outsider: 'a non-member',
  anonymous: 'a caller without a token',
  forged: 'a caller with a forged token',
  revoked: 'a caller with a revoked token',
};

for (const role of ROLES) {
  describe(`[${dialectName}] ${TITLES[role]} on a shared list`, () => {
    const fixture = sharedFixture(async ({ app }) => {
      const p: People = {
        owner: await createUser(app),
        editor: await createUser(app),
        viewer: await createUser(app),
        outsider: await createUser(app),
        member: await createUser(app),
        stranger: await createUser(app),
        newcomer: await createUser(app),
      };
      // The callers without a (valid) token are seen from the editor's side: its ids are in the URLs.
      const actor = role === 'owner' || role === 'viewer' || role === 'outsider' ? p[role] : p.editor;
      let auth: Record<string, string> = actor.auth;
      if (role === 'anonymous') auth = {};
      if (role === 'forged') auth = { authorization: `Token ${randomBytes(20).toString('hex')}` };
      if (role === 'revoked') {
        const token = await login(app, actor.username, actor.password);
        const logout = await app.inject({ method: 'POST', url: '/api/logout/', headers: { authorization: `Token ${token}` } });
        assert.equal(logout.statusCode, 204);
        auth = { authorization: `Token ${token}` };
      }
      // Lists that no row may change: a denial leaves them, and every row moving into them is one.
      const strangerApi = api(app, p.stranger.auth);
      const viewerList = await created(await strangerApi.post('/api/lists/', { name: 'Where the actor views' }));
      assert.equal((await strangerApi.post(members(viewerList), { username: actor.username, role: 'viewer' })).statusCode, 201);
      const foreignList = await created(await strangerApi.post('/api/lists/', { name: 'Not the actor\'s' }));
      return { p, actor, auth, viewerList, foreignList };
    });

    let scene: Scene | undefined;

    /** A list with its owner, editor, viewer and second viewer, and the tasks the rows act on. */
    async function buildScene(): Promise<Scene> {
      const { app, p, actor, viewerList, foreignList } = fixture();
      const owner = api(app, p.owner.auth);
      const listId = await created(await owner.post('/api/lists/', { name: 'Shared' }));
      const join = async (user: TestUser, memberRole: string) =>
        assert.equal((await owner.post(members(listId), { username: user.username, role: memberRole })).statusCode, 201);
      await join(p.editor, 'editor');
      await join(p.viewer, 'viewer');
      await join(p.member, 'viewer');

      const sharedBy = actor.id === p.owner.id ? p.editor : p.owner;
      const shared = await created(await api(app, sharedBy.auth).post('/api/tasks/', { title: 'Shared', list: listId }));

      // The actor's own task of the list: a viewer created it while an editor, and the outsider
      // before being removed (it stays in the list, theirs but out of their sight).
      let mine: number;
      if (actor.id === p.viewer.id) {
        assert.equal((await owner.patch(member(listId, p.viewer.id), { role: 'editor' })).statusCode, 200);
        mine = await created(await api(app, actor.auth).post('/api/tasks/', { title: 'Mine', list: listId }));
        assert.equal((await owner.patch(member(listId, p.viewer.id), { role: 'viewer' })).statusCode, 200);
      } else if (actor.id === p.outsider.id) {
        await join(p.outsider, 'editor');
        mine = await created(await api(app, actor.auth).post('/api/tasks/', { title: 'Mine', list: listId }));
        assert.equal((await owner.delete(member(listId, p.outsider.id))).statusCode, 204);
      } else {
        mine = await created(await api(app, actor.auth).post('/api/tasks/', { title: 'Mine', list: listId }));
      }
      const personal = await created(await api(app, actor.auth).post('/api/tasks/', { title: 'Personal' }));

      const read = await owner.get(task(shared));
      assert.equal(read.statusCode, 200);
      const staleTag = read.headers.etag;
      assert.equal(typeof staleTag, 'string');
      assert.equal((await owner.patch(task(shared), { description: 'Edited since it was read' })).statusCode, 200);
      return { list: listId, viewerList, foreignList, shared, mine, personal, staleTag: staleTag as string };
    }

    for (const row of ROWS) {
      const expected: Expected = role === 'anonymous' || role === 'forged' || role === 'revoked' ? { status: 401 } : row.expect[role];
      test(`when ${TITLES[role]} ${row.action}, then it is ${expected.status}`, async () => {
        const { app, database, p, actor, auth } = fixture();
        scene ??= await buildScene();
        const context: Context = { api: api(app, auth), s: scene, p, actor };
        // The scene is kept for the next row only when this one provably left it as it was.
        let unchanged = false;
        try {
          const before = await snapshot(database);

          const reply = await row.request(context);

          // Whatever the refusal, and even if it is not the expected one, it changed nothing.
          if (reply.statusCode >= 400) {
            assert.deepEqual(await snapshot(database), before, `the refusal ${reply.statusCode} ${reply.body} changed nothing`);
          }
          assert.equal(reply.statusCode, expected.status, reply.body);
          const body = reply.body === '' ? undefined : reply.json();
          if (expected.status === 401) assert.deepEqual(body, role === 'anonymous' ? NOT_PROVIDED : INVALID_TOKEN);
          if (expected.status === 403) assert.deepEqual(body, FORBIDDEN);
          if (expected.status === 404) assert.deepEqual(body, NOT_FOUND);
          if (expected.status === 204) assert.equal(reply.body, '');
          if (expected.body) assert.deepEqual(body, expected.body(context));
          expected.check?.(body, context);
          unchanged = expected.status >= 400 || row.reads === true;
        } finally {
          if (!unchanged) scene = undefined;
        }
      });
    }
  });
}
