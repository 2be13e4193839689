import { CompiledQuery, Kysely, PostgresDialect, type Compilable, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import type { Tables } from './tables.js';
import type { Database, DatabaseOptions, Db } from './database.js';
import { isDatabaseUnavailable } from './errors.js';
import { binder, namedParameters } from './parameters.js';

// PostgreSQL type ids whose default parsing would differ from SQLite's values.
const INT8 = 20;
const DATE = 1082;
const TIMESTAMPTZ = 1184;

export function openPostgres(url: string, options: DatabaseOptions): Database {
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
