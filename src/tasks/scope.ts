import type { ExpressionBuilder } from 'kysely';
import type { Executor } from '../db/database.js';
import type { Role, Tables } from '../db/tables.js';

/**
 * Whose request a statement serves. Every statement on tasks or deletion records starts from
 * this file, so what a caller may see is defined once: a new kind of access changes only here.
 *
 * A caller sees their personal tasks (no list) and every task of every list they are a member
 * of, whoever created it. Writing a list's task takes the editor role there (`editableBy`).
 */
export interface Scope {
  userId: number;
  /**
   * True when the caller was in no list as the request was authenticated (read with the
   * session, in one statement): the shared part of the view was empty then, and the first page
   * reads the personal part alone. A list joined since counts from the caller's next request,
   * as if this one had been read a moment earlier.
   */
  inNoList?: boolean;
}

type TaskExpressions = ExpressionBuilder<Tables, 'tasks'>;

/** The caller's own tasks outside any list. */
export function personal(scope: Scope) {
  return (eb: TaskExpressions) => eb.and([eb('tasks.owner_id', '=', scope.userId), eb('tasks.list_id', 'is', null)]);
}

/** Tasks of the lists in which the caller has one of `roles`. */
export function shared(scope: Scope, roles?: Role[]) {
  return (eb: TaskExpressions) =>
    eb(
      'tasks.list_id',
      'in',
      eb
        .selectFrom('list_members')
        .select('list_members.list_id')
        .where('list_members.user_id', '=', scope.userId)
        .$if(roles !== undefined, (query) => query.where('list_members.role', 'in', roles!)),
    );
}

/** The condition a task must meet to be seen by the caller; for reads, updates and deletions alike. */
export function visibleTo(scope: Scope) {
  return (eb: TaskExpressions) => eb.or([personal(scope)(eb), shared(scope)(eb)]);
}

/** The condition a task must meet to be changed or deleted by the caller. */
export function editableBy(scope: Scope) {
  return (eb: TaskExpressions) => eb.or([personal(scope)(eb), shared(scope, ['owner', 'editor'])(eb)]);
}

/** The only way to start a read of tasks. */
export function visibleTasks(executor: Executor, scope: Scope) {
  return executor.selectFrom('tasks').where(visibleTo(scope));
}

/**
 * The two parts of what the caller sees, for ordered pages: each can be read in index order
 * (the owner's indexes, the lists' indexes) and stop after a page, where one query with an OR
 * would read and sort every visible task.
 */
export function visibleParts(executor: Executor, scope: Scope) {
  return {
    personal: executor.selectFrom('tasks').where(personal(scope)),
    shared: executor.selectFrom('tasks').where(shared(scope)),
  };
}

/**
 * Records of tasks that left the caller's view (`task_id`, `deleted_at`, `change_id`): deleted,
 * moved where the caller cannot see them, in a list the caller left, or in a list that was
 * deleted (one record for the list, which stands for each of its tasks). A task the caller sees
 * again (moved back, list rejoined) is not reported, whatever its records say.
 */
export function visibleDeletions(executor: Executor, scope: Scope) {
  const ofTasks = executor
    .selectFrom('deleted_tasks')
    .select([(eb) => eb.ref('deleted_tasks.task_id').$notNull().as('task_id'), 'deleted_tasks.deleted_at', 'deleted_tasks.change_id'])
    .where('deleted_tasks.owner_id', '=', scope.userId)
    .where('deleted_tasks.list_id', 'is', null);
  const ofLists = executor
    .selectFrom('deleted_tasks')
    .innerJoin('deleted_list_tasks', 'deleted_list_tasks.list_id', 'deleted_tasks.list_id')
    .select(['deleted_list_tasks.task_id', 'deleted_tasks.deleted_at', 'deleted_tasks.change_id'])
    .where('deleted_tasks.owner_id', '=', scope.userId);
  return executor
    .selectFrom(ofTasks.unionAll(ofLists).as('deletion'))
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('tasks').select('tasks.id').whereRef('tasks.id', '=', 'deletion.task_id').where(visibleTo(scope)))),
    );
}
