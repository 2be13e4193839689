import type { Task } from '../tasks/schemas.js';
import type { ChangedTask, DeletedTask, SyncRepository, SyncScope } from './repository.js';
import type { SyncPosition } from './token.js';

/** Changes per reply: a page of the largest tasks stays a few megabytes. */
export const PAGE_SIZE = 100;

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
export async function nextPage(sync: SyncRepository, scope: SyncScope, position: SyncPosition): Promise<SyncOutcome> {
  const after = position.round ?? { changeId: position.from, id: 0 };
  const snapshot = await sync.read(scope, after, { deletions: position.from > 0, limit: PAGE_SIZE + 1 });
  const roundWatermark = position.round?.watermark ?? snapshot.watermark;
  // Watermarks never go back, so a larger one comes from another database or an older backup.
  if (position.from > snapshot.watermark || roundWatermark > snapshot.watermark) return { kind: 'invalid' };
  if (position.from > 0 && snapshot.purgedThrough >= position.from) return { kind: 'gone' };

  const changes = inChangeOrder(snapshot.changed, snapshot.deleted);
  const page = changes.slice(0, PAGE_SIZE);
  const more = changes.length > PAGE_SIZE;
  const last = page.at(-1)!;
  const next: SyncPosition = more
    ? { userId: position.userId, from: position.from, round: { watermark: roundWatermark, changeId: last.changeId, id: last.id } }
    : { userId: position.userId, from: roundWatermark };
  const changed: Task[] = [];
  const deleted: { id: number; deleted_at: string }[] = [];
  for (const change of page) {
    if ('task' in change) changed.push(change.task);
    else deleted.push({ id: change.id, deleted_at: change.deleted_at });
  }
  return { kind: 'page', position: next, more, changed, deleted };
}

/** Merges the two lists, each already in (change id, id) order. */
function inChangeOrder(changed: ChangedTask[], deleted: DeletedTask[]): (ChangedTask | DeletedTask)[] {
  const merged: (ChangedTask | DeletedTask)[] = [];
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

const before = (a: { changeId: number; id: number }, b: { changeId: number; id: number }) =>
  a.changeId < b.changeId || (a.changeId === b.changeId && a.id < b.id);
