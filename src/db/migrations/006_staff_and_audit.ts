import { sql, type Kysely } from 'kysely';
import { columnTypes } from './column-types.js';

/**
 * Staff (`is_staff`, `is_superuser`, as Django's auth_user) and the audit log of what staff do
 * through the admin API (src/admin/). An entry keeps the usernames as they were, so it still
 * says who did what to whom once an account is deleted (its id then becomes null).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (db.isTransaction) await apply(db);
  else await db.transaction().execute(apply);
}

async function apply(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  for (const column of ['is_staff', 'is_superuser']) {
    await db.schema.alterTable('users').addColumn(column, t.boolean, (col) => col.notNull().defaultTo(sql.raw(t.false))).execute();
  }
  await db.schema
    .createTable('admin_audit')
    .addColumn('id', t.id, (col) => t.primaryKey(col))
    .addColumn('actor_id', t.reference, (col) => col.references('users.id').onDelete('set null'))
    .addColumn('actor_username', 'varchar(150)', (col) => col.notNull())
    .addColumn('action', 'varchar(40)', (col) => col.notNull())
    .addColumn('target_id', t.reference, (col) => col.references('users.id').onDelete('set null'))
    .addColumn('target_username', 'varchar(150)', (col) => col.notNull())
    .addColumn('created_at', t.timestamp, (col) => col.notNull())
    .execute();
  await db.schema.createIndex('admin_audit_actor').on('admin_audit').column('actor_id').execute();
  await db.schema.createIndex('admin_audit_target').on('admin_audit').column('target_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('admin_audit').execute();
  await db.schema.alterTable('users').dropColumn('is_superuser').execute();
  await db.schema.alterTable('users').dropColumn('is_staff').execute();
}
