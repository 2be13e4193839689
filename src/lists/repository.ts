import { sql } from 'kysely';
import { atomically, dialectOf, type Executor } from '../db/database.js';
import type { Role } from '../db/tables.js';
import { usernameKey } from '../accounts/repository.js';
import { recordDeparture } from '../tasks/repository.js';
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
): Promise<List | 'full'> {
  return atomically(executor, async (trx) => {
    // Serializes the user's new memberships, so parallel requests cannot pass the limit.
    await lockUser(trx, scope.userId);
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

export async function updateList(executor: Executor, id: number, changes: { name?: string; description?: string }, now: string): Promise<void> {
  await executor.updateTable('lists').set({ ...changes, updated_at: now }).where('id', '=', id).execute();
}

/** Deletes the list and its tasks; every member gets a deletion record for each task. */
export async function deleteList(executor: Executor, id: number, now: string): Promise<void> {
  await atomically(executor, async (trx) => {
    await lockList(trx, id);
    await recordDeparture(trx, trx.selectFrom('tasks').select('tasks.id').where('tasks.list_id', '=', id), membersQuery(trx, id), now);
    await trx.deleteFrom('tasks').where('list_id', '=', id).execute();
    await trx.deleteFrom('lists').where('id', '=', id).execute(); // its members go with it
  });
}

const membersQuery = (executor: Executor, listId: number) =>
  executor.selectFrom('list_members').select('list_members.user_id').where('list_members.list_id', '=', listId);

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

export type AddOutcome = Member | 'unknown' | 'member' | 'list full' | 'user full';

/**
 * Adds the user with this username to the list. Their view then holds the list's tasks, which
 * are given new change ids so that the user's next sync brings them, though none was written.
 */
export async function addMember(executor: Executor, listId: number, username: string, role: Role, now: string): Promise<AddOutcome> {
  return atomically(executor, async (trx) => {
    const user = await trx.selectFrom('users').select('id').where('username_key', '=', usernameKey(username)).executeTakeFirst();
    if (user === undefined) return 'unknown';
    // The user's row before the list's, in the order every use case takes them.
    await lockUser(trx, user.id);
    await lockList(trx, listId);
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

export type MembershipOutcome = 'done' | 'missing' | 'last owner';

/** Gives the member another role; never demotes the list's last owner. */
export async function changeRole(executor: Executor, listId: number, userId: number, role: Role): Promise<MembershipOutcome> {
  return atomically(executor, async (trx) => {
    await lockList(trx, listId);
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
export async function removeMember(executor: Executor, listId: number, userId: number, now: string): Promise<MembershipOutcome> {
  return atomically(executor, async (trx) => {
    await lockUser(trx, userId);
    await lockList(trx, listId);
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
  const memberships = await trx.selectFrom('list_members').select(['list_id', 'role']).where('user_id', '=', userId).orderBy('list_id').execute();
  for (const { list_id: listId, role } of memberships) {
    await lockList(trx, listId);
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
 * PostgreSQL (READ COMMITTED): the list's row, locked until the transaction ends, so that
 * membership changes to one list take turns and each sees the last one's result. SQLite has
 * one writer at a time. Every use case takes users' rows before lists' rows (see lockUser).
 */
export async function lockList(executor: Executor, listId: number, mode: 'update' | 'share' = 'update'): Promise<boolean> {
  if (dialectOf(executor) !== 'postgres') return true;
  const query = executor.selectFrom('lists').select('id').where('id', '=', listId);
  return (await (mode === 'update' ? query.forUpdate() : query.forShare()).executeTakeFirst()) !== undefined;
}

/**
 * PostgreSQL: the user's row, against concurrent membership changes of the same user (no key
 * update: it does not wait for task writes, which take a key share, nor block them).
 */
async function lockUser(executor: Executor, userId: number): Promise<void> {
  if (dialectOf(executor) !== 'postgres') return;
  await executor.selectFrom('users').select('id').where('id', '=', userId).forNoKeyUpdate().execute();
}
