import { sql } from 'kysely';
import { isVerifiableHash } from '../accounts/passwords.js';
import { secondsFromNow } from '../db/clock.js';
import { atomically, dialectOf, type Database, type Executor } from '../db/database.js';
import { checkAgainstStored } from './conflicts.js';
import { mapDjangoRows } from './mapping.js';
import { readPostgresSource } from './postgres-source.js';
import type { DjangoRows } from './source.js';
import { readSqliteSource } from './sqlite-source.js';
import { writeImport, type Written } from './writer.js';

export interface ImportReport extends Written {
  /** Imported accounts whose hash no password matches here: they need `changepassword`. */
  unverifiable: string[];
}

/** Why nothing was imported, with the values or conflicts to resolve first. */
export class ImportRefused extends Error {}

/** How many lines of problems a refusal lists; the total is always given. */
const LISTED = 20;

/**
 * Brings the original Django app's users, tokens and tasks over from `source` (a SQLite file or a
 * `postgres://` URL) into `database`, keeping their ids. Everything is read and checked first:
 * a bad value in the source or a conflict with what is stored here refuses the whole import
 * before any write, and the writes are one transaction. A second run finds everything present
 * and writes nothing.
 */
export async function importDjango(database: Database, source: string, options: { tokenLifetimeSeconds: number }): Promise<ImportReport> {
  const { data, problems } = mapDjangoRows(await readDjangoDatabase(source));
  if (problems.length > 0) {
    throw refusal(`Nothing was imported: ${count(problems.length, 'value')} in the original's database cannot be imported; correct them there first.`, problems);
  }
  const expiresAt = secondsFromNow(options.tokenLifetimeSeconds);
  return atomically(database.db, async (trx) => {
    await holdWrites(trx);
    const { conflicts, present } = await checkAgainstStored(trx, data);
    if (conflicts.length > 0) {
      throw refusal(`Nothing was imported: ${count(conflicts.length, 'conflict')} with the accounts and tasks stored here.`, conflicts);
    }
    const written = await writeImport(trx, data, present, expiresAt);
    const unverifiable = data.users.filter((user) => !present.userIds.has(user.id) && !isVerifiableHash(user.password));
    return { ...written, unverifiable: unverifiable.map((user) => user.username) };
  });
}

function readDjangoDatabase(source: string): Promise<DjangoRows> {
  return /^postgres(ql)?:\/\//.test(source) ? readPostgresSource(source) : readSqliteSource(source);
}

/**
 * PostgreSQL: writes to the imported tables wait until the import commits (reads go on), so
 * that what was checked stays true, and a sign-up cannot take an id the import is inserting.
 * On SQLite the transaction holds the database's one write lock from its start.
 */
async function holdWrites(trx: Executor): Promise<void> {
  if (dialectOf(trx) === 'postgres') await sql`lock table users, auth_tokens, tasks in exclusive mode`.execute(trx);
}

export function describeImport(report: ImportReport): string {
  const line = (name: string, counts: { imported: number; present: number }) =>
    `${name}: ${counts.imported} imported, ${counts.present} already here.`;
  const names = report.unverifiable.slice(0, LISTED).join(', ') + (report.unverifiable.length > LISTED ? ', …' : '');
  const unverifiable =
    report.unverifiable.length === 0
      ? 'Imported accounts whose password cannot be checked here: 0.'
      : `Imported accounts whose password cannot be checked here: ${report.unverifiable.length} (${names}); set one with task-tracker changepassword <username>.`;
  return [line('Users', report.users), line('Tokens', report.tokens), line('Tasks', report.tasks), unverifiable].join('\n');
}

function refusal(summary: string, items: string[]): ImportRefused {
  const more = items.length > LISTED ? [`  … and ${items.length - LISTED} more.`] : [];
  return new ImportRefused([summary, ...items.slice(0, LISTED).map((item) => `  ${item}`), ...more].join('\n'));
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
