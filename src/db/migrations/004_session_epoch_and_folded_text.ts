import { sql, type Kysely } from 'kysely';
import { foldForSearch } from '../../tasks/search-text.js';
import { isSqlite } from './column-types.js';

const BATCH = 1000;

/**
 * `users.session_epoch` moves whenever all of a user's sessions are revoked (password change,
 * log out everywhere, deactivation); a login creates its session only if the epoch is still
 * the one it read with the credentials it checked, so no login in flight outlives a revocation.
 *
 * `tasks.title_folded` and `tasks.description_folded` hold the text as search folds it (see
 * tasks/search-text.ts), computed by the application, so both databases match the same tasks.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Kysely runs SQLite migrations outside a transaction; this one is applied whole or not at all.
  if (db.isTransaction) await apply(db);
  else await db.transaction().execute(apply);
}

async function apply(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('session_epoch', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  for (const column of ['title_folded', 'description_folded']) {
    await db.schema
      .alterTable('tasks')
      .addColumn(column, 'text', (col) => col.notNull().defaultTo(''))
      .execute();
  }
  await foldExistingTasks(db);
}

/** Fills the folded columns of the tasks stored so far, a batch at a time in id order. */
async function foldExistingTasks(db: Kysely<unknown>): Promise<void> {
  let lastId = 0;
  for (;;) {
    const { rows } = await sql<{ id: number; title: string; description: string }>`
      select id, title, description from tasks where id > ${lastId} order by id limit ${BATCH}`.execute(db);
    if (rows.length === 0) return;
    const folded = rows.map((row) => ({ id: Number(row.id), title: foldForSearch(row.title), description: foldForSearch(row.description) }));
    if (isSqlite(db)) {
      for (const row of folded) {
        await sql`update tasks set title_folded = ${row.title}, description_folded = ${row.description} where id = ${row.id}`.execute(db);
      }
    } else {
      await sql`
        update tasks set title_folded = folded.title, description_folded = folded.description
        from unnest(${folded.map((row) => row.id)}::bigint[], ${folded.map((row) => row.title)}::text[],
                    ${folded.map((row) => row.description)}::text[]) as folded(id, title, description)
        where tasks.id = folded.id`.execute(db);
    }
    lastId = folded.at(-1)!.id;
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('tasks').dropColumn('description_folded').execute();
  await db.schema.alterTable('tasks').dropColumn('title_folded').execute();
  await db.schema.alterTable('users').dropColumn('session_epoch').execute();
}
