import { atomically, dialectOf, type Executor } from '../db/database.js';
import type { BodyData } from '../http/body.js';
import { FieldErrorCollector, forbidden } from '../http/errors.js';
import { doesNotExist, parseReference } from '../http/fields.js';
import { hasRole, lockList, roleIn } from '../lists/repository.js';
import { membersOf, recordDeparture, type Placement, type TasksRepository } from './repository.js';
import type { Task } from './schemas.js';
import { visibleTo, type Scope } from './scope.js';
import { collectTaskChanges, type WriteMode } from './validate.js';

type Reference = { id: number; sent: string } | null;

/** `list` and `assignee` as sent; undefined: not sent, so unchanged. */
interface RequestedPlacement {
  list?: Reference;
  assignee?: Reference;
}

export interface TaskWrite {
  scope: Scope;
  body: BodyData;
  mode: WriteMode;
  now: string;
  /** The task as the caller saw it before the body was read; undefined when creating. */
  current?: Task;
  expectedVersion?: string;
}

/**
 * Creates or changes a task. A personal task that stays personal is one statement, as before
 * lists. Anything that involves a list (creating in one, moving, assigning) runs in one
 * transaction that locks the lists concerned (PostgreSQL) and checks the caller's roles and
 * the assignee's membership there, so a membership change cannot slip between check and
 * write. Outcomes keep their order: 403 for a list the caller may see but not write, then
 * every field error at once (400). Undefined: the task is gone or changed since (If-Match).
 */
export async function saveTask(executor: Executor, tasks: TasksRepository, write: TaskWrite): Promise<Task | undefined> {
  const errors = new FieldErrorCollector();
  const changes = collectTaskChanges(write.body, write.mode, errors);
  const requested = collectPlacement(write.body, errors);
  const { scope, current, now, expectedVersion } = write;
  if (requested.list === undefined && requested.assignee === undefined && (current?.list ?? null) === null) {
    errors.throwIfAny();
    return current === undefined ? tasks.create(executor, scope, changes, now) : tasks.update(executor, scope, current.id, changes, now, expectedVersion);
  }
  return atomically(executor, async (trx) => {
    const before = current === undefined ? undefined : await lockedTask(trx, scope, current, requested);
    if (current !== undefined && before === undefined) return undefined;
    if (before === undefined) await lockLists(trx, [targetOf(requested, null)]);
    const placement = await checkPlacement(trx, scope, before, requested, errors);
    errors.throwIfAny();
    if (before === undefined) return tasks.create(trx, scope, changes, now, placement);
    const updated = await tasks.update(trx, scope, before.id, { ...changes, ...placement }, now, expectedVersion);
    if (updated !== undefined && updated.list !== before.list) await recordMove(trx, before, updated, now);
    return updated;
  });
}

function collectPlacement(body: BodyData, errors: FieldErrorCollector): RequestedPlacement {
  const placement: RequestedPlacement = {};
  for (const field of ['list', 'assignee'] as const) {
    if (body[field] === undefined) continue;
    const parsed = parseReference(body[field]);
    if (parsed.ok) placement[field] = parsed.value;
    else errors.add(field, parsed.messages);
  }
  return placement;
}

type Located = Pick<Task, 'id' | 'owner'> & { list: number | null };

/** The list a write puts the task in: the one requested, else the one it is in. */
const targetOf = (requested: RequestedPlacement, from: number | null) =>
  requested.list === undefined ? from : (requested.list?.id ?? null);

/**
 * The task's place now, locked against other writes (PostgreSQL) until the transaction ends,
 * with the lists the write involves locked first (shared), as membership changes lock a list
 * before its tasks: locking in the other order could deadlock with them. Should the task have
 * moved since it was read, the locks are taken again for its new list.
 */
async function lockedTask(trx: Executor, scope: Scope, current: Task, requested: RequestedPlacement): Promise<Located | undefined> {
  const placing = requested.list !== undefined || requested.assignee !== undefined;
  let from = current.list;
  for (;;) {
    if (placing) await lockLists(trx, [from, targetOf(requested, from)]);
    const located = await trx
      .selectFrom('tasks')
      .select(['id', 'owner_id as owner', 'list_id as list'])
      .where('id', '=', current.id)
      .where(visibleTo(scope))
      .$if(dialectOf(trx) === 'postgres', (query) => query.forUpdate())
      .executeTakeFirst();
    if (located === undefined || !placing || located.list === from) return located;
    from = located.list;
  }
}

/** Shared locks on lists (PostgreSQL), in id order; a list deleted meanwhile is skipped. */
async function lockLists(trx: Executor, ids: (number | null)[]): Promise<void> {
  const lists = [...new Set(ids.filter((id): id is number => id !== null && id > 0))].sort((a, b) => a - b);
  for (const id of lists) await lockList(trx, id, 'share');
}

/**
 * Where the task goes and to whom it is assigned, as the caller may place it (the lists are
 * locked already, so roles and memberships read here hold until the write commits):
 * - into a list, the editor role there (403 for a viewer; a list the caller is not in is one
 *   that does not exist, a field error);
 * - out of a list into personal tasks, only the task's owner (403 for other editors);
 * - an assignee, a member of the task's list (after the move); a move clears the assignee.
 */
async function checkPlacement(
  trx: Executor,
  scope: Scope,
  before: Located | undefined,
  requested: RequestedPlacement,
  errors: FieldErrorCollector,
): Promise<Placement> {
  const from = before?.list ?? null;
  const to = requested.list === undefined ? from : (requested.list?.id ?? null);
  const placement: Placement = {};
  if (to !== from || (before === undefined && to !== null)) {
    placement.list_id = to;
    placement.assignee_id = null;
    if (to === null && before !== undefined && before.owner !== scope.userId) throw forbidden();
    if (to !== null) {
      // A list deleted meanwhile has no members any more: the caller has no role there.
      const role = await roleIn(trx, scope, to);
      if (role === undefined) errors.add('list', doesNotExist(requested.list!.sent));
      else if (!hasRole(role, 'editor')) throw forbidden();
    }
  }
  const assignee = requested.assignee;
  if (assignee === undefined) return placement;
  if (assignee === null) return { ...placement, assignee_id: null };
  if (to === null) {
    errors.add('assignee', 'Personal tasks cannot be assigned.');
    return placement;
  }
  const member = await trx.selectFrom('list_members').select('user_id').where('list_id', '=', to).where('user_id', '=', assignee.id).executeTakeFirst();
  if (member === undefined) errors.add('assignee', `User ${assignee.sent} is not a member of this list.`);
  return { ...placement, assignee_id: assignee.id };
}

/** Who saw the task before a move and does not after it gets a deletion record. */
async function recordMove(trx: Executor, before: Located, after: Task, now: string): Promise<void> {
  const viewers = async (list: number | null, owner: number) =>
    list === null ? [owner] : (await membersOf(trx, list).execute()).map((row) => row.user_id);
  const still = new Set(await viewers(after.list, after.owner));
  const lost = (await viewers(before.list, before.owner)).filter((user) => !still.has(user));
  await recordDeparture(trx, before.id, lost, now);
}
