import { sql, type SelectQueryBuilder } from 'kysely';
import { atomically, dialectOf, type Database, type Dialect, type Executor } from '../db/database.js';
import { compiledOnce } from '../db/parameters.js';
import type { Tables } from '../db/tables.js';
import { after, sortKeys, type SortKey } from './ordering.js';
import type { TaskFilters } from './query.js';
import type { Task } from './schemas.js';
import { editableBy, visibleDeletions, visibleParts, visibleTasks, type Scope } from './scope.js';
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
  'list_id as list',
  'assignee_id as assignee',
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

/** Where a write puts a task: its list (null: personal) and assignee; omitted: unchanged. */
export interface Placement {
  list_id?: number | null;
  assignee_id?: number | null;
}

/** The values of a new task's row, named for its compiled statement. */
interface NewTask {
  userId: number;
  title: string;
  description: string;
  dueDate: string | null;
  completed: boolean;
  now: string;
  completedAt: string | null;
  titleFolded: string;
  descriptionFolded: string;
  listId: number | null;
  assigneeId: number | null;
}

/** A column an update may set from the write's values; `completed_at` and `updated_at` follow from them. */
type UpdatedColumn = keyof TaskChanges | keyof Placement | 'title_folded' | 'description_folded';

/** The changed columns' values (those of the statement's columns are all given), and the rest. */
type UpdateParameters = TaskChanges & Placement & {
  title_folded?: string;
  description_folded?: string;
  userId: number;
  id: number;
  now: string;
  expectedVersion: string;
};

/** SQLite returns booleans as 0/1; PostgreSQL's rows are tasks already. */
export function toTask(row: TaskRow): Task {
  return typeof row.completed === 'boolean' ? (row as Task) : { ...row, completed: Boolean(row.completed) };
}

