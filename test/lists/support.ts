import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { timestampOf } from '../../src/db/clock.js';
import type { Database } from '../../src/db/database.js';
import type { TestUser } from '../helpers.js';

/**
 * Small helpers for the shared-list tests: requests as a user, lists and members made over the
 * API, and the stored rows of the list tables read back as plain values on both databases.
 */

export type Role = 'viewer' | 'editor' | 'owner';

export const NOT_FOUND = { detail: 'Not found.' };
export const KEEP_AN_OWNER = 'A list must keep at least one owner.';

export interface ListObject {
  id: number;
  name: string;
  description: string;
  created_at: string;
  updated_at: string;
  role: Role;
  member_count: number;
}

export interface TaskObject {
  id: number;
  title: string;
  owner: number;
  list: number | null;
  assignee: number | null;
  updated_at: string;
  [field: string]: unknown;
}

export function send(
  app: FastifyInstance,
  user: TestUser,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  payload?: object,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return app.inject({ method, url, headers: { ...user.auth, ...headers }, ...(payload === undefined ? {} : { payload }) });
}

function expectStatus(response: LightMyRequestResponse, status: number, what: string): void {
  if (response.statusCode !== status) throw new Error(`${what} gave ${response.statusCode} ${response.body}`);
}

export async function createList(app: FastifyInstance, user: TestUser, name = 'Shared list', description?: string): Promise<ListObject> {
  const response = await send(app, user, 'POST', '/api/lists/', { name, ...(description === undefined ? {} : { description }) });
  expectStatus(response, 201, 'create list');
  return response.json();
}

export async function addMember(app: FastifyInstance, owner: TestUser, listId: number, user: TestUser, role: Role = 'viewer') {
  const response = await send(app, owner, 'POST', `/api/lists/${listId}/members/`, { username: user.username, role });
  expectStatus(response, 201, `add ${role}`);
  return response.json() as { user_id: number; username: string; role: Role; joined_at: string };
}

export async function setRole(app: FastifyInstance, owner: TestUser, listId: number, user: TestUser, role: Role) {
  const response = await send(app, owner, 'PATCH', `/api/lists/${listId}/members/${user.id}/`, { role });
  expectStatus(response, 200, `set role ${role}`);
  return response.json();
}

export async function removeMember(app: FastifyInstance, by: TestUser, listId: number, user: TestUser): Promise<void> {
  const response = await send(app, by, 'DELETE', `/api/lists/${listId}/members/${user.id}/`);
  expectStatus(response, 204, 'remove member');
}

/** A task created over the API; `list` and `assignee` as the body gives them. */
export async function createListTask(
  app: FastifyInstance,
  user: TestUser,
  list: number | null,
  fields: Record<string, unknown> = {},
): Promise<TaskObject> {
  const response = await send(app, user, 'POST', '/api/tasks/', { title: 'A list task', list, ...fields });
  expectStatus(response, 201, 'create list task');
  return response.json();
}

export async function patchTask(app: FastifyInstance, user: TestUser, id: number, fields: Record<string, unknown>): Promise<TaskObject> {
  const response = await send(app, user, 'PATCH', `/api/tasks/${id}/`, fields);
  expectStatus(response, 200, `patch task ${id}`);
  return response.json();
}

export async function deleteAccount(app: FastifyInstance, user: TestUser): Promise<void> {
  const response = await send(app, user, 'DELETE', '/api/user/', { current_password: user.password });
  expectStatus(response, 204, 'delete account');
}

/** The ids of the tasks the user sees in GET /api/tasks/, ascending. */
export async function visibleIds(app: FastifyInstance, user: TestUser): Promise<number[]> {
  const response = await send(app, user, 'GET', '/api/tasks/');
  assert.equal(response.statusCode, 200);
  return (response.json() as TaskObject[]).map((task) => task.id);
}

/** The ids GET /api/tasks/deleted/?since= reports to the user, ascending (each at most once). */
export async function deletedFeed(app: FastifyInstance, user: TestUser, since: string): Promise<number[]> {
  const response = await send(app, user, 'GET', `/api/tasks/deleted/?since=${encodeURIComponent(since)}`);
  assert.equal(response.statusCode, 200, response.body);
  const ids = (response.json() as { id: number }[]).map((item) => item.id);
  assert.equal(new Set(ids).size, ids.length, `each id at most once: ${ids.join(',')}`);
  return ids.sort((a, b) => a - b);
}

/**
 * A moment strictly after every write made so far, as the server's clock stamps them: the
 * clock's microseconds never run a millisecond ahead of the wall clock.
 */
export async function moment(): Promise<string> {
  await sleep(2);
  const stamp = timestampOf(Date.now());
  await sleep(2);
  return stamp;
}

export const ascending = (ids: number[]) => [...ids].sort((a, b) => a - b);

// The list tables are not in the typed schema of every version of the code, so they are read
// untyped; ids and flags become plain numbers on both databases.

function untyped(database: Database): Kysely<any> {
  return database.db as unknown as Kysely<any>;
}

export interface MemberRow {
  list_id: number;
  user_id: number;
  role: Role;
  joined_at: string;
}

export interface TaskRow {
  id: number;
  owner_id: number;
  list_id: number | null;
  assignee_id: number | null;
  title: string;
  updated_at: string;
}

