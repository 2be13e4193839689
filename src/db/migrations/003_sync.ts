import { sql, type Kysely } from 'kysely';
import { isSqlite } from './column-types.js';

/**
 * Change ids for sync (`GET /api/tasks/sync/`, see src/sync/). Every write of a task and every
 * deletion record gets a change id from the database itself, through triggers, so no write
 * path can forget it and the repositories stay as they are:
 *
 * - PostgreSQL: the id of the writing transaction (`pg_current_xact_id()`). Ids are handed out
 *   before commit, so they do not follow commit order; a reader therefore holds its watermark
 *   back at its snapshot's xmin, below every transaction still in flight.
 * - SQLite: one writer at a time, so a counter incremented inside each write transaction
 *   follows commit order exactly.
 *
 * Deleting a deletion record (the retention purge) records its change id in
 * `sync_state.purged_through`, so a sync token that may still need it is refused (410) instead
 * of silently missing the deletion. Rows removed because their owner's account is deleted do
 * not count: that owner has no tokens left.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const sqlite = isSqlite(db);
  const changeId = sqlite ? 'integer' : 'bigint';
  await db.schema.alterTable('tasks').addColumn('change_id', changeId, (col) => col.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('deleted_tasks').addColumn('change_id', changeId, (col) => col.notNull().defaultTo(0)).execute();
  // A sync page is one user's rows in (change id, id) order after a position: a range of these.
  await db.schema.createIndex('tasks_owner_change').on('tasks').columns(['owner_id', 'change_id', 'id']).execute();
  await db.schema
    .createIndex('deleted_tasks_owner_change')
    .on('deleted_tasks')
    .columns(['owner_id', 'change_id', 'task_id'])
    .execute();

  await db.schema
    .createTable('sync_state')
    .addColumn('id', 'integer', (col) => col.primaryKey().check(sql`id = 1`))
    .addColumn('change_counter', changeId, (col) => col.notNull())
    .addColumn('purged_through', changeId, (col) => col.notNull())
    .execute();
  await sql`insert into sync_state (id, change_counter, purged_through) values (1, 0, 0)`.execute(db);

  if (sqlite) await sqliteTriggers(db);
  else await postgresTriggers(db);
}

async function sqliteTriggers(db: Kysely<unknown>): Promise<void> {
  // SQLite's BEFORE triggers cannot change the row, so AFTER triggers write the id back. The
  // update trigger skips the write-back itself (it changes change_id): no recursion.
  await sql`create trigger tasks_change_id_insert after insert on tasks begin
      update sync_state set change_counter = change_counter + 1;
      update tasks set change_id = (select change_counter from sync_state) where id = new.id;
    end`.execute(db);
  await sql`create trigger tasks_change_id_update after update on tasks when new.change_id = old.change_id begin
      update sync_state set change_counter = change_counter + 1;
      update tasks set change_id = (select change_counter from sync_state) where id = new.id;
    end`.execute(db);
  await sql`create trigger deleted_tasks_change_id after insert on deleted_tasks begin
      update sync_state set change_counter = change_counter + 1;
      update deleted_tasks set change_id = (select change_counter from sync_state) where task_id = new.task_id;
    end`.execute(db);
  // Foreign-key cascades run after the parent row is gone, so an account's deletion is skipped.
  await sql`create trigger deleted_tasks_purged after delete on deleted_tasks
      when exists (select 1 from users where id = old.owner_id) begin
      update sync_state set purged_through = max(purged_through, old.change_id);
    end`.execute(db);
}

async function postgresTriggers(db: Kysely<unknown>): Promise<void> {
  // Stored as bigint (an xid8's text) so that both databases compare change ids as numbers.
  // The top-level transaction's id is taken even inside a savepoint: it is the one that
  // snapshots list as in flight until the whole transaction ends.
  await sql`create function stamp_change_id() returns trigger language plpgsql as $$
    begin
      new.change_id := pg_current_xact_id()::text::bigint;
      return new;
    end $$`.execute(db);
  await sql`create trigger tasks_change_id before insert or update on tasks
    for each row execute function stamp_change_id()`.execute(db);
  await sql`create trigger deleted_tasks_change_id before insert on deleted_tasks
    for each row execute function stamp_change_id()`.execute(db);
  // Once per statement; cascaded deletions run after the owner's row is gone, so they are skipped.
  await sql`create function record_purged_deletions() returns trigger language plpgsql as $$
    declare
      newest bigint;
    begin
      select max(purged.change_id) into newest from purged
        where exists (select 1 from users where users.id = purged.owner_id);
      if newest is not null then
        update sync_state set purged_through = greatest(purged_through, newest);
      end if;
      return null;
    end $$`.execute(db);
  await sql`create trigger deleted_tasks_purged after delete on deleted_tasks
    referencing old table as purged for each statement execute function record_purged_deletions()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const sqlite = isSqlite(db);
  for (const [trigger, table] of [
    ['tasks_change_id_insert', 'tasks'],
    ['tasks_change_id_update', 'tasks'],
    ['tasks_change_id', 'tasks'],
    ['deleted_tasks_change_id', 'deleted_tasks'],
    ['deleted_tasks_purged', 'deleted_tasks'],
  ] as const) {
    await sql.raw(`drop trigger if exists ${trigger}${sqlite ? '' : ` on ${table}`}`).execute(db);
  }
  if (!sqlite) {
    await sql`drop function stamp_change_id()`.execute(db);
    await sql`drop function record_purged_deletions()`.execute(db);
  }
  await db.schema.dropTable('sync_state').execute();
  await db.schema.dropIndex('tasks_owner_change').execute();
  await db.schema.dropIndex('deleted_tasks_owner_change').execute();
  await db.schema.alterTable('tasks').dropColumn('change_id').execute();
  await db.schema.alterTable('deleted_tasks').dropColumn('change_id').execute();
}
