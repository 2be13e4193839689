import { sql, type Kysely } from 'kysely';
import { columnTypes } from './column-types.js';

/**
 * Indexes that let a page of one user's tasks be read in index order, stopping after the
 * page, for the orderings clients use most; and the tombstones that incremental sync reads.
 * Undated tasks sort last in both directions, hence the `(due_date is null)` key; ties are
 * broken by id in the direction of the ordering.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  await sql`create index tasks_owner_due_date on tasks (owner_id, (due_date is null), due_date, id)`.execute(db);
  await sql`create index tasks_owner_due_date_desc on tasks (owner_id, (due_date is null), due_date desc, id desc)`.execute(db);
  await sql`create index tasks_owner_updated_at on tasks (owner_id, updated_at, id)`.execute(db);
  await sql`create index tasks_owner_created_at on tasks (owner_id, created_at, id)`.execute(db);

  await db.schema
    .createTable('deleted_tasks')
    .addColumn('task_id', t.reference, (col) => col.primaryKey())
    .addColumn('owner_id', t.reference, (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('deleted_at', t.timestamp, (col) => col.notNull())
    .execute();
  await db.schema.createIndex('deleted_tasks_owner_deleted_at').on('deleted_tasks').columns(['owner_id', 'deleted_at']).execute();
  await db.schema.createIndex('deleted_tasks_deleted_at').on('deleted_tasks').column('deleted_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('deleted_tasks').execute();
  for (const index of ['tasks_owner_due_date', 'tasks_owner_due_date_desc', 'tasks_owner_updated_at', 'tasks_owner_created_at']) {
    await db.schema.dropIndex(index).execute();
  }
}
