/**
 * A second process that writes one user's tasks through the tasks repository while a test
 * syncs them from the server's process: on SQLite the two then contend for the same file, as
 * the command line and the server do. Settings come from the environment (see concurrent.test.ts);
 * it exits with 0 when every operation ran.
 */
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
        return tasks.create(ownerId, { title: `From the other process ${written}` }, now()).then((task) => void ids.push(task.id));
      }
      if (roll < 0.8) return tasks.update(ownerId, id, { title: `Changed by the other process ${written}`, completed: random() < 0.5 }, now());
      return tasks.remove(ownerId, id, now());
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
