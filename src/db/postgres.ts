import { Kysely, PostgresDialect, type Compilable, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import type { Tables } from './tables.js';
import type { Database, DatabaseOptions } from './database.js';
import { batchingStatement, type NamedStatement, type StatementResult } from './batching.js';
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
  const connections = servingPool(pool, options.queryTimeoutMs);
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool: connections.kysely }) });
  // One batching runner per statement text, so that identical statements prepared twice (two
  // repositories on one database) share their batches and their names.
  const statements = new Map<string, (values: unknown[]) => Promise<unknown[]>>();
  let names = 0;
  const newName = () => `hot_${(names += 1)}`;
  return {
    db,
    dialect: 'postgres',
    prepare<P extends object, R>(build: (parameters: P) => Compilable<R>) {
      const compiled = build(namedParameters<P>()).compile();
      let statement = statements.get(compiled.sql);
      if (statement === undefined) {
        statement = batchingStatement(compiled.sql, compiled.parameters.length, connections.run, newName);
        statements.set(compiled.sql, statement);
      }
      const bind = binder<P>(compiled.parameters);
      const batched = statement;
      return async (values: P) => (await batched(bind(values))) as R[];
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async close() {
      await db.destroy();
      // Kysely ends the pool only if it ran a statement itself; prepared statements do not go
      // through it.
      if (!pool.ending) await pool.end();
    },
  };
}

/**
 * Statements registered through prepare() are sent as named prepared statements (see
 * batching.ts), so each pooled connection parses and plans them once instead of on every
 * request; they run on the pool's connections directly, Kysely's on the same connections
 * through `kysely`. A connection on which a statement failed for want of the server (cut, or
 * silent past the read timeout) is discarded rather than returned to the pool: it may still
 * have that statement in flight, and closing it makes the server roll back whatever
 * transaction it was in.
 */
function servingPool(pool: pg.Pool, queryTimeoutMs: number | undefined) {
  async function connect() {
    const client = await pool.connect();
    let broken: Error | undefined;
    return {
      async query(statement: Omit<NamedStatement, 'name'> & { name?: string }): Promise<Answer> {
        // pg reads a per-statement query_timeout, which its types leave out.
        const config = { ...statement, query_timeout: queryTimeoutMs };
        try {
          return detached(await client.query(config as pg.QueryConfig));
        } catch (error) {
          if (isDatabaseUnavailable(error)) broken = error as Error;
          throw error;
        }
      },
      release: () => client.release(broken),
    };
  }
  const kysely: PostgresPool = {
    async connect() {
      const connection = await connect();
      return {
        query: (text: string, values: ReadonlyArray<unknown>) => connection.query({ text, values: values as unknown[] }),
        release: connection.release,
        // Streaming cursors are not used, so only the two-argument query form is needed.
      } as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
  /** One statement on a connection of its own, released as soon as it is answered. */
  async function run(statement: NamedStatement): Promise<StatementResult> {
    const connection = await connect();
    try {
      return await connection.query(statement);
    } finally {
      connection.release();
    }
  }
  return { kysely, run };
}

/** What is read of a statement's result: its rows and their columns, and for Kysely its command and count. */
type Answer = StatementResult & Pick<pg.QueryResult, 'command' | 'rowCount'>;

/**
 * The result's rows, taken out of pg's result object. pg appends each row to that object as it
 * arrives, and when the young generation is collected while a statement is still answering,
 * the object can be moved to the old generation; from there it kept every row it held alive
 * through the young generation's collections until the next full one, long after the request
 * was answered. With a list of 20 tasks at 32 connections, 1.2 MB of rows were copied to the old
 * generation at each young collection, a full collection ran about once a second, and the
 * server spent 229 µs of CPU per response, against nothing copied and 162 µs with the rows
 * taken out (bench/README.md).
 */
function detached(result: pg.QueryResult): Answer {
  const { rows, fields, command, rowCount } = result;
  result.rows = [];
  return { rows, fields, command, rowCount };
}

/** `2026-11-24 03:15:53.6178+00` -> `2026-11-24T03:15:53.617800Z` (PostgreSQL trims zeros). */
export function isoTimestamp(value: string): string {
  // Every row of a list has three: the common form is cut up without a regular expression.
  const { length } = value;
  if (length >= 22 && length <= 29 && value.charCodeAt(10) === SPACE && value.endsWith('+00') && (length === 22 || value.charCodeAt(19) === DOT)) {
    const fraction = length === 22 ? '' : value.slice(20, length - 3);
    return `${value.slice(0, 10)}T${value.slice(11, 19)}.${fraction.padEnd(6, '0')}Z`;
  }
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/.exec(value);
  if (!match) return value;
  return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(6, '0')}Z`;
}

const SPACE = 0x20;
const DOT = 0x2e;
