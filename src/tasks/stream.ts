import { Readable } from 'node:stream';
import type { MemoryBudget } from '../http/memory-budget.js';
import { BATCH_SIZE } from './listing.js';
import type { Task } from './schemas.js';
import { MAX_DESCRIPTION_LENGTH, MAX_TITLE_LENGTH } from './validate.js';

/**
 * What one task can take in memory at most while it is read and serialized: JavaScript keeps a
 * character outside the Basic Multilingual Plane as two 16-bit units, and its JSON text takes
 * as much again. Tasks stored before the length limits (imported ones) may be longer: what a
 * batch really took is counted once it is serialized.
 */
const MAX_TASK_BYTES = 2 * 4 * (MAX_TITLE_LENGTH + MAX_DESCRIPTION_LENGTH) + 1024;

export interface TaskStreamSource {
  /** The tasks of the reply, in order. */
  ids: number[];
  /** Reads the tasks among some ids, in any order; tasks deleted meanwhile are left out. */
  load(ids: number[]): Promise<Task[]>;
  /** The JSON array of some tasks. */
  serialize(tasks: Task[]): string;
  /** The JSON before and after the array's items. */
  prefix: string;
  suffix: string;
  budget: MemoryBudget;
}

/**
 * A JSON reply of many tasks, read one batch at a time as the client takes them: the next batch
 * is read only once the previous one has left for the socket, and each batch holds its share of
 * the process's memory budget until then. A slow or stalled client thus holds one batch at most,
 * and many clients together never more than the budget.
 */
export function streamTasks({ ids, load, serialize, prefix, suffix, budget }: TaskStreamSource): Readable {
  let position = 0;
  let held = 0;
  let started = false;
  let sentAny = false;

  const giveBack = () => {
    budget.release(held);
    held = 0;
  };

  async function nextChunk(stream: Readable): Promise<string | null> {
    while (position < ids.length) {
      const batch = ids.slice(position, position + BATCH_SIZE);
      position += batch.length;
      const wanted = batch.length * MAX_TASK_BYTES;
      await budget.acquire(wanted);
      held = wanted;
      // The client may have gone while this reply waited its turn.
      if (stream.destroyed) {
        giveBack();
        return null;
      }
      const byId = new Map((await load(batch)).map((task) => [task.id, task]));
      const tasks = batch.map((id) => byId.get(id)).filter((task) => task !== undefined);
      if (tasks.length === 0) {
        giveBack();
        continue;
      }
      const items = serialize(tasks).slice(1, -1);
      // Once serialized, only the text is held; count what it really takes.
      const size = 2 * items.length;
      if (size < held) {
        budget.release(held - size);
        held = size;
      }
      const chunk = sentAny ? `,${items}` : items;
      sentAny = true;
      return chunk;
    }
    return null;
  }

  return new Readable({
    // Called when the consumer wants more, that is, once what was pushed before has drained.
    read() {
      giveBack();
      if (!started) {
        started = true;
        this.push(prefix);
        return;
      }
      nextChunk(this).then(
        (chunk) => {
          if (this.destroyed) return;
          if (chunk !== null) return void this.push(chunk);
          this.push(suffix);
          this.push(null);
        },
        (error: unknown) => this.destroy(error as Error),
      );
    },
    destroy(error, callback) {
      giveBack();
      callback(error);
    },
  });
}
