import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type SQLite from 'better-sqlite3';
import { Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, type Compilable, type Driver } from 'kysely';
import { bindable, GroupCommitDriver } from './group-commit.js';
import { connectSqlite, connectWriter, HOT_READ_CACHE_KIB, statementCache, withoutValuePlanning } from './sqlite-connection.js';
import { WriterThreadDriver, type LocalReads } from './writer-client.js';
import type { Tables } from './tables.js';
import type { Database } from './database.js';
import { binder, namedParameters } from './parameters.js';

export function openSqlite(path: string): Database {
  if (path === ':memory:') {
    // One connection, on this thread: each unit commits as it ends.
    const sqlite = connectWriter(path);
    return withKysely(new GroupCommitDriver(sqlite, statementCache(sqlite), { commitEachUnit: true }), sqlite);
  }
  mkdirSync(dirname(path), { recursive: true });
  // Opened on this thread first, so that a file that cannot be opened fails at once.
  const snapshots = readSnapshots(connectSqlite(path, HOT_READ_CACHE_KIB));
  const driver = new WriterThreadDriver(path, snapshots);
  const database = withKysely(driver, snapshots.connection, snapshots);
  return { ...database, close: () => database.close().then(() => driver.destroy()) };
}

/**
 * SQLite runs schema changes in transactions; told so, Kysely's migrator applies its run of
 * migrations in one, whole or not at all, as one unit of the writer.
 */
class TransactionalDdlAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

function withKysely(driver: Driver, reading: SQLite.Database, snapshots?: ReadSnapshots): Database {
  const db = new Kysely<Tables>({
    dialect: {
      createAdapter: () => new TransactionalDdlAdapter(),
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
      const compiled = build(namedParameters<P>()).compile();
      const statement = reading.prepare(withoutValuePlanning(compiled.sql));
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

type ReadSnapshots = ReturnType<typeof readSnapshots>;

/**
 * Every SQLite statement outside a transaction is a transaction of its own, and starting and
 * ending one takes four file-lock system calls: about half of what a one-row read costs in the
 * server. Reads outside transactions therefore run on a second connection, in one read
 * transaction shared by every read of the same turn of the event loop. It ends when the turn
 * does, and as the writer thread answers the end of a unit (see WriterThreadDriver), so a read
 * always sees every write this process has acknowledged, and other processes' writes from the
 * next turn on.
 */
function readSnapshots(connection: SQLite.Database): LocalReads & { connection: SQLite.Database } {
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
    readerOf(sql: string) {
      let statement: SQLite.Statement;
      try {
        statement = statements.get(sql);
      } catch {
        // A table this connection cannot see yet, say: the writer thread will tell.
        return undefined;
      }
      return statement.readonly && statement.reader ? statement : undefined;
    },
    end,
    close() {
      end();
      connection.close();
    },
  };
}
