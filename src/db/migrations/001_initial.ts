import { sql, type Kysely } from 'kysely';
import { columnTypes } from './column-types.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);

  await db.schema
    .createTable('users')
    .addColumn('id', t.id, (col) => t.primaryKey(col))
    .addColumn('username', 'varchar(150)', (col) => col.notNull())
    .addColumn('username_key', 'varchar(150)', (col) => col.notNull().unique())
    .addColumn('email', 'varchar(254)', (col) => col.notNull().defaultTo(''))
    .addColumn('password', 'varchar(255)', (col) => col.notNull())
    .addColumn('is_active', t.boolean, (col) => col.notNull().defaultTo(sql.raw(t.true)))
    .addColumn('date_joined', t.timestamp, (col) => col.notNull())
    .addColumn('last_login', t.timestamp)
    .execute();

  await db.schema
    .createTable('auth_tokens')
    .addColumn('id', t.id, (col) => t.primaryKey(col))
    .addColumn('user_id', t.reference, (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('digest', 'char(64)', (col) => col.notNull().unique())
    .addColumn('created_at', t.timestamp, (col) => col.notNull())
    .addColumn('last_used_at', t.timestamp, (col) => col.notNull())
    .addColumn('expires_at', t.timestamp, (col) => col.notNull())
    .addColumn('user_agent', 'varchar(512)', (col) => col.notNull().defaultTo(''))
    .execute();
  await db.schema.createIndex('auth_tokens_user_id').on('auth_tokens').column('user_id').execute();

  await db.schema
    .createTable('tasks')
    .addColumn('id', t.id, (col) => t.primaryKey(col))
    .addColumn('owner_id', t.reference, (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('title', 'varchar(200)', (col) => col.notNull())
    .addColumn('description', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('due_date', t.date)
    .addColumn('completed', t.boolean, (col) => col.notNull().defaultTo(sql.raw(t.false)))
    .addColumn('created_at', t.timestamp, (col) => col.notNull())
    .addColumn('updated_at', t.timestamp, (col) => col.notNull())
    .addColumn('completed_at', t.timestamp)
    .execute();
  // Every task query is scoped by owner; (owner_id, id) serves the list and the detail lookup.
  await db.schema.createIndex('tasks_owner_id_id').on('tasks').columns(['owner_id', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('tasks').execute();
  await db.schema.dropTable('auth_tokens').execute();
  await db.schema.dropTable('users').execute();
}
