import { sql, type SelectQueryBuilder } from 'kysely';
import type { Database } from '../db/database.js';
import type { Tables } from '../db/tables.js';
import { after, type SortKey } from './ordering.js';
import type { TaskFilters } from './query.js';
import type { Task } from './schemas.js';
import type { TaskChanges } from './validate.js';

/**
 * All SQL for tasks. Every function takes the owner's id and every statement filters by it,
 * so one user's task can never be read or written through another user's request.
 */
export type TasksRepository = ReturnType<typeof createTasksRepository>;

const COLUMNS = [
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

export function createTasksRepository({ db, prepare }: Database) {
  // The two statements behind most requests, compiled once. Parameters: owner id, then task id
  // or the most tasks to read.
  const byId = prepare(db.selectFrom('tasks').select(COLUMNS).where('owner_id', '=', 0).where('id', '=', 0));
  const firstTasks = prepare(db.selectFrom('tasks').select(COLUMNS).where('owner_id', '=', 0).orderBy('id').limit(0));

  /** The owner's tasks that pass the filters, in the order of `keys`, within the window. */
  function windowed<O>(query: TaskQueryBuilder<O>, filters: TaskFilters, keys: SortKey[], window: TaskWindow) {
    query = filtered(query, filters);
    if (window.after) query = query.where(after(keys, window.after, window.inclusive));
    for (const key of keys) query = query.orderBy(key.expression, key.descending ? 'desc' : 'asc');
    if (window.limit !== undefined) query = query.limit(window.limit);
    if (window.offset) query = query.offset(window.offset);
    return query;
  }

  return {
    async find(ownerId: number, id: number): Promise<Task | undefined> {
      const row = (await byId(ownerId, id))[0];
      return row && toTask(row);
    },

    /** The owner's first tasks by id, at most `limit` of them. */
    async list(ownerId: number, limit: number): Promise<Task[]> {
      return (await firstTasks(ownerId, limit)).map(toTask);
    },

    /**
     * The owner's tasks that pass the filters, in the order of `keys`, optionally only those
     * after a cursor position, one window at a time.
     */
    async search(ownerId: number, filters: TaskFilters, keys: SortKey[], window: TaskWindow = {}): Promise<Task[]> {
      const query = windowed(db.selectFrom('tasks').select(COLUMNS).where('owner_id', '=', ownerId), filters, keys, window);
      return (await query.execute()).map(toTask);
    },

    /** The ids of the tasks search() would return, without reading the tasks themselves. */
    async searchIds(ownerId: number, filters: TaskFilters, keys: SortKey[], window: TaskWindow = {}): Promise<number[]> {
      const query = windowed(db.selectFrom('tasks').select('id').where('owner_id', '=', ownerId), filters, keys, window);
      return (await query.execute()).map((row) => row.id);
    },

    /** The tasks search() would return, without their descriptions. */
    async searchHeads(ownerId: number, filters: TaskFilters, keys: SortKey[], window: TaskWindow = {}): Promise<TaskHead[]> {
      const query = windowed(db.selectFrom('tasks').select(HEAD_COLUMNS).where('owner_id', '=', ownerId), filters, keys, window);
      return (await query.execute()).map((row) => ({ ...row, completed: Boolean(row.completed) }));
    },

    /** The owner's tasks among `ids`, in no particular order; tasks deleted meanwhile are missing. */
    async findMany(ownerId: number, ids: number[]): Promise<Task[]> {
      if (ids.length === 0) return [];
      const rows = await db.selectFrom('tasks').select(COLUMNS).where('owner_id', '=', ownerId).where('id', 'in', ids).execute();
      return rows.map(toTask);
    },

    async count(ownerId: number, filters: TaskFilters): Promise<number> {
      const query = filtered(
        db.selectFrom('tasks').select((eb) => eb.fn.countAll<number>().as('count')).where('owner_id', '=', ownerId),
        filters,
      );
      return Number((await query.executeTakeFirstOrThrow()).count);
    },

    async create(ownerId: number, changes: TaskChanges, now: string): Promise<Task> {
      const completed = changes.completed ?? false;
      const row = await db
        .insertInto('tasks')
        .values({
          owner_id: ownerId,
          title: changes.title!,
          description: changes.description ?? '',
          due_date: changes.due_date ?? null,
          completed,
          created_at: now,
          updated_at: now,
          completed_at: completed ? now : null,
        })
        .returning(COLUMNS)
        .executeTakeFirstOrThrow();
      return toTask(row);
    },

    /**
     * Applies the changes; undefined when the owner has no such task, or (with `expectedVersion`)
     * when it was changed since that version was read: the check and the write are one statement.
     */
    async update(
      ownerId: number,
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
      const row = await db
        .updateTable('tasks')
        .set({ ...changes, ...completedAt, updated_at: now })
        .where('owner_id', '=', ownerId)
        .where('id', '=', id)
        .$if(expectedVersion !== undefined, (query) => query.where('updated_at', '=', expectedVersion!))
        .returning(COLUMNS)
        .executeTakeFirst();
      return row && toTask(row);
    },

    /**
     * Deletes the task and leaves a tombstone for incremental sync, in one transaction; false
     * when the owner has no such task (or, with `expectedVersion`, it changed since).
     */
    async remove(ownerId: number, id: number, now: string, expectedVersion?: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const deleted = await trx
          .deleteFrom('tasks')
          .where('owner_id', '=', ownerId)
          .where('id', '=', id)
          .$if(expectedVersion !== undefined, (query) => query.where('updated_at', '=', expectedVersion!))
          .executeTakeFirst();
        if (Number(deleted.numDeletedRows) === 0) return false;
        await trx.insertInto('deleted_tasks').values({ task_id: id, owner_id: ownerId, deleted_at: now }).execute();
        return true;
      });
    },

    /** Ids of the owner's tasks deleted at or after `since`, oldest first. */
    deletedSince(ownerId: number, since: string): Promise<{ id: number; deleted_at: string }[]> {
      return db
        .selectFrom('deleted_tasks')
        .select(['task_id as id', 'deleted_at'])
        .where('owner_id', '=', ownerId)
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

type TaskQueryBuilder<O> = SelectQueryBuilder<Tables, 'tasks', O>;

function filtered<O>(query: TaskQueryBuilder<O>, filters: TaskFilters): TaskQueryBuilder<O> {
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
    const pattern = `%${filters.search.toLowerCase().replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
    query = query.where(
      sql<boolean>`(lower(title) like ${pattern} escape '\\' or lower(description) like ${pattern} escape '\\')`,
    );
  }
  if (filters.updatedSince !== undefined) query = query.where('updated_at', '>=', filters.updatedSince);
  return query;
}
