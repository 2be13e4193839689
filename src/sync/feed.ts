import type { Task } from '../tasks/schemas.js';
import type { ChangeKey, Deletion, SyncRepository, SyncScope, TaskChange } from './repository.js';
import type { SyncPosition } from './token.js';

/** Changes per reply. */
export const PAGE_SIZE = 100;

/**
 * A page stops early once its tasks' titles and descriptions reach this many bytes (it always
 * holds one change), so that a reply, and the rows read for it, stay near a megabyte whatever
 * the tasks hold, and many clients syncing at once stay within the server's memory.
 */
export const PAGE_BYTES = 1_000_000;

export type SyncOutcome =
  | {
      kind: 'page';
      position: SyncPosition;
      more: boolean;
      changed: Task[];
      deleted: { id: number; deleted_at: string }[];
    }
  /** The token cannot have come from this database. */
  | { kind: 'invalid' }
  /** Deletions the client has not received were forgotten: it must sync from the beginning. */
  | { kind: 'gone' };

/**
 * The next page of a client's changes, and the position after it.
 *
 * Why no committed change is ever missed. Each read takes a watermark W in the snapshot it
 * reads from: every change with a change id below W is committed and visible in that snapshot,
 * and every change not visible in it (in flight, or still to come) gets a change id of W or
 * more (see repository.ts). A client at position `from` has every change below `from`. A round
 * of pages walks the caller's rows with change ids from `from` on, in (change id, id) order; the
 * position within the round may pass W, but when the round ends the client's next `from` is the
 * W of the round's first page. Every row whose latest change is below that W was visible
 * throughout the round and cannot move, since changing or deleting it gives it a change id of W
 * or more: the walk delivered it. Everything from W on is read again by the next round, so a
 * change may come twice, never not at all. Deletions are rows with change ids like tasks; a
 * deletion record the client may still need (change id >= `from`) is only ever removed with
 * `purged_through` raised to its change id in the same commit (unless the owner's account goes
 * with it), so the same snapshot either still has the record or answers `gone`.
 *
 * A first sync (`from` 0) starts from an empty copy, so it skips deletion records: a task
 * deleted during it has a record from its W on, which the next round reads.
 */
export function nextPage(sync: SyncRepository, scope: SyncScope, position: SyncPosition): Promise<SyncOutcome> {
  return sync.read(scope, async (reader): Promise<SyncOutcome> => {
    const { watermark, purgedThrough } = await reader.state();
    const roundWatermark = position.round?.watermark ?? watermark;
    // Watermarks never go back, so a larger one comes from another database or an older backup.
    if (position.from > watermark || roundWatermark > watermark) return { kind: 'invalid' };
    if (position.from > 0 && purgedThrough >= position.from) return { kind: 'gone' };

    const after: ChangeKey = position.round
      ? { changeId: position.round.changeId, id: position.round.id }
      : { changeId: position.from, id: 0 };
    const changes = inChangeOrder(
      await reader.taskChanges(after, PAGE_SIZE + 1),
      position.from > 0 ? await reader.deletions(after, PAGE_SIZE + 1) : [],
    );
    const page = withinBudget(changes);
    const more = page.length < changes.length;
    const last = page.at(-1);
    const next: SyncPosition = more
      ? { userId: position.userId, from: position.from, round: { watermark: roundWatermark, changeId: last!.changeId, id: last!.id } }
      : { userId: position.userId, from: roundWatermark };
    const changed = last === undefined ? [] : await reader.tasks(after, last);
    // A task can leave a view more than once (a member removed, added back, removed again).
    const departed = new Set<number>();
    const deleted = page.flatMap((change) =>
      'deleted_at' in change && !departed.has(change.id) && departed.add(change.id) ? [{ id: change.id, deleted_at: change.deleted_at }] : [],
    );
    return { kind: 'page', position: next, more, changed, deleted };
  });
}

/** The first changes, up to PAGE_SIZE of them and PAGE_BYTES of task text, and at least one. */
function withinBudget(changes: (TaskChange | Deletion)[]): (TaskChange | Deletion)[] {
  let bytes = 0;
  let count = 0;
  while (count < changes.length && count < PAGE_SIZE) {
    const change = changes[count]!;
    bytes += 'bytes' in change ? change.bytes : 0;
    if (count > 0 && bytes > PAGE_BYTES) break;
    count += 1;
  }
  return changes.slice(0, count);
}

/** Merges the two lists, each already in (change id, id) order. */
function inChangeOrder(changed: TaskChange[], deleted: Deletion[]): (TaskChange | Deletion)[] {
  const merged: (TaskChange | Deletion)[] = [];
  let [c, d] = [0, 0];
  while (c < changed.length || d < deleted.length) {
    const task = changed[c];
    const deletion = deleted[d];
    if (deletion === undefined || (task !== undefined && before(task, deletion))) {
      merged.push(task!);
      c += 1;
    } else {
      merged.push(deletion);
      d += 1;
    }
  }
  return merged;
}

const before = (a: ChangeKey, b: ChangeKey) =>
  a.changeId < b.changeId || (a.changeId === b.changeId && a.id < b.id);
