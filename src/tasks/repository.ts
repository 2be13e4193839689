import { sql } from 'kysely';
import type { Database } from '../db/database.js';
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

type TaskRow = Omit<Task, 'completed'> & { completed: boolean | number };

/** SQLite returns booleans as 0/1. */
export function toTask(row: TaskRow): Task {
  return { ...row, completed: Boolean(row.completed) };
}

export function createTasksRepository({ db, prepare }: Database) {
  // The two statements behind most requests, compiled once. Parameters: owner id[, task id].
  const byId = prepare(db.selectFrom('tasks').select(COLUMNS).where('owner_id', '=', 0).where('id', '=', 0));
  const all = prepare(db.selectFrom('tasks').select(COLUMNS).where('owner_id', '=', 0).orderBy('id'));

  return {
    async find(ownerId: number, id: number): Promise<Task | undefined> {
      const row = (await byId(ownerId, id))[0];
      return row && toTask(row);
    },

    async list(ownerId: number): Promise<Task[]> {
      return (await all(ownerId)).map(toTask);
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

    /** Applies the changes; undefined when the owner has no such task (any more). */
    async update(ownerId: number, id: number, changes: TaskChanges, now: string): Promise<Task | undefined> {
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
        .returning(COLUMNS)
        .executeTakeFirst();
      return row && toTask(row);
    },

    /** Deletes the task; false when the owner has no such task. */
    async remove(ownerId: number, id: number): Promise<boolean> {
      const result = await db.deleteFrom('tasks').where('owner_id', '=', ownerId).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },
  };
}
