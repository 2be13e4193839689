import { sql } from 'kysely';
import { atomically, dialectOf, type Executor } from '../db/database.js';
import type { Role } from '../db/tables.js';
import { usernameKey } from '../accounts/repository.js';
import { membersOf, recordDeparture } from '../tasks/repository.js';
import type { Scope } from '../tasks/scope.js';
import type { List, Member } from './schemas.js';

/**
 * All SQL for lists and their members. A list is seen only through the caller's membership
 * (`visibleLists`), and every function takes the executor it runs on: a use case that changes
 * several tables passes its transaction. Changes to a list's members lock the list's row first
 * (PostgreSQL), so two of them never act on the same list at once (the last owner stays).
 */

/** Lists a user may belong to; members a list may have. */
export const MAX_LISTS_PER_USER = 100;
export const MAX_MEMBERS_PER_LIST = 100;

const RANK: Record<Role, number> = { viewer: 1, editor: 2, owner: 3 };

export const hasRole = (role: Role | undefined, needed: Role): role is Role => role !== undefined && RANK[role] >= RANK[needed];

/** The lists the caller belongs to, with their role in each. */
function visibleLists(executor: Executor, scope: Scope) {
  return executor
    .selectFrom('lists')
    .innerJoin('list_members as mine', (join) => join.onRef('mine.list_id', '=', 'lists.id').on('mine.user_id', '=', scope.userId))
    .select((eb) => [
      'lists.id',
      'lists.name',
      'lists.description',
      'lists.created_at',
      'lists.updated_at',
      'mine.role',
      eb.selectFrom('list_members as all').select(eb.fn.countAll<number>().as('count')).whereRef('all.list_id', '=', 'lists.id').as('member_count'),
    ]);
}

const toList = (row: Omit<List, 'member_count'> & { member_count: number | string | null }): List => ({
  ...row,
  member_count: Number(row.member_count),
});

export async function findList(executor: Executor, scope: Scope, id: number): Promise<List | undefined> {
  const row = await visibleLists(executor, scope).where('lists.id', '=', id).executeTakeFirst();
  return row && toList(row);
}

/** The caller's lists by id, within the window. */
export async function listLists(executor: Executor, scope: Scope, window: { limit?: number; offset?: number } = {}): Promise<List[]> {
  const rows = await visibleLists(executor, scope)
    .orderBy('lists.id')
    .$if(window.limit !== undefined, (query) => query.limit(window.limit!))
    .$if(Boolean(window.offset), (query) => query.offset(window.offset!))
    .execute();
  return rows.map(toList);
}

