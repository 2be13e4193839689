import type { Executor } from '../db/database.js';
import { inBatches, MAX_PARAMETERS } from './batches.js';
import type { ImportData, ImportedTask, ImportedToken, ImportedUser } from './mapping.js';

/** Source rows found here as they are: imported by an earlier run, skipped by this one. */
export interface AlreadyPresent {
  userIds: Set<number>;
  digests: Set<string>;
  taskIds: Set<number>;
}

/**
 * Compares the source with what is stored here, before anything is written. A row already
 * here as it is in the source counts as imported; any other overlap is a conflict, one line
 * each: the operator decides, the import does not guess.
 */
export async function checkAgainstStored(trx: Executor, data: ImportData): Promise<{ conflicts: string[]; present: AlreadyPresent }> {
  const conflicts = usernamesEqualButForCase(data.users);
  const userIds = await checkUsers(trx, data.users, conflicts);
  const digests = await checkTokens(trx, data.tokens, conflicts);
  const taskIds = await checkTasks(trx, data.tasks, conflicts);
  return { conflicts, present: { userIds, digests, taskIds } };
}

/** The original's usernames are unique as written; ours regardless of case (`alice` is `Alice`). */
function usernamesEqualButForCase(users: ImportedUser[]): string[] {
  const byKey = new Map<string, ImportedUser[]>();
  for (const user of users) byKey.set(user.username_key, [...(byKey.get(user.username_key) ?? []), user]);
  return [...byKey.values()]
    .filter((group) => group.length > 1)
    .map((group) => `auth_user ids ${group.map((user) => `${user.id} ${JSON.stringify(user.username)}`).join(', ')}: the usernames differ only in case, and here they would name one account.`);
}

async function checkUsers(trx: Executor, users: ImportedUser[], conflicts: string[]): Promise<Set<number>> {
  const byId = new Map<number, { id: number; username: string }>();
  const byKey = new Map<string, { id: number; username: string }>();
  for (const batch of inBatches(users, MAX_PARAMETERS)) {
    const ids = batch.map((user) => user.id);
    for (const row of await trx.selectFrom('users').select(['id', 'username']).where('id', 'in', ids).execute()) byId.set(row.id, row);
    const keys = batch.map((user) => user.username_key);
    for (const row of await trx.selectFrom('users').select(['id', 'username', 'username_key']).where('username_key', 'in', keys).execute()) {
      byKey.set(row.username_key, row);
    }
  }
  const present = new Set<number>();
  for (const user of users) {
    const source = `auth_user id ${user.id} ${JSON.stringify(user.username)}`;
    const sameId = byId.get(user.id);
    if (sameId?.username === user.username) {
      present.add(user.id);
      continue;
    }
    if (sameId !== undefined) conflicts.push(`${source}: id ${user.id} here is the account ${JSON.stringify(sameId.username)}.`);
    const sameName = byKey.get(user.username_key);
    if (sameName !== undefined && sameName.id !== user.id) {
      conflicts.push(`${source}: the username is taken here by account ${sameName.id} ${JSON.stringify(sameName.username)} (usernames are unique regardless of case).`);
    }
  }
  return present;
}

async function checkTokens(trx: Executor, tokens: ImportedToken[], conflicts: string[]): Promise<Set<string>> {
  const owners = new Map<string, number>();
  for (const batch of inBatches(tokens, MAX_PARAMETERS)) {
    const digests = batch.map((token) => token.digest);
    for (const row of await trx.selectFrom('auth_tokens').select(['digest', 'user_id']).where('digest', 'in', digests).execute()) {
      owners.set(row.digest, row.user_id);
    }
  }
  const present = new Set<string>();
  for (const token of tokens) {
    const owner = owners.get(token.digest);
    if (owner === token.user_id) present.add(token.digest);
    else if (owner !== undefined) conflicts.push(`authtoken_token of user_id ${token.user_id}: its key is a session of account ${owner} here.`);
  }
  return present;
}

async function checkTasks(trx: Executor, tasks: ImportedTask[], conflicts: string[]): Promise<Set<number>> {
  const owners = new Map<number, number>();
  const deleted = new Set<number>();
  for (const batch of inBatches(tasks, MAX_PARAMETERS)) {
    const ids = batch.map((task) => task.id);
    for (const row of await trx.selectFrom('tasks').select(['id', 'owner_id']).where('id', 'in', ids).execute()) owners.set(row.id, row.owner_id);
    for (const table of ['deleted_tasks', 'deleted_list_tasks'] as const) {
      const rows = await trx.selectFrom(table).select('task_id').distinct().where('task_id', 'in', ids).execute();
      for (const row of rows) deleted.add(row.task_id!);
    }
  }
  const present = new Set<number>();
  for (const task of tasks) {
    const owner = owners.get(task.id);
    const source = `tasks_task id ${task.id} of user_id ${task.owner_id}`;
    if (owner === task.owner_id) present.add(task.id);
    else if (owner !== undefined) conflicts.push(`${source}: task ${task.id} here belongs to account ${owner}.`);
    // A task that left someone's view here: importing it again would bring it back.
    else if (deleted.has(task.id)) conflicts.push(`${source}: task ${task.id} was deleted here (its deletion record is kept for sync).`);
  }
  return present;
}
