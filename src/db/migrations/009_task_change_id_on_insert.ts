import { sql, type Kysely } from 'kysely';
import { isSqlite } from './column-types.js';

/**
 * SQLite: a new task's insert carries its change id (the counter's next value, see
 * tasks/repository.ts), so the trigger that stamps it no longer rewrites the row it has just
 * written, and the row's entries in the change-ordered indexes, on every creation. A row
 * inserted without one, or with a value that is not the counter's next, is stamped as before,
 * so change ids still follow commit order whatever the insert. PostgreSQL stamps a row before
 * it is written (migration 003): nothing changes there.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!isSqlite(db)) return;
  await replaceInsertTrigger(db, sql`where id = new.id and change_id <> (select change_counter from sync_state)`);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!isSqlite(db)) return;
  await replaceInsertTrigger(db, sql`where id = new.id`);
}

async function replaceInsertTrigger(db: Kysely<unknown>, rows: ReturnType<typeof sql>): Promise<void> {
  await sql`drop trigger tasks_change_id_insert`.execute(db);
  await sql`create trigger tasks_change_id_insert after insert on tasks begin
      update sync_state set change_counter = change_counter + 1;
      update tasks set change_id = (select change_counter from sync_state) ${rows};
    end`.execute(db);
}