export function createTasksRepository({ db, dialect, prepare }: Database) {
  // The two statements behind most requests, compiled once.
  const byId = prepare((p: { userId: number; id: number }) =>
    visibleTasks(db, { userId: p.userId }).select(COLUMNS).where('id', '=', p.id),
  );
  // For a caller in no list, as the first page below: the check of the caller's lists, always
  // false, is most of what the lookup costs PostgreSQL beside the row itself.
  const personalById = prepare((p: { userId: number; id: number }) =>
    visibleParts(db, { userId: p.userId }).personal.select(COLUMNS).where('id', '=', p.id),
  );
  const firstTasks = prepare((p: { userId: number; limit: number }) =>
    windowed({ userId: p.userId }, COLUMNS, {}, sortKeys([]), { limit: p.limit }),
  );
  // For a caller in no list: the shared part, empty, still costs PostgreSQL a third of the page.
  const firstPersonalTasks = prepare((p: { userId: number; limit: number }) =>
    windowed({ userId: p.userId }, COLUMNS, { list: 'personal' }, sortKeys([]), { limit: p.limit }),
  );

  /** The parts of the caller's view that the filters can match (see visibleParts). */
  function parts(scope: Scope, filters: TaskFilters) {
    const { personal, shared } = visibleParts(db, scope);
    if (filters.list === 'personal') return [personal];
    if (filters.list !== undefined) return [shared.where('list_id', '=', filters.list)];
    return [personal, shared];
  }

  /**
   * The caller's tasks that pass the filters, in the order of `keys`, within the window: each
   * part of the view is read in that order up to the window's end, then the parts are merged.
   */
  function windowed(scope: Scope, columns: readonly TaskColumn[], filters: TaskFilters, keys: SortKey[], window: TaskWindow) {
    // Keys are plain columns of the task, so each part keeps them for the merge's ORDER BY.
    const partColumns = [...new Set([...HEAD_COLUMNS, ...columns])];
    const partLimit = window.limit === undefined || !window.offset ? window.limit : window.limit + window.offset;
    const [first, ...rest] = parts(scope, filters).map((part) => {
      let query = filtered(part.select(partColumns), filters, scope, dialect);
      if (window.after) query = query.where(after(keys, window.after, window.inclusive));
      query = ordered(query, keys);
      if (partLimit !== undefined) query = query.limit(partLimit);
      // A part of a compound statement may not have its own ORDER BY: it is read as a subquery.
      return db.selectFrom(query.as('part')).selectAll();
    });
    const merged = rest.reduce((union, part) => union.unionAll(part), first!);
    let query = ordered(db.selectFrom(merged.as('visible')).select(columns.map(outputName) as never[]), keys);
    if (window.limit !== undefined) query = query.limit(window.limit);
    if (window.offset) query = query.offset(window.offset);
    return query as unknown as SelectQueryBuilder<Tables, 'tasks', TaskRow>;
  }

  // On SQLite a new row carries its change id, so the trigger need not rewrite it (migration
  // 009); PostgreSQL's trigger stamps the row before it is written.
  const carriesChangeId = dialect === 'sqlite';

  /** A new task, selected from its owner's row (see ownerRow). */
  const insertTask = compiledOnce((p: NewTask) =>
    db
      .insertInto('tasks')
      .columns([
        'owner_id', 'title', 'description', 'due_date', 'completed', 'created_at', 'updated_at', 'completed_at',
        'title_folded', 'description_folded', 'list_id', 'assignee_id', ...(carriesChangeId ? (['change_id'] as const) : []),
      ])
      .expression(
        // Selected from the owner's row, locked against deletion: a task whose owner is being
        // deleted is not created, instead of failing the foreign key (a 500 on PostgreSQL).
        ownerRow(db, p.userId).select((eb) => [
          'id',
          eb.val(p.title).as('title'),
          eb.val(p.description).as('description'),
          eb.val(p.dueDate).as('due_date'),
          eb.val(p.completed).as('completed'),
          eb.val(p.now).as('created_at'),
          eb.val(p.now).as('updated_at'),
          eb.val(p.completedAt).as('completed_at'),
          eb.val(p.titleFolded).as('title_folded'),
          eb.val(p.descriptionFolded).as('description_folded'),
          eb.val(p.listId).as('list_id'),
          eb.val(p.assigneeId).as('assignee_id'),
          ...(carriesChangeId ? [sql<number>`(select change_counter + 1 from sync_state)`.as('change_id')] : []),
        ]),
      )
      .returning(COLUMNS),
  );

  /**
   * The update of a task's columns, compiled once for each set of columns a write changes (a
   * few dozen at most), whether it completes or reopens the task, and whether it is pinned to
   * a version.
   */
  const updates = new Map<string, ReturnType<typeof compileUpdate>>();
  function updateStatement(columns: UpdatedColumn[], completed: boolean | undefined, versioned: boolean) {
    const key = `${columns.join()}/${completed}/${versioned}`;
    let statement = updates.get(key);
    if (statement === undefined) {
      statement = compileUpdate(columns, completed, versioned);
      updates.set(key, statement);
    }
    return statement;
  }
  const compileUpdate = (columns: UpdatedColumn[], completed: boolean | undefined, versioned: boolean) =>
    compiledOnce((p: UpdateParameters) => {
      const completedAt =
        completed === undefined
          ? {}
          : completed
            ? // Completing an already completed task keeps the moment it was first completed.
              { completed_at: sql<string>`case when completed then completed_at else ${p.now} end` }
            : { completed_at: null };
      const changed = Object.fromEntries(columns.map((column) => [column, p[column]]));
      return db
        .updateTable('tasks')
        .set({ ...changed, ...completedAt, updated_at: p.now })
        .where(editableBy({ userId: p.userId }))
        .where('id', '=', p.id)
        .$if(versioned, (query) => query.where('updated_at', '=', p.expectedVersion))
        .returning(COLUMNS);
    });

  return {
    async find(scope: Scope, id: number): Promise<Task | undefined> {
      const statement = scope.inNoList ? personalById : byId;
      const row = (await statement({ userId: scope.userId, id }))[0];
      return row && toTask(row);
    },

    /** The caller's first tasks by id, at most `limit` of them. */
    async list(scope: Scope, limit: number): Promise<Task[]> {
      const statement = scope.inNoList ? firstPersonalTasks : firstTasks;
      return (await statement({ userId: scope.userId, limit })).map(toTask);
    },

    /**
     * The owner's tasks that pass the filters, in the order of `keys`, optionally only those
     * after a cursor position, one window at a time.
     */
    async search(scope: Scope, filters: TaskFilters, keys: SortKey[], window: TaskWindow = {}): Promise<Task[]> {
      return (await windowed(scope, COLUMNS, filters, keys, window).execute()).map(toTask);
    },

    /** The ids of the tasks search() would return, without reading the tasks themselves. */
    async searchIds(scope: Scope, filters: TaskFilters, keys: SortKey[], window: TaskWindow = {}): Promise<number[]> {
      return (await windowed(scope, ['id'], filters, keys, window).execute()).map((row) => row.id);
    },

    /** The tasks search() would return, without their descriptions. */
    async searchHeads(scope: Scope, filters: TaskFilters, keys: SortKey[], window: TaskWindow = {}): Promise<TaskHead[]> {
      const rows = await windowed(scope, HEAD_COLUMNS, filters, keys, window).execute();
      return rows.map((row) => ({ ...row, completed: Boolean(row.completed) }));
    },

    /** The caller's tasks among `ids`, in no particular order; tasks deleted meanwhile are missing. */
    async findMany(scope: Scope, ids: number[]): Promise<Task[]> {
      if (ids.length === 0) return [];
      const rows = await visibleTasks(db, scope).select(COLUMNS).where('id', 'in', ids).execute();
      return rows.map(toTask);
    },

    async count(scope: Scope, filters: TaskFilters): Promise<number> {
      const [first, ...rest] = parts(scope, filters).map((part) => filtered(part.select('id'), filters, scope, dialect));
      const merged = rest.reduce((union, part) => union.unionAll(part), first!);
      const query = db.selectFrom(merged.as('visible')).select((eb) => eb.fn.countAll<number>().as('count'));
      return Number((await query.executeTakeFirstOrThrow()).count);
    },

    /**
     * Creates the caller's task, personal or in a list (the caller's role there was checked by
     * the use case, in its transaction); undefined when their account is gone (deleted meanwhile).
     */
    async create(executor: Executor, scope: Scope, changes: TaskChanges, now: string, placement: Placement = {}): Promise<Task | undefined> {
      const completed = changes.completed ?? false;
      const title = changes.title!;
      const description = changes.description ?? '';
      const [row] = await insertTask(executor, {
        userId: scope.userId,
        title,
        description,
        dueDate: changes.due_date ?? null,
        completed,
        now,
        completedAt: completed ? now : null,
        titleFolded: foldForSearch(title),
        descriptionFolded: foldForSearch(description),
        listId: placement.list_id ?? null,
        assigneeId: placement.assignee_id ?? null,
      });
      return row && toTask(row);
    },

    /**
     * Applies the changes; undefined when the caller may not change such a task, or (with
     * `expectedVersion`) when it was changed since that version was read: the check and the
     * write are one statement. A move to another list is checked by the use case (writes.ts).
     */
    async update(
      executor: Executor,
      scope: Scope,
      id: number,
      changes: TaskChanges & Placement,
      now: string,
      expectedVersion?: string,
    ): Promise<Task | undefined> {
      const values = { ...changes, ...foldedColumns(changes) };
      // As the query builder does, a column whose value is undefined is left as it is.
      const columns = (Object.keys(values) as UpdatedColumn[]).filter((column) => values[column] !== undefined).sort();
      const statement = updateStatement(columns, changes.completed, expectedVersion !== undefined);
      const [row] = await statement(executor, { ...values, userId: scope.userId, id, now, expectedVersion: expectedVersion ?? '' });
      return row && toTask(row);
    },

    /**
     * Deletes the task and leaves a deletion record for everyone who saw it (its owner, or each
     * member of its list), in one transaction; false when the caller may not delete such a task
     * (or, with `expectedVersion`, it changed since).
     */
    async remove(executor: Executor, scope: Scope, id: number, now: string, expectedVersion?: string): Promise<boolean> {
      return atomically(executor, async (trx) => {
        // The owner's row first, as an account deletion takes it before the tasks: locking in
        // the other order could deadlock with it on PostgreSQL. SQLite has one writer at a time,
        // whose transaction holds the write lock from its start.
        if (dialect === 'postgres' && (await ownerRow(trx, scope.userId).select('id').executeTakeFirst()) === undefined) return false;
        const deleted = await trx
          .deleteFrom('tasks')
          .where(editableBy(scope))
          .where('id', '=', id)
          .$if(expectedVersion !== undefined, (query) => query.where('updated_at', '=', expectedVersion!))
          .returning(['owner_id', 'list_id'])
          .executeTakeFirst();
        if (deleted === undefined) return false;
        await recordDeparture(trx, id, deleted.list_id === null ? [deleted.owner_id] : membersOf(trx, deleted.list_id), now);
        return true;
      });
    },

    /** Ids of tasks that left the caller's view at or after `since`, each once, oldest first. */
    deletedSince(scope: Scope, since: string): Promise<{ id: number; deleted_at: string }[]> {
      return visibleDeletions(db, scope)
        .select((eb) => ['task_id as id', eb.fn.max('deleted_at').as('deleted_at')])
        .where('deleted_at', '>=', since)
        .groupBy('task_id')
        .orderBy('deleted_at')
        .orderBy('task_id')
        .execute();
    },

    /** Forgets deletions older than the retention window. */
    async purgeTombstones(before: string): Promise<number> {
      const result = await db.deleteFrom('deleted_tasks').where('deleted_at', '<', before).executeTakeFirst();
      // The tasks of deleted lists whose records are all gone (forgotten, or their users deleted).
      await db
        .deleteFrom('deleted_list_tasks')
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('deleted_tasks').select('deleted_tasks.list_id').whereRef('deleted_tasks.list_id', '=', 'deleted_list_tasks.list_id'))),
        )
        .execute();
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

