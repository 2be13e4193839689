import pg from 'pg';
import { DJANGO_TABLES, missingTables, notTheOriginal, reason, selectAll, SourceError, type DjangoRows, type DjangoTable } from './source.js';

// Type ids whose values are kept as PostgreSQL prints them, to be checked and converted in mapping.ts.
const INT8 = 20;
const DATE = 1082;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
const AS_PRINTED = new Set([DATE, TIMESTAMP, TIMESTAMPTZ]);

const types = {
  getTypeParser(oid: number, format?: string) {
    // Django's BigAutoField ids: BigInt, so that one beyond 2^53 is refused rather than rounded.
    if (oid === INT8) return (value: string) => BigInt(value);
    // Dates and timestamps as text: no local-time Date objects, no lost microseconds.
    if (AS_PRINTED.has(oid)) return (value: string) => value;
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/** Reads the original's PostgreSQL database in one read-only snapshot. */
export async function readPostgresSource(url: string): Promise<DjangoRows> {
  const where = described(url);
  const client = new pg.Client({
    connectionString: url,
    types,
    // UTC and ISO: timestamps print as `2026-11-24 03:15:53.617827+00` whatever the server's settings.
    options: '-c TimeZone=UTC -c DateStyle=ISO',
    connectionTimeoutMillis: 10_000,
  });
  // A connection lost mid-read fails the query waiting on it; without a listener it would end the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw new SourceError(`Cannot connect to ${where}: ${reason(error)}`);
  }
  try {
    await client.query('begin transaction isolation level repeatable read read only');
    return await readTables(client, where);
  } catch (error) {
    if (error instanceof SourceError) throw error;
    throw new SourceError(`Cannot read ${where}: ${reason(error)}`);
  } finally {
    await client.end().catch(() => {});
  }
}

async function readTables(client: pg.Client, where: string): Promise<DjangoRows> {
  // Found the way Django's own queries find them: unqualified, through the search path.
  const { rows: found } = await client.query<{ name: string }>(
    'select name from unnest($1::text[]) as name where to_regclass(quote_ident(name)) is not null',
    [Object.keys(DJANGO_TABLES)],
  );
  const missing = missingTables(found.map((row) => row.name));
  if (missing.length > 0) throw notTheOriginal(where, missing);
  const rows = async (table: DjangoTable) => (await client.query(selectAll(table))).rows as never[];
  return { users: await rows('auth_user'), tokens: await rows('authtoken_token'), tasks: await rows('tasks_task') };
}

/** The server and database, never the password, for messages. */
function described(url: string): string {
  try {
    const parsed = new URL(url);
    return `the PostgreSQL database ${decodeURIComponent(parsed.pathname.slice(1)) || '(default)'} on ${parsed.host || 'the default host'}`;
  } catch {
    return 'the PostgreSQL database';
  }
}