export interface DeletionRow {
  task_id: number;
  owner_id: number;
}

const orNull = (value: unknown) => (value === null || value === undefined ? null : Number(value));

export async function listIds(database: Database): Promise<number[]> {
  const rows = await untyped(database).selectFrom('lists').select('id').orderBy('id').execute();
  return rows.map((row) => Number(row.id));
}

export async function memberRows(database: Database, listId?: number): Promise<MemberRow[]> {
  let query = untyped(database).selectFrom('list_members').selectAll();
  if (listId !== undefined) query = query.where('list_id', '=', listId);
  const rows = await query.orderBy('list_id').orderBy('user_id').execute();
  return rows.map((row) => ({ list_id: Number(row.list_id), user_id: Number(row.user_id), role: row.role, joined_at: String(row.joined_at) }));
}

/** Members of one list as `{user_id: role}`. */
export async function rolesIn(database: Database, listId: number): Promise<Record<number, Role>> {
  return Object.fromEntries((await memberRows(database, listId)).map((row) => [row.user_id, row.role]));
}

export async function taskRows(database: Database): Promise<TaskRow[]> {
  const rows = await untyped(database)
    .selectFrom('tasks')
    .select(['id', 'owner_id', 'list_id', 'assignee_id', 'title', 'updated_at'])
    .orderBy('id')
    .execute();
  return rows.map((row) => ({
    id: Number(row.id),
    owner_id: Number(row.owner_id),
    list_id: orNull(row.list_id),
    assignee_id: orNull(row.assignee_id),
    title: String(row.title),
    updated_at: String(row.updated_at),
  }));
}

export async function taskRow(database: Database, id: number): Promise<TaskRow | undefined> {
  return (await taskRows(database)).find((row) => row.id === id);
}

/**
 * The deletion records, as (task, recipient) pairs in a stable order; a deleted list's record
 * stands for each task the list held.
 */
export async function deletionRows(database: Database): Promise<DeletionRow[]> {
  const { rows } = await sql<{ task_id: number; owner_id: number }>`
    select coalesce(d.task_id, l.task_id) as task_id, d.owner_id
    from deleted_tasks d left join deleted_list_tasks l on l.list_id = d.list_id
    order by d.owner_id, 1`.execute(database.db);
  return rows.map((row) => ({ task_id: Number(row.task_id), owner_id: Number(row.owner_id) }));
}

/** The task ids a user has deletion records for, ascending. */
export async function deletionsFor(database: Database, userId: number): Promise<number[]> {
  return (await deletionRows(database)).filter((row) => row.owner_id === userId).map((row) => row.task_id);
}

export async function userIds(database: Database): Promise<number[]> {
  const rows = await database.db.selectFrom('users').select('id').orderBy('id').execute();
  return rows.map((row) => Number(row.id));
}

/**
 * Nothing in the database points at a user, list or membership that is gone, and every list
 * keeps an owner. Each check lists the offending rows, so a failure says what is wrong.
 */
export async function assertIntegrity(database: Database): Promise<void> {
  const checks: [string, RawBuilder<unknown>][] = [
    ['tasks whose owner is not a user', sql`select t.id, t.owner_id from tasks t where not exists (select 1 from users u where u.id = t.owner_id)`],
    ['tasks whose list does not exist', sql`select t.id, t.list_id from tasks t where t.list_id is not null and not exists (select 1 from lists l where l.id = t.list_id)`],
    [
      'tasks assigned to someone who is not a member of their list',
      sql`select t.id, t.list_id, t.assignee_id from tasks t where t.assignee_id is not null and (t.list_id is null or not exists (select 1 from list_members m where m.list_id = t.list_id and m.user_id = t.assignee_id))`,
    ],
    ['memberships of a missing user', sql`select m.list_id, m.user_id from list_members m where not exists (select 1 from users u where u.id = m.user_id)`],
    ['memberships of a missing list', sql`select m.list_id, m.user_id from list_members m where not exists (select 1 from lists l where l.id = m.list_id)`],
    ['lists without an owner', sql`select l.id from lists l where not exists (select 1 from list_members m where m.list_id = l.id and m.role = 'owner')`],
    ['memberships with an unknown role', sql`select m.list_id, m.user_id, m.role from list_members m where m.role not in ('viewer', 'editor', 'owner')`],
    ['deletion records of a missing user', sql`select d.task_id, d.owner_id from deleted_tasks d where not exists (select 1 from users u where u.id = d.owner_id)`],
    ['sessions of a missing user', sql`select a.id, a.user_id from auth_tokens a where not exists (select 1 from users u where u.id = a.user_id)`],
  ];
  const problems: string[] = [];
  for (const [what, query] of checks) {
    const { rows } = await query.execute(database.db);
    if (rows.length > 0) problems.push(`${what}: ${JSON.stringify(rows)}`);
  }
  assert.deepEqual(problems, [], 'the database is consistent');
}

/** Sets a membership's joined_at directly, to arrange memberships that joined at the same moment. */
export async function setJoinedAt(database: Database, listId: number, userId: number, joinedAt: string): Promise<void> {
  await untyped(database).updateTable('list_members').set({ joined_at: joinedAt }).where('list_id', '=', listId).where('user_id', '=', userId).execute();
}
