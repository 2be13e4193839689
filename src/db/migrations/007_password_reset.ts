import { sql, type Kysely } from 'kysely';
import { columnTypes } from './column-types.js';

/**
 * Password reset by email (src/password-reset/). A reset link's token is stored only as its
 * SHA-256, with a fingerprint of the account's password hash and email address when it was
 * issued: a link works only while both are unchanged, whatever changed them.
 *
 * Reset requests find accounts by email address regardless of letter case, through an index
 * on `lower(email)`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.isTransaction) await apply(db);
  else await db.transaction().execute(apply);
}

async function apply(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await db.schema
    .createTable('password_reset_tokens')
    .addColumn('id', t.id, (col) => t.primaryKey(col))
    .addColumn('user_id', t.reference, (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('digest', 'char(64)', (col) => col.notNull().unique())
    .addColumn('account_fingerprint', 'char(64)', (col) => col.notNull())
    .addColumn('created_at', t.timestamp, (col) => col.notNull())
    .addColumn('expires_at', t.timestamp, (col) => col.notNull())
    .execute();
  await db.schema.createIndex('password_reset_tokens_user_id').on('password_reset_tokens').column('user_id').execute();
  await db.schema.createIndex('password_reset_tokens_expires_at').on('password_reset_tokens').column('expires_at').execute();
  await db.schema.createIndex('users_email_lower').on('users').expression(sql`lower(email)`).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('users_email_lower').execute();
  await db.schema.dropTable('password_reset_tokens').execute();
}
