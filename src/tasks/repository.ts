import { sql, type SelectQueryBuilder } from 'kysely';
import { atomically, dialectOf, type Database, type Dialect, type Executor } from '../db/database.js';
import type { Tables } from '../db/tables.js';
import { after, type SortKey } from './ordering.js';
import type { TaskFilters } from './query.js';
import type { Task } from './schemas.js';
import { visibleDeletions, visibleTasks, visibleTo, type Scope } from './scope.js';
import { foldForSearch, foldedColumns } from './search-text.js';
import type { TaskChanges } from './validate.js';

/**
 * All SQL for tasks. Every function takes the caller's scope and every statement starts from
 * it (scope.ts), so one user's task can never be read or written through another user's
 * request. Writes take the executor they run on, so a use case can join them to its transaction.
 */
export type TasksRepository = ReturnType<typeof createTasksRepository>;

export const COLUMNS = [
  'id',
  'title',
  'description',
  'due_date',
  'completed',
  'created_at',
  'owner_id as owner',
  'updated_at',
  'completed_at',
] as const;

/** Every column but the description: what a cursor page's links need, small whatever the task. */
const HEAD_COLUMNS = COLUMNS.filter((column) => column !== 'description');

type TaskRow = Omit<Task, 'completed'> & { completed: boolean | number };

/** Which tasks a long reply holds and in what order, read before their contents (see listing.ts). */
export type TaskHead = Omit<Task, 'description'>;

export interface TaskWindow {
  limit?: number;
  offset?: number;
  after?: unknown[];
  inclusive?: boolean;
}

/** SQLite returns booleans as 0/1. */
export function toTask(row: TaskRow): Task {
  return { ...row, completed: Boolean(row.completed) };
}

