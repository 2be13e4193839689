import { sql } from 'kysely';
import type { Database, Executor } from '../db/database.js';
import { COLUMNS, toTask } from '../tasks/repository.js';
import { visibleDeletions, visibleTasks, type Scope } from '../tasks/scope.js';
import type { Task } from '../tasks/schemas.js';

/** Whose changes a caller receives: what they may see (tasks/scope.ts, the one definition). */
export type SyncScope = Scope;

/** A change's place in sync order. */
export interface ChangeKey {
  changeId: number;
  id: number;
}

export interface TaskChange extends ChangeKey {
  /** Bytes of the title and description, to bound a reply before the tasks are read. */
  bytes: number;
}

export interface Deletion extends ChangeKey {
  deleted_at: string;
}

/** The statements of one sync page, all in one snapshot of the database and in one scope. */
export interface SyncReader {
  /**
   * `watermark`: every change with a smaller change id is committed and visible in this
   * snapshot, and no change invisible in it has one. `purgedThrough`: the largest change id
   * of a deletion record that has been forgotten.
   */
  state(): Promise<{ watermark: number; purgedThrough: number }>;
  /** Up to `limit` task changes after the position, in (change id, id) order. */
  taskChanges(after: ChangeKey, limit: number): Promise<TaskChange[]>;
  deletions(after: ChangeKey, limit: number): Promise<Deletion[]>;
  /** The tasks after `after` up to `through` (included), in (change id, id) order. */
  tasks(after: ChangeKey, through: ChangeKey): Promise<Task[]>;
}

export type SyncRepository = ReturnType<typeof createSyncRepository>;

export function createSyncRepository({ db, dialect }: Database) {
  // PostgreSQL: the snapshot's xmin, below which every transaction has ended. SQLite: one past
  // the commit counter as this snapshot sees it; writers take turns, so none is in flight.
  const watermark =
    dialect === 'postgres'
      ? sql<number>`pg_snapshot_xmin(pg_current_snapshot())::text::bigint`
      : sql<number>`change_counter + 1`;
  // SQLite's length() counts characters; through a blob it counts bytes.
  const bytes = (column: 'title' | 'description') =>
    dialect === 'postgres' ? sql<number>`octet_length(${sql.ref(column)})` : sql<number>`length(cast(${sql.ref(column)} as blob))`;

  // Every statement of a page sees the same snapshot: on PostgreSQL a repeatable-read
  // transaction (its snapshot is taken by the first statement, the watermark's), on SQLite
  // any transaction. The ordinary connection, not the hot-read one, whose snapshot may be older.
  const snapshot = () =>
    dialect === 'postgres'
      ? db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only')
      : db.transaction().setAccessMode('read only');

  function reader(executor: Executor, scope: SyncScope): SyncReader {
    return {
      async state() {
        const row = await executor
          .selectFrom('sync_state')
          .select([watermark.as('watermark'), 'purged_through'])
          .executeTakeFirstOrThrow();
        return { watermark: Number(row.watermark), purgedThrough: Number(row.purged_through) };
      },

      async taskChanges(after, limit) {
        const rows = await visibleTasks(executor, scope)
          .select(['id', 'change_id', sql<number>`${bytes('title')} + ${bytes('description')}`.as('bytes')])
          .where((eb) => eb(eb.refTuple('change_id', 'id'), '>', eb.tuple(after.changeId, after.id)))
          .orderBy('change_id')
          .orderBy('id')
          .limit(limit)
          .execute();
        return rows.map((row) => ({ changeId: Number(row.change_id), id: row.id, bytes: Number(row.bytes) }));
      },

      async deletions(after, limit) {
        const rows = await visibleDeletions(executor, scope)
          .select(['task_id', 'change_id', 'deleted_at'])
          .where((eb) => eb(eb.refTuple('change_id', 'task_id'), '>', eb.tuple(after.changeId, after.id)))
          .orderBy('change_id')
          .orderBy('task_id')
          .limit(limit)
          .execute();
        return rows.map((row) => ({ changeId: Number(row.change_id), id: row.task_id, deleted_at: row.deleted_at }));
      },

      // A range rather than a list of ids: one statement text, planned and cached once.
      async tasks(after, through) {
        const rows = await visibleTasks(executor, scope)
          .select(COLUMNS)
          .where((eb) => eb(eb.refTuple('change_id', 'id'), '>', eb.tuple(after.changeId, after.id)))
          .where((eb) => eb(eb.refTuple('change_id', 'id'), '<=', eb.tuple(through.changeId, through.id)))
          .orderBy('change_id')
          .orderBy('id')
          .execute();
        return rows.map(toTask);
      },
    };
  }

  return {
    /** Runs one page's statements in one snapshot, scoped to the caller. */
    read<T>(scope: SyncScope, work: (reader: SyncReader) => Promise<T>): Promise<T> {
      return snapshot().execute((executor) => work(reader(executor, scope)));
    },
  };
}