/**
 * Records that tasks left the view of users (deleted, moved away, or in a list they left or
 * that was deleted): what `/api/tasks/deleted/` and sync report. Either side may be a subquery;
 * one task is given by its id, as it may already be deleted.
 */
export async function recordDeparture(
  executor: Executor,
  tasks: number | SelectQueryBuilder<Tables, 'tasks', { id: number }>,
  users: number[] | SelectQueryBuilder<Tables, 'list_members', { user_id: number }>,
  now: string,
): Promise<void> {
  if (Array.isArray(users) && users.length === 0) return;
  await executor
    .insertInto('deleted_tasks')
    .columns(['task_id', 'owner_id', 'deleted_at'])
    .expression((eb) => {
      const recipients = (
        Array.isArray(users) ? eb.selectFrom('users').select('users.id as user_id').where('users.id', 'in', users) : users
      ).as('recipient');
      if (typeof tasks === 'number') {
        return eb.selectFrom(recipients).select((inner) => [inner.val(tasks).as('task_id'), 'recipient.user_id', inner.val(now).as('deleted_at')]);
      }
      return eb
        .selectFrom(recipients)
        .innerJoin(tasks.as('departed'), (join) => join.onTrue())
        .select((inner) => ['departed.id', 'recipient.user_id', inner.val(now).as('deleted_at')]);
    })
    .execute();
}