export function createTasksRepository({ db, dialect, prepare }: Database) {
  // The two statements behind most requests, compiled once.
  const byId = prepare((p: { userId: number; id: number }) =>
    visibleTasks(db, { userId: p.userId }).select(COLUMNS).where('id', '=', p.id),
  );
  const firstTasks = prepare((p: { userId: number; limit: number }) =>
    visibleTasks(db, { userId: p.userId }).select(COLUMNS).orderBy('id').limit(p.limit),
  );

  /** The owner's tasks that pass the filters, in the order of `keys`, within the window. */
  function windowed<O>(query: TaskQueryBuilder<O>, filters: TaskFilters, keys: SortKey[], window: TaskWindow) {
    query = filtered(query, filters, dialect);
    if (window.after) query = query.where(after(keys, window.after, window.inclusive));
    for (const key of keys) query = query.orderBy(key.expression, key.descending ? 'desc' : 'asc');
    if (window.limit !== undefined) query = query.limit(window.limit);
    if (window.offset) query = query.offset(window.offset);
    return query;
  }

  return {
    async find(scope: Scope, id: number): Promise<Task | undefined> {
      const row = (await byId({ userId: scope.userId, id }))[0];
      return row && toTask(row);
    },

    /** The caller's first tasks by id, at most `limit` of them. */
    async list(scope: Scope, limit: number): Promise<Task[]> {
      return (await firstTasks({ userId: scope.userId, limit })).map(toTask);
    },

    /**
     * The owner's tasks that pass the filters, in the order of `keys`, optionally only those
     * after a cursor position, one window at a time.
     */
    async search(scope: Scope, filters: TaskFilters, keys: SortKey[], window: TaskWindow = {}): Promise<Task[]> {
      const query = windowed(visibleTasks(db, scope).select(COLUMNS), filters, keys, window);
      return (await query.execute()).map(toTask);
    },

    /** The ids of the tasks search() would return, without reading the tasks themselves. */
    async searchIds(scope: Scope, filters: TaskFilters, keys: SortKey[], window: TaskWindow = {}): Promise<number[]> {
      const query = windowed(visibleTasks(db, scope).select('id'), filters, keys, window);
      return (await query.execute()).map((row) => row.id);
    },

    /** The tasks search() would return, without their descriptions. */
    async searchHeads(scope: Scope, filters: TaskFilters, keys: SortKey[], window: TaskWindow = {}): Promise<TaskHead[]> {
      const query = windowed(visibleTasks(db, scope).select(HEAD_COLUMNS), filters, keys, window);
      return (await query.execute()).map((row) => ({ ...row, completed: Boolean(row.completed) }));
    },

    /** The caller's tasks among `ids`, in no particular order; tasks deleted meanwhile are missing. */
    async findMany(scope: Scope, ids: number[]): Promise<Task[]> {
      if (ids.length === 0) return [];
      const rows = await visibleTasks(db, scope).select(COLUMNS).where('id', 'in', ids).execute();
      return rows.map(toTask);
    },

    async count(scope: Scope, filters: TaskFilters): Promise<number> {
      const query = filtered(
        visibleTasks(db, scope).select((eb) => eb.fn.countAll<number>().as('count')),
        filters,
        dialect,
      );
      return Number((await query.executeTakeFirstOrThrow()).count);
    },

    /** Creates the caller's task; undefined when their account is gone (deleted meanwhile). */
    async create(executor: Executor, scope: Scope, changes: TaskChanges, now: string): Promise<Task | undefined> {
      const completed = changes.completed ?? false;
      const title = changes.title!;
      const description = changes.description ?? '';
      const row = await executor
        .insertInto('tasks')
        .columns(['owner_id', 'title', 'description', 'due_date', 'completed', 'created_at', 'updated_at', 'completed_at', 'title_folded', 'description_folded'])
        .expression(
          // Selected from the owner's row, locked against deletion: a task whose owner is being
          // deleted is not created, instead of failing the foreign key (a 500 on PostgreSQL).
          ownerRow(executor, scope.userId).select((eb) => [
            'id',
            eb.val(title).as('title'),
            eb.val(description).as('description'),
            eb.val(changes.due_date ?? null).as('due_date'),
            eb.val(completed).as('completed'),
            eb.val(now).as('created_at'),
            eb.val(now).as('updated_at'),
            eb.val(completed ? now : null).as('completed_at'),
            eb.val(foldForSearch(title)).as('title_folded'),
            eb.val(foldForSearch(description)).as('description_folded'),
          ]),
        )
        .returning(COLUMNS)
        .executeTakeFirst();
      return row && toTask(row);
    },

    /**
     * Applies the changes; undefined when the caller sees no such task, or (with `expectedVersion`)
     * when it was changed since that version was read: the check and the write are one statement.
     */
    async update(
      executor: Executor,
      scope: Scope,
      id: number,
      changes: TaskChanges,
      now: string,
      expectedVersion?: string,
    ): Promise<Task | undefined> {
      const completedAt =
        changes.completed === undefined
          ? {}
          : changes.completed
            ? // Completing an already completed task keeps the moment it was first completed.
              { completed_at: sql<string>`case when completed then completed_at else ${now} end` }
            : { completed_at: null };
      const row = await executor
        .updateTable('tasks')
        .set({ ...changes, ...foldedColumns(changes), ...completedAt, updated_at: now })
        .where(visibleTo(scope))
        .where('id', '=', id)
        .$if(expectedVersion !== undefined, (query) => query.where('updated_at', '=', expectedVersion!))
        .returning(COLUMNS)
        .executeTakeFirst();
      return row && toTask(row);
    },

    /**
     * Deletes the task and leaves a tombstone for incremental sync, in one transaction; false
     * when the caller sees no such task (or, with `expectedVersion`, it changed since).
     */
    async remove(executor: Executor, scope: Scope, id: number, now: string, expectedVersion?: string): Promise<boolean> {
      return atomically(executor, async (trx) => {
        // The owner's row first, as an account deletion takes it before the tasks: locking in
        // the other order could deadlock with it on PostgreSQL. SQLite has one writer at a time,
        // and a transaction there must write first: one that reads first is refused the write
        // lock at once, instead of waiting, when another process wrote meanwhile.
        if (dialect === 'postgres' && (await ownerRow(trx, scope.userId).select('id').executeTakeFirst()) === undefined) return false;
        const deleted = await trx
          .deleteFrom('tasks')
          .where(visibleTo(scope))
          .where('id', '=', id)
          .$if(expectedVersion !== undefined, (query) => query.where('updated_at', '=', expectedVersion!))
          .executeTakeFirst();
        if (Number(deleted.numDeletedRows) === 0) return false;
        await trx.insertInto('deleted_tasks').values({ task_id: id, owner_id: scope.userId, deleted_at: now }).execute();
        return true;
      });
    },

    /** Ids of the caller's tasks deleted at or after `since`, oldest first. */
    deletedSince(scope: Scope, since: string): Promise<{ id: number; deleted_at: string }[]> {
      return visibleDeletions(db, scope)
        .select(['task_id as id', 'deleted_at'])
        .where('deleted_at', '>=', since)
        .orderBy('deleted_at')
        .orderBy('task_id')
        .execute();
    },

    /** Forgets deletions older than the retention window. */
    async purgeTombstones(before: string): Promise<number> {
      const result = await db.deleteFrom('deleted_tasks').where('deleted_at', '<', before).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

/**
 * The owner's row, locked on PostgreSQL against its deletion (a key-share lock, which other
 * account changes do not wait for) until the statement or transaction ends; on SQLite writes
 * are serialized anyway. Empty once the account is gone.
 */
function ownerRow(executor: Executor, ownerId: number) {
  return executor
    .selectFrom('users')
    .where('id', '=', ownerId)
    .$if(dialectOf(executor) === 'postgres', (query) => query.forKeyShare());
}

type TaskQueryBuilder<O> = SelectQueryBuilder<Tables, 'tasks', O>;

function filtered<O>(query: TaskQueryBuilder<O>, filters: TaskFilters, dialect: Dialect): TaskQueryBuilder<O> {
  const today = new Date().toISOString().slice(0, 10);
  if (filters.completed !== undefined) query = query.where('completed', '=', filters.completed);
  if (filters.dueBefore !== undefined) query = query.where('due_date', '<', filters.dueBefore);
  if (filters.dueAfter !== undefined) query = query.where('due_date', '>', filters.dueAfter);
  if (filters.hasDueDate !== undefined) {
    query = query.where('due_date', filters.hasDueDate ? 'is not' : 'is', null);
  }
  if (filters.overdue === true) {
    query = query.where('completed', '=', false).where('due_date', '<', today);
  } else if (filters.overdue === false) {
    query = query.where((eb) =>
      eb.or([eb('completed', '=', true), eb('due_date', 'is', null), eb('due_date', '>=', today)]),
    );
  }
  if (filters.search !== undefined) {
    // A plain substring test of the folded text (instr on SQLite, strpos on PostgreSQL): no
    // pattern syntax to escape, and no pattern length limit.
    const term = foldForSearch(filters.search);
    const contains = sql.raw(dialect === 'postgres' ? 'strpos' : 'instr');
    query = query.where(sql<boolean>`(${contains}(title_folded, ${term}) > 0 or ${contains}(description_folded, ${term}) > 0)`);
  }
  if (filters.updatedSince !== undefined) query = query.where('updated_at', '>=', filters.updatedSince);
  return query;
}
