import { sql, type Kysely } from 'kysely';
import { columnTypes, isSqlite } from './column-types.js';

/**
 * Shared lists (src/lists/): lists, their members with a role each, and tasks that belong to a
 * list (`list_id`) and may be assigned to one of its members (`assignee_id`).
 *
 * Integrity is the database's, on both: a task's list must exist, and its assignee must be a
 * member of that list (a composite foreign key on PostgreSQL; triggers on SQLite, whose
 * ALTER TABLE cannot add one). Removing a member or a list therefore has to clear assignments
 * and move or delete tasks first, in the same transaction (lists/repository.ts).
 *
 * `deleted_tasks` becomes one record per task and per user whose view the task left (`owner_id`
 * is that user): a shared task that is deleted, moved away or whose list a member leaves must
 * reach every client that had it. Its primary key on `task_id` therefore goes. A deleted list
 * gives each member one record naming the list (`list_id`, no `task_id`), which stands for the
 * list's tasks as kept in `deleted_list_tasks`: records in proportion to tasks plus members,
 * not to tasks times members.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Kysely runs SQLite migrations outside a transaction; this one is applied whole or not at all.
  if (db.isTransaction) await apply(db);
  else await db.transaction().execute(apply);
}

async function apply(db: Kysely<unknown>): Promise<void> {
  const t = columnTypes(db);
  const sqlite = isSqlite(db);
  await db.schema
    .createTable('lists')
    .addColumn('id', t.id, (col) => t.primaryKey(col))
    .addColumn('name', 'varchar(100)', (col) => col.notNull())
    .addColumn('description', 'text', (col) => col.notNull().defaultTo(''))
    .addColumn('created_at', t.timestamp, (col) => col.notNull())
    .addColumn('updated_at', t.timestamp, (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('list_members')
    .addColumn('list_id', t.reference, (col) => col.notNull().references('lists.id').onDelete('cascade'))
    .addColumn('user_id', t.reference, (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'varchar(6)', (col) => col.notNull().check(sql`role in ('owner', 'editor', 'viewer')`))
    .addColumn('joined_at', t.timestamp, (col) => col.notNull())
    .addPrimaryKeyConstraint('list_members_pkey', ['list_id', 'user_id'])
    .execute();
  // The caller's lists: the scope of every task query.
  await db.schema.createIndex('list_members_user').on('list_members').columns(['user_id', 'list_id']).execute();

  await db.schema.alterTable('tasks').addColumn('list_id', t.reference, (col) => col.references('lists.id')).execute();
  await db.schema.alterTable('tasks').addColumn('assignee_id', t.reference, (col) => col.references('users.id')).execute();
  await listIndexes(db);

  if (sqlite) {
    await assigneeTriggers(db);
    await recordsPerRecipientOnSqlite(db);
  } else {
    await sql`alter table tasks add constraint tasks_assignee_is_member
      foreign key (list_id, assignee_id) references list_members (list_id, user_id)`.execute(db);
    await sql`alter table deleted_tasks drop constraint deleted_tasks_pkey`.execute(db);
    await sql`alter table deleted_tasks alter column task_id drop not null`.execute(db);
    await sql`alter table deleted_tasks add column list_id bigint`.execute(db);
    await sql`alter table deleted_tasks add constraint deleted_tasks_task_or_list check ((task_id is null) <> (list_id is null))`.execute(db);
  }
  await db.schema.createIndex('deleted_tasks_list').on('deleted_tasks').column('list_id').execute();
  // The tasks a deleted list held, for its members' records; ids of lists are never reused.
  await db.schema
    .createTable('deleted_list_tasks')
    .addColumn('list_id', t.reference, (col) => col.notNull())
    .addColumn('task_id', t.reference, (col) => col.notNull())
    .addPrimaryKeyConstraint('deleted_list_tasks_pkey', ['list_id', 'task_id'])
    .execute();
}

/**
 * A page of personal tasks is `owner_id = ? and list_id is null` in one of the orderings of
 * migration 002, so the owner's indexes gain `list_id` after `owner_id`: the page is still read
 * in index order, and its count from the index alone. The lists' indexes hold list tasks only,
 * so that their statistics describe lists, not the many personal tasks without one.
 */
