import { sql } from 'kysely';
import { dialectOf, type Executor } from '../db/database.js';
import { inBatches, MAX_PARAMETERS } from './batches.js';
import type { AlreadyPresent } from './conflicts.js';
import type { ImportData } from './mapping.js';

export interface Counts {
  imported: number;
  present: number;
}

export interface Written {
  users: Counts;
  tokens: Counts;
  tasks: Counts;
}

/**
 * Inserts what is not here yet, keeping the source's ids: users, then their sessions, then their
 * tasks. An imported session is as old as DRF's token, and lives a full lifetime from the import
 * (`expiresAt`), so that clients logged in to the original stay logged in.
 */
export async function writeImport(trx: Executor, data: ImportData, present: AlreadyPresent, expiresAt: string): Promise<Written> {
  const users = data.users.filter((user) => !present.userIds.has(user.id));
  const tokens = data.tokens
    .filter((token) => !present.digests.has(token.digest))
    .map((token) => ({ ...token, last_used_at: token.created_at, expires_at: expiresAt, user_agent: '' }));
  const tasks = data.tasks.filter((task) => !present.taskIds.has(task.id));

  await insertInBatches(users, (batch) => trx.insertInto('users').values(batch).execute());
  await insertInBatches(tokens, (batch) => trx.insertInto('auth_tokens').values(batch).execute());
  await insertInBatches(tasks, (batch) => trx.insertInto('tasks').values(batch).execute());
  if (dialectOf(trx) === 'postgres') {
    if (users.length > 0) await continueIdsAfterStored(trx, 'users');
    if (tasks.length > 0) await continueIdsAfterStored(trx, 'tasks');
  }
  // SQLite needs nothing: an AUTOINCREMENT table's counter follows the largest id ever inserted.
  return {
    users: { imported: users.length, present: present.userIds.size },
    tokens: { imported: tokens.length, present: present.digests.size },
    tasks: { imported: tasks.length, present: present.taskIds.size },
  };
}

async function insertInBatches<T extends object>(rows: T[], insert: (batch: T[]) => Promise<unknown>): Promise<void> {
  if (rows.length === 0) return;
  const rowsPerBatch = Math.floor(MAX_PARAMETERS / Object.keys(rows[0]!).length);
  for (const batch of inBatches(rows, rowsPerBatch)) await insert(batch);
}

/**
 * PostgreSQL's identity columns hand out ids from a sequence that rows inserted with their own
 * ids do not move: it is set past the largest id, never back (ids of deleted rows stay unused).
 */
async function continueIdsAfterStored(trx: Executor, table: 'users' | 'tasks'): Promise<void> {
  await sql`
    select setval(ids.sequence, ids.largest)
    from (select pg_get_serial_sequence(${table}, 'id')::regclass as sequence, (select max(id) from ${sql.table(table)}) as largest) as ids
    where ids.largest > coalesce(pg_sequence_last_value(ids.sequence), 0)`.execute(trx);
}
