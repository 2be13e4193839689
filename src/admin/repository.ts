import { sql } from 'kysely';
import { dialectOf, type Executor } from '../db/database.js';
import { usernameKey } from '../accounts/repository.js';
import type { AuditEntry, ManagedUser } from './schemas.js';

/**
 * All SQL of the admin API. Staff see every account, so nothing here is scoped to the caller;
 * the routes let only staff reach it. Each change is written with its audit entry in one
 * transaction (routes.ts).
 */

export interface Staff {
  id: number;
  username: string;
  is_staff: boolean;
  is_superuser: boolean;
}

export async function findStaffFlags(executor: Executor, userId: number): Promise<Staff | undefined> {
  const row = await executor.selectFrom('users').select(['id', 'username', 'is_staff', 'is_superuser']).where('id', '=', userId).executeTakeFirst();
  return row && { ...row, is_staff: Boolean(row.is_staff), is_superuser: Boolean(row.is_superuser) };
}

function managedUsers(executor: Executor, now: string) {
  return executor.selectFrom('users').select((eb) => [
    'users.id',
    'users.username',
    'users.email',
    'users.is_active',
    'users.is_staff',
    'users.is_superuser',
    'users.date_joined',
    'users.last_login',
    eb.selectFrom('tasks').select(eb.fn.countAll<number>().as('n')).whereRef('tasks.owner_id', '=', 'users.id').as('task_count'),
    eb
      .selectFrom('auth_tokens')
      .select(eb.fn.countAll<number>().as('n'))
      .whereRef('auth_tokens.user_id', '=', 'users.id')
      .where('auth_tokens.expires_at', '>', now)
      .as('session_count'),
  ]);
}

type ManagedRow = Omit<ManagedUser, 'is_active' | 'is_staff' | 'is_superuser' | 'task_count' | 'session_count'> & {
  is_active: boolean | number;
  is_staff: boolean | number;
  is_superuser: boolean | number;
  task_count: number | string | null;
  session_count: number | string | null;
};

const toManaged = (row: ManagedRow): ManagedUser => ({
  ...row,
  is_active: Boolean(row.is_active),
  is_staff: Boolean(row.is_staff),
  is_superuser: Boolean(row.is_superuser),
  task_count: Number(row.task_count),
  session_count: Number(row.session_count),
});

/** Usernames containing the term, ignoring case as usernames do, or emails containing it. */
function matching<Q extends { where: (...args: never[]) => Q }>(executor: Executor, query: Q, search: string | undefined): Q {
  if (search === undefined) return query;
  const contains = sql.raw(dialectOf(executor) === 'postgres' ? 'strpos' : 'instr');
  const condition = sql<boolean>`(${contains}(users.username_key, ${usernameKey(search)}) > 0 or ${contains}(users.email, ${search}) > 0)`;
  return (query.where as unknown as (expression: unknown) => Q)(condition);
}

export async function listUsers(executor: Executor, window: { search?: string; limit: number; offset: number }, now: string): Promise<ManagedUser[]> {
  const rows = await matching(executor, managedUsers(executor, now), window.search).orderBy('users.id').limit(window.limit).offset(window.offset).execute();
  return rows.map(toManaged);
}

export async function countUsers(executor: Executor, search: string | undefined): Promise<number> {
  const query = executor.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'));
  return Number((await matching(executor, query, search).executeTakeFirstOrThrow()).n);
}

export async function findUser(executor: Executor, id: number, now: string): Promise<ManagedUser | undefined> {
  const row = await managedUsers(executor, now).where('users.id', '=', id).executeTakeFirst();
  return row && toManaged(row);
}

export async function totals(executor: Executor): Promise<{ users: number; active_users: number; tasks: number }> {
  const row = await executor
    .selectFrom('users')
    .select((eb) => [
      eb.fn.countAll<number>().as('users'),
      eb.fn.sum<number>(eb.case().when('is_active', '=', sql<boolean>`${dialectOf(executor) === 'postgres' ? sql`true` : sql`1`}`).then(1).else(0).end()).as('active_users'),
      eb.selectFrom('tasks').select(eb.fn.countAll<number>().as('n')).as('tasks'),
    ])
    .executeTakeFirstOrThrow();
  return { users: Number(row.users), active_users: Number(row.active_users ?? 0), tasks: Number(row.tasks) };
}

export type Action = 'deactivate' | 'reactivate' | 'revoke_sessions';

export async function recordAction(trx: Executor, actor: Staff, action: Action, target: { id: number; username: string }, now: string): Promise<void> {
  await trx
    .insertInto('admin_audit')
    .values({ actor_id: actor.id, actor_username: actor.username, action, target_id: target.id, target_username: target.username, created_at: now })
    .execute();
}

export async function listAudit(executor: Executor, window: { limit: number; offset: number }): Promise<AuditEntry[]> {
  const rows = await executor
    .selectFrom('admin_audit')
    .select(['id', 'actor_id', 'actor_username', 'action', 'target_id', 'target_username', 'created_at'])
    .orderBy('id', 'desc')
    .limit(window.limit)
    .offset(window.offset)
    .execute();
  return rows.map((row) => ({
    id: row.id,
    actor: { id: row.actor_id, username: row.actor_username },
    action: row.action,
    target: { id: row.target_id, username: row.target_username },
    created_at: row.created_at,
  }));
}

export async function countAudit(executor: Executor): Promise<number> {
  return Number((await executor.selectFrom('admin_audit').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
}
