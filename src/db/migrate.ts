import { Migrator, sql, type Migration, type MigrationResultSet } from 'kysely';
import { isSqlite } from './migrations/column-types.js';
import type { Db } from './database.js';
import * as initial from './migrations/001_initial.js';
import * as taskQueries from './migrations/002_task_queries.js';
import * as sync from './migrations/003_sync.js';
import * as sessionEpochAndFoldedText from './migrations/004_session_epoch_and_folded_text.js';
import * as lists from './migrations/005_lists.js';
import * as staffAndAudit from './migrations/006_staff_and_audit.js';
import * as passwordReset from './migrations/007_password_reset.js';
import * as browserSessions from './migrations/008_browser_sessions.js';
import * as taskChangeIdOnInsert from './migrations/009_task_change_id_on_insert.js';

/** Listed explicitly so the same list works from TypeScript sources and from the build. */
const migrations: Record<string, Migration> = {
  '001_initial': initial,
  '002_task_queries': taskQueries,
  '003_sync': sync,
  '004_session_epoch_and_folded_text': sessionEpochAndFoldedText,
  '005_lists': lists,
  '006_staff_and_audit': staffAndAudit,
  '007_password_reset': passwordReset,
  '008_browser_sessions': browserSessions,
  '009_task_change_id_on_insert': taskChangeIdOnInsert,
};

async function migrator(db: Db): Promise<Migrator> {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    // Kysely looks for its bookkeeping tables in every schema unless told which one; another
    // schema's copy (another app, a parallel test run) must not count as ours.
    migrationTableSchema: await currentSchema(db),
  });
}

/** Names of the migrations not yet applied to this database. */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const known = await (await migrator(db)).getMigrations();
  return known.filter((migration) => migration.executedAt === undefined).map((migration) => migration.name);
}

export async function migrateToLatest(db: Db): Promise<string[]> {
  const result: MigrationResultSet = await (await migrator(db)).migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`Migration ${failed} failed: ${(result.error as Error).message ?? result.error}`, {
      cause: result.error,
    });
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

async function currentSchema(db: Db): Promise<string | undefined> {
  if (isSqlite(db as never)) return undefined;
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return rows[0]?.schema;
}
