import { sql, type Kysely } from 'kysely';
import { columnTypes } from './column-types.js';

/**
 * Browser sessions (src/browser-sessions/): a login through `/dj-rest-auth/login/` is a row of
 * `auth_tokens` like any session, so listing, revocation, password changes and deactivation end
 * it as they end the others; `refresh_digest` holds the SHA-256 of its current refresh token's
 * id (null for a session of an opaque key). `jwt_signing_key` keeps the one key that signs the
 * tokens when no JWT_SIGNING_KEY is configured, so every process shares it and a restart keeps
 * sessions. Users gain Django's `first_name` and `last_name`, which dj-rest-auth's user
 * endpoint reads and writes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.isTransaction) await apply(db);
  else await db.transaction().execute(apply);
}

async function apply(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  for (const column of ['first_name', 'last_name']) {
    await db.schema.alterTable('users').addColumn(column, 'varchar(150)', (col) => col.notNull().defaultTo('')).execute();
  }
  await db.schema.alterTable('auth_tokens').addColumn('refresh_digest', 'char(64)').execute();
  await db.schema
    .createTable('jwt_signing_key')
    .addColumn('id', 'integer', (col) => col.primaryKey())
    .addColumn('secret', 'varchar(128)', (col) => col.notNull())
    .addColumn('created_at', t.timestamp, (col) => col.notNull())
    // One key at a time: rotation replaces it.
    .addCheckConstraint('jwt_signing_key_single_row', sql`id = 1`)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('jwt_signing_key').execute();
  await db.schema.alterTable('auth_tokens').dropColumn('refresh_digest').execute();
  await db.schema.alterTable('users').dropColumn('last_name').execute();
  await db.schema.alterTable('users').dropColumn('first_name').execute();
}
