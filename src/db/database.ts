import { Kysely, PostgresAdapter, type Compilable } from 'kysely';
import { sqlitePath, type Config } from '../config.js';
import type { Tables } from './tables.js';
import { openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';

export { withoutValuePlanning } from './sqlite-connection.js';
export { isoTimestamp } from './postgres.js';

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
  for (let attempt = 1; ; attempt += 1) {
    try {
      // On SQLite, the transaction is a savepoint in a group's transaction, which holds the
      // write lock from its start (see GroupCommitDriver).
      return await executor.transaction().execute(work);
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
   * request. Only for reads: on SQLite they run in a shared read snapshot (see readSnapshots);
   * on PostgreSQL the calls of one turn of the event loop are sent as one statement (batching.ts).
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

