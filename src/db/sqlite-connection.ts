import SQLite from 'better-sqlite3';
import type { StatementCache } from './group-commit.js';

// Opening SQLite connections and caching their statements, on the event loop's thread or the writer's.

/**
 * Each connection has its own page cache, 16 MB by default in better-sqlite3. Hot reads need
 * few pages at a time (the token and user indexes, the upper levels of the task b-trees; the
 * rest is in the OS's file cache), so their connection keeps SQLite's own default of 2 MB and
 * the server's memory stays near that of one connection.
 */
export const HOT_READ_CACHE_KIB = 2000;

export function connectSqlite(path: string, cacheKib?: number): SQLite.Database {
  const sqlite = new SQLite(path);
  if (cacheKib !== undefined) sqlite.pragma(`cache_size = -${cacheKib}`);
  sqlite.pragma('journal_mode = WAL');
  // FULL: an acknowledged write survives a power cut, not only a process crash.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return sqlite;
}

/**
 * Writes touch few pages each (a task's row and its index entries, and the b-trees' upper
 * levels); the rest comes from the OS's file cache at a system call each. A small cache leaves
 * room for the writer thread's own heap within the server's memory budget.
 */
const WRITER_CACHE_KIB = 4000;

/**
 * The connection that writes. Each write's savepoint journal holds the pages it changes first:
 * with a task's twelve indexes, often past the 64 KiB SQLite keeps in memory, and then it is
 * spilled to a new temporary file, about one per group commit. Kept in memory, a task's insert
 * costs about a third less CPU. Rolling back a savepoint is all it is for; crash recovery is
 * the WAL's.
 */
export function connectWriter(path: string): SQLite.Database {
  const sqlite = connectSqlite(path, WRITER_CACHE_KIB);
  sqlite.pragma('temp_store = MEMORY');
  return sqlite;
}

/** Enough for every statement the code builds in common use; clients choose list orderings. */
const MAX_CACHED_STATEMENTS = 256;

/**
 * Kysely's SQLite driver calls prepare() for every query; preparing costs several times more
 * than running a cached statement, so statements are cached by their SQL text, per connection.
 * The cache is least-recently-used and bounded, because list queries vary with the client's
 * filters and orderings.
 */
export function statementCache(sqlite: SQLite.Database): StatementCache {
  const statements = new Map<string, SQLite.Statement>();
  return {
    get(sql: string) {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = sqlite.prepare(withoutValuePlanning(sql));
        if (statements.size >= MAX_CACHED_STATEMENTS) statements.delete(statements.keys().next().value!);
      } else {
        statements.delete(sql); // re-inserted below as the most recently used
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}

/**
 * better-sqlite3's SQLite is built with STAT4. Under it, a statement whose plan may depend on a
 * bound value (an equality on an indexed column beside an ORDER BY, or a LIMIT) is compiled
 * again whenever a new value is bound: a list query then costs 15-100 µs more on every run.
 * The planner does not look through a unary plus, which is a no-op on any value, so each
 * placeholder outside a quoted string or name is written `+?`; plans are chosen once, at
 * prepare time. (SQLITE_DBCONFIG_ENABLE_QPSG does the same, but better-sqlite3 cannot set it.)
 */
export function withoutValuePlanning(sql: string): string {
  return sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|\?/g, (token) => (token === '?' ? '+?' : token));
}
