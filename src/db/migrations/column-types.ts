import { SqliteAdapter, type ColumnDefinitionBuilder, type Kysely } from 'kysely';

/**
 * Column types for each dialect, so one migration serves both databases. SQLite keeps
 * timestamps and dates as ISO text (fixed width, so text order is time order) and booleans as 0/1.
 */
export function columnTypes(db: Kysely<unknown>) {
  return isSqlite(db)
    ? {
        id: 'integer' as const,
        reference: 'integer' as const,
        primaryKey: (col: ColumnDefinitionBuilder) => col.primaryKey().autoIncrement(),
        timestamp: 'text' as const,
        date: 'text' as const,
        boolean: 'integer' as const,
        true: '1',
        false: '0',
      }
    : {
        id: 'bigint' as const,
        reference: 'bigint' as const,
        primaryKey: (col: ColumnDefinitionBuilder) => col.primaryKey().generatedByDefaultAsIdentity(),
        timestamp: 'timestamptz' as const,
        date: 'date' as const,
        boolean: 'boolean' as const,
        true: 'true',
        false: 'false',
      };
}

export function isSqlite(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter;
}
