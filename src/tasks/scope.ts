import type { ExpressionBuilder } from 'kysely';
import type { Executor } from '../db/database.js';
import type { Tables } from '../db/tables.js';

/**
 * Whose request a statement serves. Every statement on tasks or deletion records starts from
 * this file, so what a caller may see is defined once: a new kind of access changes only here.
 */
export interface Scope {
  userId: number;
}

/** The condition a task must meet to be seen by the caller; for reads, updates and deletions alike. */
export function visibleTo(scope: Scope) {
  return (eb: ExpressionBuilder<Tables, 'tasks'>) => eb('tasks.owner_id', '=', scope.userId);
}

/** The only way to start a read of tasks. */
export function visibleTasks(executor: Executor, scope: Scope) {
  return executor.selectFrom('tasks').where(visibleTo(scope));
}

/** The records of tasks that left the caller's view (deleted, for now). */
export function visibleDeletions(executor: Executor, scope: Scope) {
  return executor.selectFrom('deleted_tasks').where('deleted_tasks.owner_id', '=', scope.userId);
}