async function listIndexes(db: Kysely<unknown>): Promise<void> {
  for (const index of ['tasks_owner_id_id', 'tasks_owner_due_date', 'tasks_owner_due_date_desc', 'tasks_owner_updated_at', 'tasks_owner_created_at']) {
    await db.schema.dropIndex(index).execute();
  }
  await sql`create index tasks_owner_list_id on tasks (owner_id, list_id, id)`.execute(db);
  await sql`create index tasks_owner_list_due_date on tasks (owner_id, list_id, (due_date is null), due_date, id)`.execute(db);
  await sql`create index tasks_owner_list_due_date_desc on tasks (owner_id, list_id, (due_date is null), due_date desc, id desc)`.execute(db);
  await sql`create index tasks_owner_list_updated_at on tasks (owner_id, list_id, updated_at, id)`.execute(db);
  await sql`create index tasks_owner_list_created_at on tasks (owner_id, list_id, created_at, id)`.execute(db);
  await sql`create index tasks_list_id on tasks (list_id, id) where list_id is not null`.execute(db);
  await sql`create index tasks_list_change on tasks (list_id, change_id, id) where list_id is not null`.execute(db);
}

/** The composite foreign key (list_id, assignee_id) -> list_members, as SQLite can add it. */
async function assigneeTriggers(db: Kysely<unknown>): Promise<void> {
  const notMember = (row: 'new') =>
    sql.raw(`${row}.assignee_id is not null and not exists
      (select 1 from list_members where list_id = ${row}.list_id and user_id = ${row}.assignee_id)`);
  const refuse = sql.raw(`select raise(abort, 'FOREIGN KEY constraint failed: the assignee is not a member of the list')`);
  await sql`create trigger tasks_assignee_insert before insert on tasks when ${notMember('new')} begin ${refuse}; end`.execute(db);
  await sql`create trigger tasks_assignee_update before update of list_id, assignee_id on tasks
    when ${notMember('new')} begin ${refuse}; end`.execute(db);
  await sql`create trigger list_members_assigned before delete on list_members
    when exists (select 1 from tasks where list_id = old.list_id and assignee_id = old.user_id)
    begin ${refuse}; end`.execute(db);
}

/**
 * SQLite's `task_id integer primary key` is the rowid, so the table is rebuilt without it; its
 * indexes and triggers (migration 003) are made again, the change id now written back by rowid.
 */
async function recordsPerRecipientOnSqlite(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger deleted_tasks_change_id`.execute(db);
  await sql`drop trigger deleted_tasks_purged`.execute(db);
  await sql`create table deleted_tasks_next (
      task_id integer,
      owner_id integer not null references users (id) on delete cascade,
      deleted_at text not null,
      change_id integer not null default 0,
      list_id integer,
      check ((task_id is null) <> (list_id is null))
    )`.execute(db);
  await sql`insert into deleted_tasks_next (task_id, owner_id, deleted_at, change_id)
    select task_id, owner_id, deleted_at, change_id from deleted_tasks`.execute(db);
  await sql`drop table deleted_tasks`.execute(db);
  await sql`alter table deleted_tasks_next rename to deleted_tasks`.execute(db);
  await sql`create index deleted_tasks_owner_deleted_at on deleted_tasks (owner_id, deleted_at)`.execute(db);
  await sql`create index deleted_tasks_deleted_at on deleted_tasks (deleted_at)`.execute(db);
  await sql`create index deleted_tasks_owner_change on deleted_tasks (owner_id, change_id, task_id)`.execute(db);
  await sql`create trigger deleted_tasks_change_id after insert on deleted_tasks begin
      update sync_state set change_counter = change_counter + 1;
      update deleted_tasks set change_id = (select change_counter from sync_state) where rowid = new.rowid;
    end`.execute(db);
  await sql`create trigger deleted_tasks_purged after delete on deleted_tasks
      when exists (select 1 from users where id = old.owner_id) begin
      update sync_state set purged_through = max(purged_through, old.change_id);
    end`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('005_lists cannot be undone: shared lists would lose their members and tasks.');
}