export async function countLists(executor: Executor, scope: Scope): Promise<number> {
  const row = await executor
    .selectFrom('list_members')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('user_id', '=', scope.userId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** The caller's role in the list; undefined when they are not a member (or it does not exist). */
export async function roleIn(executor: Executor, scope: Scope, listId: number): Promise<Role | undefined> {
  const row = await executor
    .selectFrom('list_members')
    .select('role')
    .where('list_id', '=', listId)
    .where('user_id', '=', scope.userId)
    .executeTakeFirst();
  return row?.role;
}

/**
 * Creates the list with the caller as its owner, in one transaction; 'full' when the caller
 * already belongs to the most lists allowed.
 */
export async function createList(
  executor: Executor,
  scope: Scope,
  fields: { name: string; description: string },
  now: string,
): Promise<List | 'full' | 'gone'> {
  return atomically(executor, async (trx) => {
    // Serializes the user's new memberships, so parallel requests cannot pass the limit.
    if (!(await lockUser(trx, scope.userId))) return 'gone';
    if ((await countLists(trx, scope)) >= MAX_LISTS_PER_USER) return 'full';
    const { id } = await trx
      .insertInto('lists')
      .values({ ...fields, created_at: now, updated_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    await trx.insertInto('list_members').values({ list_id: id, user_id: scope.userId, role: 'owner', joined_at: now }).execute();
    return (await findList(trx, scope, id))!;
  });
}

/**
 * What a change to a list or its members came to. The caller's role is checked again once the
 * list is locked (the routes checked it for the order of outcomes, before the body was read):
 * a demotion or removal that committed meanwhile cannot be undone by a request already in flight.
 */
export type Outcome = 'done' | 'missing' | 'forbidden' | 'last owner';

/** Locks the list, then checks that the caller is still a member with at least `role`. */
async function lockForChange(trx: Executor, scope: Scope, listId: number, role: Role): Promise<Outcome> {
  if (!(await lockList(trx, listId))) return 'missing';
  const current = await roleIn(trx, scope, listId);
  if (current === undefined) return 'missing';
  return hasRole(current, role) ? 'done' : 'forbidden';
}

export async function updateList(executor: Executor, scope: Scope, id: number, changes: { name?: string; description?: string }, now: string): Promise<Outcome> {
  return atomically(executor, async (trx) => {
    const allowed = await lockForChange(trx, scope, id, 'owner');
    if (allowed !== 'done') return allowed;
    await trx.updateTable('lists').set({ ...changes, updated_at: now }).where('id', '=', id).execute();
    return 'done';
  });
}

/** Deletes the list and its tasks; every member gets a deletion record for the list's tasks. */
export async function deleteList(executor: Executor, scope: Scope, id: number, now: string): Promise<Outcome> {
  return atomically(executor, async (trx) => {
    const allowed = await lockForChange(trx, scope, id, 'owner');
    if (allowed !== 'done') return allowed;
    // One record per member for the whole list, which stands for the tasks it keeps.
    await trx
      .insertInto('deleted_list_tasks')
      .columns(['list_id', 'task_id'])
      .expression(trx.selectFrom('tasks').select(['tasks.list_id', 'tasks.id']).where('tasks.list_id', '=', id).$narrowType<{ list_id: number }>())
      .execute();
    await trx
      .insertInto('deleted_tasks')
      .columns(['owner_id', 'list_id', 'deleted_at'])
      .expression((eb) => membersOf(trx, id).select([eb.val(id).as('list_id'), eb.val(now).as('deleted_at')]))
      .execute();
    await trx.deleteFrom('tasks').where('list_id', '=', id).execute();
    await trx.deleteFrom('lists').where('id', '=', id).execute(); // its members go with it
    return 'done';
  });
}

function members(executor: Executor, listId: number) {
  return executor
    .selectFrom('list_members')
    .innerJoin('users', 'users.id', 'list_members.user_id')
    .select(['list_members.user_id', 'users.username', 'list_members.role', 'list_members.joined_at'])
    .where('list_members.list_id', '=', listId);
}

/** The list's members, longest-standing first. */
export function listMembers(executor: Executor, listId: number): Promise<Member[]> {
  return members(executor, listId).orderBy('list_members.joined_at').orderBy('list_members.user_id').execute();
}

export function findMember(executor: Executor, listId: number, userId: number): Promise<Member | undefined> {
  return members(executor, listId).where('list_members.user_id', '=', userId).executeTakeFirst();
}

export type AddOutcome = Member | 'unknown' | 'member' | 'list full' | 'user full' | 'missing' | 'forbidden';

/**
 * Adds the user with this username to the list. Their view then holds the list's tasks, which
 * are given new change ids so that the user's next sync brings them, though none was written.
 */
export async function addMember(executor: Executor, scope: Scope, listId: number, username: string, role: Role, now: string): Promise<AddOutcome> {
  return atomically(executor, async (trx) => {
    const user = await trx.selectFrom('users').select('id').where('username_key', '=', usernameKey(username)).executeTakeFirst();
    // The user's row before the list's, in the order every use case takes them.
    if (user === undefined || !(await lockUser(trx, user.id))) return 'unknown';
    const allowed = await lockForChange(trx, scope, listId, 'owner');
    if (allowed !== 'done') return allowed as 'missing' | 'forbidden';
    if ((await findMember(trx, listId, user.id)) !== undefined) return 'member';
    const count = async (column: 'list_id' | 'user_id', value: number) =>
      Number((await trx.selectFrom('list_members').select((eb) => eb.fn.countAll<number>().as('count')).where(column, '=', value).executeTakeFirstOrThrow()).count);
    if ((await count('list_id', listId)) >= MAX_MEMBERS_PER_LIST) return 'list full';
    if ((await count('user_id', user.id)) >= MAX_LISTS_PER_USER) return 'user full';
    await trx.insertInto('list_members').values({ list_id: listId, user_id: user.id, role, joined_at: now }).execute();
    // Rewriting a column with its own value fires the change-id triggers (migration 003).
    await trx.updateTable('tasks').set({ list_id: sql<number>`list_id` }).where('list_id', '=', listId).execute();
    return (await findMember(trx, listId, user.id))!;
  });
}

/** Gives the member another role; never demotes the list's last owner. */
export async function changeRole(executor: Executor, scope: Scope, listId: number, userId: number, role: Role): Promise<Outcome> {
  return atomically(executor, async (trx) => {
    const allowed = await lockForChange(trx, scope, listId, 'owner');
    if (allowed !== 'done') return allowed;
    const member = await findMember(trx, listId, userId);
    if (member === undefined) return 'missing';
    if (member.role === 'owner' && role !== 'owner' && (await ownerCount(trx, listId)) === 1) return 'last owner';
    await trx.updateTable('list_members').set({ role }).where('list_id', '=', listId).where('user_id', '=', userId).execute();
    return 'done';
  });
}

/**
 * Ends a membership (the member left, or an owner removed them); never the last owner's. Their
 * assignments in the list are cleared, the list's tasks leave their view (deletion records), and
 * tasks they created stay in the list.
 */
export async function removeMember(executor: Executor, scope: Scope, listId: number, userId: number, now: string): Promise<Outcome> {
  return atomically(executor, async (trx) => {
    if (!(await lockUser(trx, userId))) return 'missing';
    // Any member may leave; only an owner may remove someone else.
    const allowed = await lockForChange(trx, scope, listId, userId === scope.userId ? 'viewer' : 'owner');
    if (allowed !== 'done') return allowed;
    const member = await findMember(trx, listId, userId);
    if (member === undefined) return 'missing';
    if (member.role === 'owner' && (await ownerCount(trx, listId)) === 1) return 'last owner';
    await leave(trx, listId, userId, now);
    return 'done';
  });
}

async function leave(trx: Executor, listId: number, userId: number, now: string): Promise<void> {
  await trx.updateTable('tasks').set({ assignee_id: null, updated_at: now }).where('list_id', '=', listId).where('assignee_id', '=', userId).execute();
  await recordDeparture(trx, trx.selectFrom('tasks').select('tasks.id').where('tasks.list_id', '=', listId), [userId], now);
  await trx.deleteFrom('list_members').where('list_id', '=', listId).where('user_id', '=', userId).execute();
}

/**
 * Before a user's account is deleted, in its transaction: each list they alone own passes to
 * its longest-standing other member, promoted to owner, or is deleted with its tasks if nobody
 * else is in it; their assignments are cleared; and the tasks they created in lists that live
 * on (also lists they had left) pass to the longest-standing owner of each list, so that
 * nothing is lost with the account and no row points at it.
 */
export async function handOverLists(trx: Executor, userId: number, now: string): Promise<void> {
  // Every list the account is in or has tasks in, locked before anything is read from it:
  // membership changes, and other accounts' hand-overs, wait for these locks, so the roles
  // read below stay true until this transaction ends.
  const member = await trx.selectFrom('list_members').select('list_id').where('user_id', '=', userId).execute();
  const creator = await trx.selectFrom('tasks').select('list_id').distinct().where('owner_id', '=', userId).where('list_id', 'is not', null).execute();
  const touched = new Set([...member, ...creator].map((row) => row.list_id!));
  for (const id of [...touched].sort((a, b) => a - b)) await lockList(trx, id);

  const memberships = await trx.selectFrom('list_members').select(['list_id', 'role']).where('user_id', '=', userId).orderBy('list_id').execute();
  for (const { list_id: listId, role } of memberships) {
    const others = (await listMembers(trx, listId)).filter((member) => member.user_id !== userId);
    if (others.length === 0) {
      await trx.deleteFrom('tasks').where('list_id', '=', listId).execute();
      await trx.deleteFrom('lists').where('id', '=', listId).execute();
      continue;
    }
    if (role === 'owner' && !others.some((member) => member.role === 'owner')) {
      await trx.updateTable('list_members').set({ role: 'owner' }).where('list_id', '=', listId).where('user_id', '=', others[0]!.user_id).execute();
    }
  }
  await trx.updateTable('tasks').set({ assignee_id: null, updated_at: now }).where('assignee_id', '=', userId).execute();
  await trx
    .updateTable('tasks')
    .set((eb) => ({
      owner_id: eb
        .selectFrom('list_members')
        .select('list_members.user_id')
        .whereRef('list_members.list_id', '=', 'tasks.list_id')
        .where('list_members.role', '=', 'owner')
        .where('list_members.user_id', '<>', userId)
        .orderBy('list_members.joined_at')
        .orderBy('list_members.user_id')
        .limit(1),
      updated_at: now,
    }))
    .where('owner_id', '=', userId)
    .where('list_id', 'is not', null)
    .execute();
  await trx.deleteFrom('list_members').where('user_id', '=', userId).execute();
}

async function ownerCount(executor: Executor, listId: number): Promise<number> {
  const row = await executor
    .selectFrom('list_members')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('list_id', '=', listId)
    .where('role', '=', 'owner')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/**
 * Whether the list still exists; on PostgreSQL (READ COMMITTED) its row is locked until the
 * transaction ends, so that changes to one list's members take turns and each sees the last
 * one's result. SQLite has one writer at a time. Every use case takes users' rows before lists'
 * rows (see lockUser), and lists' rows before tasks' rows.
 */
export async function lockList(executor: Executor, listId: number, mode: 'update' | 'share' = 'update'): Promise<boolean> {
  const query = executor.selectFrom('lists').select('id').where('id', '=', listId);
  const locked = dialectOf(executor) !== 'postgres' ? query : mode === 'update' ? query.forUpdate() : query.forShare();
  return (await locked.executeTakeFirst()) !== undefined;
}

/**
 * Whether the user still exists; on PostgreSQL their row is locked against concurrent
 * membership changes of the same user and against the account's deletion (no key update: it
 * neither waits for task writes, which take a key share, nor blocks them).
 */
async function lockUser(executor: Executor, userId: number): Promise<boolean> {
  const query = executor.selectFrom('users').select('id').where('id', '=', userId);
  const locked = dialectOf(executor) === 'postgres' ? query.forNoKeyUpdate() : query;
  return (await locked.executeTakeFirst()) !== undefined;
}
