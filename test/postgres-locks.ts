import type { TestContext } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../src/db/database.js';
import { TEST_DATABASE_URL } from './helpers.js';

/**
 * PostgreSQL: a second connection on the test's schema, to hold row locks from outside the app
 * and so stop a change at its worst moment.
 */
export async function blockerFor(t: TestContext, database: Database) {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(database.db);
  const blocker = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${rows[0]!.schema}` });
  await blocker.connect();
  t.after(() => blocker.end());
  return {
    /** Runs `statement` in a transaction left open until `release()`. */
    async hold(statement: string, parameters: unknown[]) {
      await blocker.query('begin');
      await blocker.query(statement, parameters);
      const { rows: pids } = await blocker.query<{ pid: number }>('select pg_backend_pid() as pid');
      return { pid: pids[0]!.pid, release: () => blocker.query('rollback') };
    },
  };
}

/**
 * Waits until `count` backends wait, directly or through others, on the blocker's locks; or,
 * given `racing`, until it settles without waiting (which the assertions after then catch).
 */
export async function untilWaiting(database: Database, blockerPid: number, count: number, racing?: Promise<unknown>) {
  let settled = false;
  void racing?.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let attempt = 0; attempt < 1000 && !settled; attempt++) {
    const { rows } = await sql<{ waiting: number }>`
      with recursive waiting(pid) as (
        select pid from pg_stat_activity where ${blockerPid}::int = any(pg_blocking_pids(pid))
        union
        select activity.pid from pg_stat_activity activity join waiting on waiting.pid = any(pg_blocking_pids(activity.pid))
      ) select count(*)::int as waiting from waiting`.execute(database.db);
    if (rows[0]!.waiting >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!settled) throw new Error(`fewer than ${count} backends waited on ${blockerPid}`);
}
