import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, type Compilable } from 'kysely';
import { bindable, GroupCommitDriver, type StatementCache } from './group-commit.js';
import type { Tables } from './tables.js';
import type { Database } from './database.js';
import { binder, namedParameters } from './parameters.js';

export function openSqlite(path: string): Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = connectSqlite(path);
  // Each write's savepoint journal holds the pages it changes first: with a task's twelve
  // indexes, often past the 64 KiB SQLite keeps in memory, and then it is spilled to a new
  // temporary file, about one per group commit. Kept in memory, a task's insert costs about
  // a third less CPU. Rolling back a savepoint is all it is for; crash recovery is the WAL's.
  sqlite.pragma('temp_store = MEMORY');
  // A second connection to the same file; an in-memory database has no second connection.
  const snapshots = path === ':memory:' ? undefined : readSnapshots(connectSqlite(path, HOT_READ_CACHE_KIB));
  const driver = new GroupCommitDriver(sqlite, statementCache(sqlite), snapshots);
  const db = new Kysely<Tables>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
  return {
    db,
    dialect: 'sqlite',
    prepare<P extends object, R>(build: (parameters: P) => Compilable<R>) {
      // Hot reads run their statement directly: better-sqlite3 is synchronous, so Kysely's
      // connection queue would only add latency.
      const connection = snapshots?.connection ?? sqlite;
      const compiled = build(namedParameters<P>()).compile();
      const statement = connection.prepare(withoutValuePlanning(compiled.sql));
      if (!statement.readonly) throw new Error(`prepare() is for reads only: ${statement.source}`);
      const bind = binder<P>(compiled.parameters);
      // In memory, one connection: the read takes its turn, so it never sees a unit's writes
      // before its end.
      if (snapshots === undefined) return async (values: P) => (await db.executeQuery<R>({ ...compiled, parameters: bind(values) })).rows;
      return async (values: P) => snapshots.run(statement, bindable(bind(values))) as R[];
    },
    close: () => db.destroy(),
  };
}

/**
 * Each connection has its own page cache, 16 MB by default in better-sqlite3. Hot reads need
 * few pages at a time (the token and user indexes, the upper levels of the task b-trees; the
 * rest is in the OS's file cache), so their connection keeps SQLite's own default of 2 MB and
 * the server's memory stays near that of one connection.
 */
const HOT_READ_CACHE_KIB = 2000;

function connectSqlite(path: string, cacheKib?: number): SQLite.Database {
  const sqlite = new SQLite(path);
  if (cacheKib !== undefined) sqlite.pragma(`cache_size = -${cacheKib}`);
  sqlite.pragma('journal_mode = WAL');
  // FULL: an acknowledged write survives a power cut, not only a process crash.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  return sqlite;
}


type ReadSnapshots = ReturnType<typeof readSnapshots>;

/**
 * Every SQLite statement outside a transaction is a transaction of its own, and starting and
 * ending one takes four file-lock system calls: about half of what a one-row read costs in the
 * server. Reads outside transactions therefore run on a second connection, in one read
 * transaction shared by every read of the same turn of the event loop. It ends when the turn
 * does, whenever the main connection starts a write or a transaction, and before its every
 * commit (see GroupCommitDriver), so a read always sees every write this process has
 * acknowledged, and other processes' writes from the next turn on.
 */
function readSnapshots(connection: SQLite.Database) {
  const begin = connection.prepare('BEGIN');
  // The transaction only read, so ending it either way is the same; ROLLBACK cannot be busy.
  const rollback = connection.prepare('ROLLBACK');
  const statements = statementCache(connection);
  let open = false;
  const end = () => {
    if (!open) return;
    open = false;
    if (connection.inTransaction) rollback.run();
  };
  const run = (statement: SQLite.Statement, parameters: unknown[]): unknown[] => {
    if (!open) {
      begin.run();
      open = true;
      setImmediate(end);
    }
    return statement.all(parameters);
  };
  return {
    connection,
    run,
    all: (sql: string, parameters: unknown[]) => run(statements.get(sql), parameters),
    end,
    close() {
      end();
      connection.close();
    },
  };
}

/** Enough for every statement the code builds in common use; clients choose list orderings. */
const MAX_CACHED_STATEMENTS = 256;

/**
 * Kysely's SQLite driver calls prepare() for every query; preparing costs several times more
 * than running a cached statement, so statements are cached by their SQL text, per connection.
 * The cache is least-recently-used and bounded, because list queries vary with the client's
 * filters and orderings.
 */
function statementCache(sqlite: SQLite.Database): StatementCache {
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
