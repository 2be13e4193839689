import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  sql,
  PostgresAdapter,
  PostgresDialect,
  SqliteDialect,
  type Compilable,
  type PostgresPool,
  type PostgresPoolClient,
} from 'kysely';
import pg from 'pg';
import { sqlitePath, type Config } from '../config.js';
import type { Tables } from './tables.js';
import { isDatabaseUnavailable } from './errors.js';

export type Dialect = 'sqlite' | 'postgres';
export type Db = Kysely<Tables>;

/**
 * What a repository function runs on: the database, or a transaction a use case opened on it
 * (a Transaction is a Kysely instance), so that a change to several tables commits as one.
 */
export type Executor = Kysely<Tables>;

export function dialectOf(executor: Executor): Dialect {
  return executor.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/**
 * Runs `work` in a transaction: the executor's own if it is one, else a new one. A new one that
 * PostgreSQL ends as a deadlock victim is run again: use cases lock users' rows before lists'
 * rows, but a foreign key's check locks rows of its own, so a rare cycle cannot be ruled out.
 */
export async function atomically<T>(executor: Executor, work: (trx: Executor) => Promise<T>): Promise<T> {
  if (executor.isTransaction) return work(executor);
  const sqlite = dialectOf(executor) === 'sqlite';
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await executor.transaction().execute(async (trx) => {
        // SQLite: a transaction that reads first is refused the write lock, without waiting,
        // when another process wrote meanwhile. Writing first (a row rewritten with its own
        // value) takes the lock at once, waiting its turn instead.
        if (sqlite) await sql`update sync_state set id = id where id = 1`.execute(trx);
        return work(trx);
      });
    } catch (error) {
      if (attempt >= 3 || (error as { code?: string }).code !== DEADLOCK_DETECTED) throw error;
    }
  }
}

const DEADLOCK_DETECTED = '40P01';

export interface Database {
  db: Db;
  dialect: Dialect;
  /**
   * Compiles a query once and returns a runner that executes it with new values for its named
   * parameters. `build` receives the parameters as stand-ins of their declared types and
   * places them in the query (see Parameter); the runner takes the same names, so two values
   * of one type cannot be swapped by reordering the query. Used for the statements every
   * request runs, so that neither the query builder nor the database re-plans them per
   * request. Only for reads: on SQLite they run in a shared read snapshot (see readSnapshots).
   */
  prepare<P extends object, R>(build: (parameters: P) => Compilable<R>): (values: P) => Promise<R[]>;
  /** PostgreSQL: the connection pool's figures, for metrics. */
  poolStats?: () => { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL only: the schema to work in (tests use a fresh schema each). */
  schema?: string;
  poolSize?: number;
  /** PostgreSQL only: how long to wait for a connection (a free one, or a new one), in ms. */
  connectTimeoutMs?: number;
  /**
   * PostgreSQL only: how long a statement's reply may take, in ms; beyond, the statement fails
   * and its connection is discarded (a server that stopped answering). None when unset.
   */
  queryTimeoutMs?: number;
}

/**
 * The server's bounds on waiting for PostgreSQL, after which a request is answered 503.
 * Migrations, clean-up and operator commands wait for a connection as long, but let each
 * statement take the time it needs.
 */
export function servingOptions(config: Pick<Config, 'databaseConnectTimeoutSeconds' | 'databaseQueryTimeoutSeconds'>): DatabaseOptions {
  return { ...maintenanceOptions(config), queryTimeoutMs: config.databaseQueryTimeoutSeconds * 1000 || undefined };
}

export function maintenanceOptions(config: Pick<Config, 'databaseConnectTimeoutSeconds'>): DatabaseOptions {
  return { connectTimeoutMs: config.databaseConnectTimeoutSeconds * 1000 };
}

export function createDatabase(url: string, options: DatabaseOptions = {}): Database {
  return url.startsWith('sqlite:') ? openSqlite(sqlitePath(url)) : openPostgres(url, options);
}

function openSqlite(path: string): Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = connectSqlite(path);
  // A second connection to the same file; an in-memory database has no second connection.
  const snapshots = path === ':memory:' ? undefined : readSnapshots(connectSqlite(path, HOT_READ_CACHE_KIB));
  const statements = cachingSqlite(sqlite, snapshots);
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: statements }) });
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
      if (snapshots === undefined) return async (values: P) => statement.all(bindable(bind(values))) as R[];
      return async (values: P) => snapshots.all(statement, bindable(bind(values))) as R[];
    },
    async close() {
      await db.destroy();
      snapshots?.close();
    },
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

/**
 * A named parameter of a prepared statement. Built into a query in place of a value, it is
 * compiled as a placeholder like any value; binder() then maps each placeholder to its name.
 */
class Parameter {
  constructor(readonly name: string) {}
}

/** Stand-ins for the parameters `P` names, typed as their values so the query builder takes them. */
function namedParameters<P extends object>(): P {
  return new Proxy({}, { get: (_target, name) => new Parameter(String(name)) }) as P;
}

/**
 * The positional values of a compiled statement, from named values: each placeholder built from
 * a Parameter takes the value of its name (a name may be used several times); any other keeps
 * the constant it was compiled with. A missing value is a programming error, refused at once.
 */
function binder<P extends object>(compiled: ReadonlyArray<unknown>): (values: P) => unknown[] {
  return (values) =>
    compiled.map((item) => {
      if (!(item instanceof Parameter)) return item;
      const value = (values as Record<string, unknown>)[item.name];
      if (value === undefined) throw new Error(`prepared statement: no value for parameter ${item.name}`);
      return value;
    });
}

/** SQLite cannot bind booleans, so they are passed as 1/0. */
const bindable = (parameters: ReadonlyArray<unknown>) =>
  parameters.map((value) => (typeof value === 'boolean' ? Number(value) : value));

