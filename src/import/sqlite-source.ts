import SQLite from 'better-sqlite3';
import { resolve } from 'node:path';
import { sqlitePath } from '../config.js';
import { missingTables, notTheOriginal, reason, selectAll, SourceError, type DjangoRows, type DjangoTable } from './source.js';

/**
 * Reads the original's SQLite file (a path, or a `sqlite:` URL as DATABASE_URL takes them),
 * opened read-only: the import never changes its source.
 */
export async function readSqliteSource(location: string): Promise<DjangoRows> {
  const path = location.startsWith('sqlite:') ? sqlitePath(location) : resolve(location);
  let sqlite: SQLite.Database;
  try {
    sqlite = new SQLite(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new SourceError(`Cannot open the SQLite database ${path}: ${reason(error)}`);
  }
  try {
    // One read transaction: the three tables as of one moment, should the original still run.
    return sqlite.transaction(() => readTables(sqlite, path))();
  } catch (error) {
    if (error instanceof SourceError) throw error;
    throw new SourceError(`Cannot read ${path}: ${reason(error)}`);
  } finally {
    sqlite.close();
  }
}

function readTables(sqlite: SQLite.Database, path: string): DjangoRows {
  const tables = sqlite.prepare("select name from sqlite_master where type = 'table'").pluck().all() as string[];
  const missing = missingTables(tables);
  if (missing.length > 0) throw notTheOriginal(path, missing);
  // Integers as BigInt, so that one beyond 2^53 is refused rather than silently rounded.
  const rows = (table: DjangoTable) => sqlite.prepare(selectAll(table)).safeIntegers(true).all() as never[];
  return { users: rows('auth_user'), tokens: rows('authtoken_token'), tasks: rows('tasks_task') };
}