/** The members of a list, as a subquery. */
export function membersOf(executor: Executor, listId: number) {
  return executor.selectFrom('list_members').select('list_members.user_id').where('list_members.list_id', '=', listId);
}

type TaskColumn = (typeof COLUMNS)[number];

/** The name a selected column has in the result (`owner_id as owner` is `owner`). */
const outputName = (column: TaskColumn) => column.split(' as ').at(-1)!;

function ordered<Q extends { orderBy: (expression: never, direction: 'asc' | 'desc') => Q }>(query: Q, keys: SortKey[]): Q {
  for (const key of keys) query = query.orderBy(key.expression as never, key.descending ? 'desc' : 'asc');
  return query;
}

type TaskQueryBuilder<O> = SelectQueryBuilder<Tables, 'tasks', O>;

function filtered<O>(query: TaskQueryBuilder<O>, filters: TaskFilters, scope: Scope, dialect: Dialect): TaskQueryBuilder<O> {
  const today = new Date().toISOString().slice(0, 10);
  if (filters.assignee === 'none') query = query.where('assignee_id', 'is', null);
  else if (filters.assignee !== undefined) query = query.where('assignee_id', '=', filters.assignee === 'me' ? scope.userId : filters.assignee);
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
  if (filters.updatedSince !== undefined) {
    const since = filters.updatedSince;
    // A list the caller joined since then brings its tasks into their view, changed or not.
    query = query.where((eb) =>
      eb.or([
        eb('updated_at', '>=', since),
        eb(
          'list_id',
          'in',
          eb.selectFrom('list_members').select('list_members.list_id').where('list_members.user_id', '=', scope.userId).where('list_members.joined_at', '>=', since),
        ),
      ]),
    );
  }
  return query;
}