type ReadSnapshots = ReturnType<typeof readSnapshots>;

/**
 * Every SQLite statement outside a transaction is a transaction of its own, and starting and
 * ending one takes four file-lock system calls: about half of what a one-row read costs in the
 * server. Hot reads therefore run on a second connection, in one read transaction shared by
 * every hot read of the same turn of the event loop. It ends when the turn does, and before
 * anything the main connection runs, so a hot read always sees every write this process has
 * made, and other processes' writes from the next turn on.
 */
function readSnapshots(connection: SQLite.Database) {
  const begin = connection.prepare('BEGIN');
  // The transaction only read, so ending it either way is the same; ROLLBACK cannot be busy.
  const rollback = connection.prepare('ROLLBACK');
  let open = false;
  const end = () => {
    if (!open) return;
    open = false;
    if (connection.inTransaction) rollback.run();
  };
  return {
    connection,
    all(statement: SQLite.Statement, parameters: unknown[]): unknown[] {
      if (!open) {
        begin.run();
        open = true;
        setImmediate(end);
      }
      return statement.all(parameters);
    },
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
 * than running a cached statement, so statements are cached by their SQL text. The cache is
 * least-recently-used and bounded, because list queries vary with the client's filters and
 * orderings.
 */
function cachingSqlite(sqlite: SQLite.Database, snapshots: ReadSnapshots | undefined) {
  const statements = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      // Kysely prepares every query right before running it, so whatever the main connection
      // runs ends the hot reads' snapshot first: none is open when a write commits (its
      // checkpoint can then finish), and the next hot read sees the write.
      snapshots?.end();
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = sqlite.prepare(withoutValuePlanning(sql));
        if (statements.size >= MAX_CACHED_STATEMENTS) statements.delete(statements.keys().next().value!);
      } else {
        statements.delete(sql); // re-inserted below as the most recently used
      }
      statements.set(sql, statement);
      const cached = statement;
      return {
        reader: cached.reader,
        all: (parameters: ReadonlyArray<unknown>) => cached.all(bindable(parameters)),
        run: (parameters: ReadonlyArray<unknown>) => cached.run(bindable(parameters)),
        iterate: (parameters: ReadonlyArray<unknown>) =>
          cached.iterate(bindable(parameters)) as IterableIterator<unknown>,
      };
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

// PostgreSQL type ids whose default parsing would differ from SQLite's values.
const INT8 = 20;
const DATE = 1082;
const TIMESTAMPTZ = 1184;

function openPostgres(url: string, options: DatabaseOptions): Database {
  const types = {
    getTypeParser(oid: number, format?: string) {
      // Ids are bigint columns; they stay far below 2^53.
      if (oid === INT8) return (value: string) => Number(value);
      // Dates stay `YYYY-MM-DD` strings instead of becoming local-time Date objects.
      if (oid === DATE) return (value: string) => value;
      if (oid === TIMESTAMPTZ) return isoTimestamp;
      return pg.types.getTypeParser(oid, format as 'text');
    },
  };
  const searchPath = options.schema ? ` -c search_path=${options.schema}` : '';
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 0,
    types,
    // UTC makes PostgreSQL print timestamps with a +00 offset, which isoTimestamp relies on.
    options: `-c TimeZone=UTC${searchPath}`,
  });
  // An idle connection the server closes (a restart, a failover) is dropped from the pool by pg
  // itself; without a listener its 'error' event would end the process.
  pool.on('error', () => {});
  const named = new Map<string, string>();
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool: namingPool(pool, named, options.queryTimeoutMs) }) });
  return {
    db,
    dialect: 'postgres',
    prepare<P extends object, R>(build: (parameters: P) => Compilable<R>) {
      const compiled = build(namedParameters<P>()).compile();
      if (!named.has(compiled.sql)) named.set(compiled.sql, `hot_${named.size + 1}`);
      const bind = binder<P>(compiled.parameters);
      return async (values: P) => run(db, compiled, bind(values));
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => db.destroy(),
  };
}

/**
 * Statements registered through prepare() are sent as named prepared statements, so each
 * pooled connection parses and plans them once instead of on every request. A connection on
 * which a statement failed for want of the server (cut, or silent past the read timeout) is
 * discarded rather than returned to the pool: it may still have that statement in flight, and
 * closing it makes the server roll back whatever transaction it was in.
 */
function namingPool(pool: pg.Pool, named: Map<string, string>, queryTimeoutMs: number | undefined): PostgresPool {
  return {
    async connect() {
      const client = await pool.connect();
      let broken: Error | undefined;
      return {
        async query(sql: string, parameters: ReadonlyArray<unknown>) {
          const name = named.get(sql);
          try {
            // pg reads a per-statement query_timeout, which its types leave out.
            const statement = { name, text: sql, values: parameters as unknown[], query_timeout: queryTimeoutMs } as pg.QueryConfig;
            return await client.query(statement);
          } catch (error) {
            if (isDatabaseUnavailable(error)) broken = error as Error;
            throw error;
          }
        },
        release: () => client.release(broken),
        // Streaming cursors are not used, so only the two-argument query form is needed.
      } as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
}

async function run<R>(db: Db, compiled: CompiledQuery<R>, parameters: unknown[]): Promise<R[]> {
  const result = await db.executeQuery<R>({ ...compiled, parameters });
  return result.rows;
}

/** `2026-11-24 03:15:53.6178+00` -> `2026-11-24T03:15:53.617800Z` (PostgreSQL trims zeros). */
export function isoTimestamp(value: string): string {
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/.exec(value);
  if (!match) return value;
  return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(6, '0')}Z`;
}
