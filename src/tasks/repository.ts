import { sql, type SelectQueryBuilder, type Transaction } from 'kysely';
import type { Database, Db, Dialect } from '../db/database.js';
import type { Tables } from '../db/tables.js';
import { after, type SortKey } from './ordering.js';
import type { TaskFilters } from './query.js';
import type { Task } from './schemas.js';
import { foldForSearch, foldedColumns } from './search-text.js';
import type { TaskChanges } from './validate.js';

/**
 * All SQL for tasks. Every function takes the owner's id and every statement filters by it,
 * so one user's task can never be read or written through another user's request.
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
  const byId = prepare((p: { ownerId: number; id: number }) =>
    db.selectFrom('tasks').select(COLUMNS).where('owner_id', '=', p.ownerId).where('id', '=', p.id),
  );
  const firstTasks = prepare((p: { ownerId: number; limit: number }) =>
    db.selectFrom('tasks').select(COLUMNS).where('owner_id', '=', p.ownerId).orderBy('id').limit(p.limit),
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
    async find(ownerId: number, id: number): Promise<Task | undefined> {
      const row = (await byId({ ownerId, id }))[0];
      return row && toTask(row);
    },

    /** The owner's first tasks by id, at most `limit` of them. */
    async list(ownerId: number, limit: number): Promise<Task[]> {
      return (await firstTasks({ ownerId, limit })).map(toTask);
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
        dialect,
      );
      return Number((await query.executeTakeFirstOrThrow()).count);
    },

    /** Creates the task; undefined when the owner's account is gone (deleted meanwhile). */
    async create(ownerId: number, changes: TaskChanges, now: string): Promise<Task | undefined> {
      const completed = changes.completed ?? false;
      const title = changes.title!;
      const description = changes.description ?? '';
      const row = await db
        .insertInto('tasks')
        .columns(['owner_id', 'title', 'description', 'due_date', 'completed', 'created_at', 'updated_at', 'completed_at', 'title_folded', 'description_folded'])
        .expression(
          // Selected from the owner's row, locked against deletion: a task whose owner is being
          // deleted is not created, instead of failing the foreign key (a 500 on PostgreSQL).
          ownerRow(db, dialect, ownerId).select((eb) => [
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
        .set({ ...changes, ...foldedColumns(changes), ...completedAt, updated_at: now })
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
        // The owner's row first, as an account deletion takes it before the tasks: locking in
        // the other order could deadlock with it on PostgreSQL. SQLite has one writer at a time,
        // and a transaction there must write first: one that reads first is refused the write
        // lock at once, instead of waiting, when another process wrote meanwhile.
        if (dialect === 'postgres' && (await ownerRow(trx, dialect, ownerId).select('id').executeTakeFirst()) === undefined) return false;
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

/**
 * The owner's row, locked on PostgreSQL against its deletion (a key-share lock, which other
 * account changes do not wait for) until the statement or transaction ends; on SQLite writes
 * are serialized anyway. Empty once the account is gone.
 */
function ownerRow(db: Db | Transaction<Tables>, dialect: Dialect, ownerId: number) {
  return db
    .selectFrom('users')
    .where('id', '=', ownerId)
    .$if(dialect === 'postgres', (query) => query.forKeyShare());
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
