import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/database.js';
import type { Tables } from '../db/tables.js';
import { COLUMNS, toTask } from '../tasks/repository.js';
import type { Task } from '../tasks/schemas.js';

/** Whose changes a caller receives. */
export interface SyncScope {
  userId: number;
}

/** A change's place in sync order. */
export interface ChangeKey {
  changeId: number;
  id: number;
}

export interface ChangedTask extends ChangeKey {
  task: Task;
}

export interface DeletedTask extends ChangeKey {
  deleted_at: string;
}

/** What one consistent read of the database gives a sync page. */
export interface SyncSnapshot {
  /** Every change with a smaller change id is committed and visible in this read; none to come will have one. */
  watermark: number;
  /** The largest change id of a deletion record that has been forgotten. */
  purgedThrough: number;
  /** Up to `limit` of each, after the position, in (change id, id) order. */
  changed: ChangedTask[];
  deleted: DeletedTask[];
}

export type SyncRepository = ReturnType<typeof createSyncRepository>;

type Reader = Transaction<Tables>;

/**
 * The only way to start a sync statement: what the caller may see. Shared lists will widen it
 * here, and only here. (Rows that enter a caller's scope without being written, such as a
 * list's tasks when the caller joins it, keep change ids below the caller's position: such a
 * change must also give them new change ids, or reset the caller's tokens.)
 */
const visibleTasks = (reader: Reader, scope: SyncScope) =>
  reader.selectFrom('tasks').where('owner_id', '=', scope.userId);

const visibleDeletions = (reader: Reader, scope: SyncScope) =>
  reader.selectFrom('deleted_tasks').where('owner_id', '=', scope.userId);

export function createSyncRepository({ db, dialect }: Database) {
  // PostgreSQL: the snapshot's xmin, below which every transaction has ended. SQLite: one past
  // the commit counter as this snapshot sees it; writers take turns, so none is in flight.
  const watermark =
    dialect === 'postgres'
      ? sql<number>`pg_snapshot_xmin(pg_current_snapshot())::text::bigint`
      : sql<number>`change_counter + 1`;

  // Every statement of a read sees the same snapshot: on PostgreSQL a repeatable-read
  // transaction (its snapshot is taken by the first statement, the watermark's), on SQLite
  // any transaction. The ordinary connection, not the hot-read one, whose snapshot may be older.
  const readTransaction = () =>
    dialect === 'postgres'
      ? db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only')
      : db.transaction();

  return {
    /**
     * The watermark first, then the caller's changes after `after`; deletion records only when
     * asked (a first sync has nothing to remove).
     */
    read(scope: SyncScope, after: ChangeKey, options: { deletions: boolean; limit: number }): Promise<SyncSnapshot> {
      return readTransaction().execute(async (reader) => {
        const state = await reader
          .selectFrom('sync_state')
          .select([watermark.as('watermark'), 'purged_through'])
          .executeTakeFirstOrThrow();
        const tasks = await visibleTasks(reader, scope)
          .select([...COLUMNS, 'change_id'])
          .where((eb) => eb(eb.refTuple('change_id', 'id'), '>', eb.tuple(after.changeId, after.id)))
          .orderBy('change_id')
          .orderBy('id')
          .limit(options.limit)
          .execute();
        const deletions = options.deletions
          ? await visibleDeletions(reader, scope)
              .select(['task_id', 'deleted_at', 'change_id'])
              .where((eb) => eb(eb.refTuple('change_id', 'task_id'), '>', eb.tuple(after.changeId, after.id)))
              .orderBy('change_id')
              .orderBy('task_id')
              .limit(options.limit)
              .execute()
          : [];
        return {
          watermark: Number(state.watermark),
          purgedThrough: Number(state.purged_through),
          changed: tasks.map(({ change_id, ...row }) => ({ changeId: Number(change_id), id: row.id, task: toTask(row) })),
          deleted: deletions.map((row) => ({ changeId: Number(row.change_id), id: row.task_id, deleted_at: row.deleted_at })),
        };
      });
    },
  };
}
