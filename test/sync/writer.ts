/**
 * A second process that writes one user's tasks through the tasks repository while a test
 * syncs them from the server's process: on SQLite the two then contend for the same file, as
 * the command line and the server do. Settings come from the environment (see concurrent.test.ts);
 * it exits with 0 when every operation ran.
 */
import SQLite from 'better-sqlite3';
import { now } from '../../src/db/clock.js';
import { createDatabase } from '../../src/db/database.js';
import { createTasksRepository } from '../../src/tasks/repository.js';
import { randomGenerator } from './random.js';

const url = process.env.WRITER_DATABASE_URL!;
const schema = process.env.WRITER_SCHEMA || undefined;
const ownerId = Number(process.env.WRITER_OWNER);
const operations = Number(process.env.WRITER_OPERATIONS);
const random = randomGenerator(Number(process.env.WRITER_SEED));

const database = createDatabase(url, { schema, poolSize: 4 });
const tasks = createTasksRepository(database);
const remove = url.startsWith('sqlite:') ? immediateRemover(url.slice('sqlite:'.length)) : (id: number) => tasks.remove(database.db, { userId: ownerId }, id, now());

/**
 * The repository's remove reads before it writes, in a transaction that asks for SQLite's write
 * lock only at its first write; SQLite refuses that upgrade at once, without waiting, when
 * another process has written meanwhile. The same deletion here takes the lock as it begins.
 */
function immediateRemover(file: string): (id: number) => Promise<void> {
  const connection = new SQLite(file);
  connection.pragma('busy_timeout = 5000');
  const deleteTask = connection.prepare('delete from tasks where owner_id = ? and id = ?');
  const record = connection.prepare('insert into deleted_tasks (task_id, owner_id, deleted_at) values (?, ?, ?)');
  const removeTask = connection.transaction((id: number, at: string) => {
    if (deleteTask.run(ownerId, id).changes > 0) record.run(id, ownerId, at);
  });
  return async (id) => removeTask.immediate(id, now());
}

async function ownIds(): Promise<number[]> {
  const rows = await database.db.selectFrom('tasks').select('id').where('owner_id', '=', ownerId).execute();
  return rows.map((row) => Number(row.id));
}

async function main(): Promise<void> {
  let ids = await ownIds();
  let written = 0;
  // A few operations at a time, so that on PostgreSQL this process's commits interleave too.
  const parallel = 3;
  while (written < operations) {
    if (written % 20 === 0) ids = await ownIds();
    const batch = Array.from({ length: Math.min(parallel, operations - written) }, () => {
      const roll = random();
      const id = ids[Math.floor(random() * ids.length)];
      if (roll < 0.3 || id === undefined) {
        return tasks.create(database.db, { userId: ownerId }, { title: `From the other process ${written}` }, now()).then((task) => void (task && ids.push(task.id)));
      }
      if (roll < 0.8) return tasks.update(database.db, { userId: ownerId }, id, { title: `Changed by the other process ${written}`, completed: random() < 0.5 }, now());
      return remove(id);
    });
    await Promise.all(batch);
    written += batch.length;
  }
}

main().then(
  async () => {
    await database.close();
    process.exit(0);
  },
  async (error: unknown) => {
    console.error(error);
    await database.close();
    process.exit(1);
  },
);
