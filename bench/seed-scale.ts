/**
 * A large throw-away database for the scale benchmark: N users with M tasks each, bulk-inserted.
 * `npm run bench:seed -- sqlite|postgres [users] [tasks per user]` seeds one, prints the time
 * taken and drops it again (BENCH_KEEP=1 keeps it and prints its URL).
 *
 * User u (ids 1..N) has tasks (u-1)*M+1 .. u*M and one session whose token is scaleToken(u).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { hashPassword } from '../src/accounts/passwords.js';
import { tokenDigest } from '../src/accounts/tokens.js';
import { timestampOf } from '../src/db/clock.js';
import { createDatabase, type Dialect } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { foldForSearch } from '../src/tasks/search-text.js';
import { adminQuery } from './lib.js';

export const PASSWORD = 'scale benchmark password 1';
export const POSTGRES_SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/postgres';

/** The session token of user `id`: 40 hex characters, like the tokens the API issues. */
export function scaleToken(id: number): string {
  return createHash('sha256').update(`task-tracker-scale:${id}`).digest('hex').slice(0, 40);
}

// Words for titles and descriptions; the search scenario looks for some of the nouns.
export const VERBS = ['Write', 'Review', 'Send', 'Fix', 'Plan', 'Call', 'Book', 'Update', 'Clean', 'Buy', 'Prepare', 'Check'];
export const NOUNS = [
  'report', 'invoice', 'budget', 'meeting', 'slides', 'garden', 'car', 'dentist', 'groceries', 'taxes',
  'newsletter', 'backup', 'roadmap', 'contract', 'birthday', 'flights', 'database', 'proposal', 'kitchen', 'insurance',
];
const PROJECTS = ['Acme', 'the team', 'Q3', 'home', 'the school', 'Müller GmbH', 'the launch', 'Grandma'];
const PEOPLE = ['Alice', 'Bob', 'Chen', 'Dana', 'Émile', 'Farah', 'Gustav', 'Hiro'];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'the weekend'];

const DAY_MS = 86_400_000;

export interface Seeded {
  url: string;
  label: string;
  users: number;
  tasksPerUser: number;
  seconds: number;
  drop(): Promise<void>;
}

export async function seedScale(dialect: Dialect, users: number, tasksPerUser: number): Promise<Seeded> {
  const started = performance.now();
  const target = dialect === 'sqlite' ? sqliteTarget() : await postgresTarget();
  try {
    // The schema comes from the project's own migrations, exactly as the server creates it.
    const database = createDatabase(target.url);
    try {
      await migrateToLatest(database.db);
    } finally {
      await database.close();
    }
    const passwordHash = await hashPassword(PASSWORD);
    if (dialect === 'sqlite') seedSqlite(target.path!, users, tasksPerUser, passwordHash);
    else await seedPostgres(target.url, users, tasksPerUser, passwordHash);
  } catch (error) {
    await target.drop();
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  return { ...target, users, tasksPerUser, seconds };
}

interface Target {
  url: string;
  label: string;
  path?: string;
  drop(): Promise<void>;
}

function sqliteTarget(): Target {
  const folder = mkdtempSync(join(tmpdir(), 'task-tracker-scale-'));
  const path = join(folder, 'scale.sqlite3');
  return {
    url: `sqlite:${path}`,
    label: 'SQLite',
    path,
    drop: async () => rmSync(folder, { recursive: true, force: true }),
  };
}

async function postgresTarget(): Promise<Target> {
  const name = `task_tracker_scale_${process.pid}_${Date.now()}`;
  await adminQuery(POSTGRES_SERVER, `create database ${name}`);
  const url = new URL(POSTGRES_SERVER);
  url.pathname = `/${name}`;
  return { url: url.href, label: 'PostgreSQL', drop: () => adminQuery(POSTGRES_SERVER, `drop database if exists ${name} with (force)`) };
}

/** Mulberry32: a small seeded generator, so every run seeds the same data. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ROWS_PER_INSERT = 100;
const TASK_COLUMNS = 11;

function seedSqlite(path: string, users: number, tasksPerUser: number, passwordHash: string): void {
  const sqlite = new SQLite(path);
  try {
    // A fresh file that nobody else uses: durability is only needed once seeding is done.
    sqlite.pragma('synchronous = OFF');
    sqlite.pragma('cache_size = -262144');
    const rand = random(42);
    const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
    const nowMs = Date.now();
    const now = timestampOf(nowMs);
    const expires = timestampOf(nowMs + 3650 * DAY_MS);

    const insertUser = sqlite.prepare(
      'insert into users (id, username, username_key, email, password, is_active, date_joined) values (?, ?, ?, ?, ?, 1, ?)',
    );
    const insertToken = sqlite.prepare(
      'insert into auth_tokens (user_id, digest, created_at, last_used_at, expires_at, user_agent) values (?, ?, ?, ?, ?, ?)',
    );
    const taskRow = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
    const taskColumns =
      'insert into tasks (id, owner_id, title, description, due_date, completed, created_at, updated_at, completed_at, title_folded, description_folded) values ';
    const insertTasks = sqlite.prepare(taskColumns + Array(ROWS_PER_INSERT).fill(taskRow).join(', '));
    const insertTask = sqlite.prepare(taskColumns + taskRow);

    sqlite.transaction(() => {
      let batch: unknown[] = [];
      for (let user = 1; user <= users; user += 1) {
        const name = `user${String(user).padStart(5, '0')}`;
        insertUser.run(user, name, name, `${name}@example.com`, passwordHash, timestampOf(nowMs - 800 * DAY_MS));
        insertToken.run(user, tokenDigest(scaleToken(user)), now, now, expires, 'scale-benchmark');
        for (let n = 1; n <= tasksPerUser; n += 1) {
          const createdMs = nowMs - rand() * 730 * DAY_MS;
          const updatedMs = createdMs + rand() * (nowMs - createdMs);
          const completed = rand() < 0.3;
          const title = `${pick(VERBS)} ${pick(NOUNS)}${rand() < 0.4 ? ` for ${pick(PROJECTS)}` : ''}`;
          const description =
            rand() < 0.3 ? '' : `${pick(VERBS)} the ${pick(NOUNS)} with ${pick(PEOPLE)} before ${pick(DAYS)}.`;
          const dueDate =
            rand() < 0.7 ? new Date(nowMs + (rand() * 730 - 365) * DAY_MS).toISOString().slice(0, 10) : null;
          const updated = timestampOf(updatedMs);
          batch.push(
            (user - 1) * tasksPerUser + n, user, title, description, dueDate,
            completed ? 1 : 0, timestampOf(createdMs), updated, completed ? updated : null,
            foldForSearch(title), foldForSearch(description),
          );
          if (batch.length === ROWS_PER_INSERT * TASK_COLUMNS) {
            insertTasks.run(batch);
            batch = [];
          }
        }
      }
      for (let i = 0; i < batch.length; i += TASK_COLUMNS) insertTask.run(batch.slice(i, i + TASK_COLUMNS));
    })();
    sqlite.exec('analyze');
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    sqlite.close();
  }
}

async function seedPostgres(url: string, users: number, tasksPerUser: number, passwordHash: string): Promise<void> {
  const database = createDatabase(url);
  const { db } = database;
  try {
    await sql`
      insert into users (id, username, username_key, email, password, is_active, date_joined)
      select u, name, name, name || '@example.com', ${passwordHash}, true, now() - interval '800 days'
      from generate_series(1, ${users}::int) u, lateral (select 'user' || lpad(u::text, 5, '0') as name) n`.execute(db);
    // The same tokens as scaleToken(): sha256('task-tracker-scale:<id>') as hex, first 40 characters.
    await sql`
      insert into auth_tokens (user_id, digest, created_at, last_used_at, expires_at, user_agent)
      select u, encode(sha256(convert_to(token, 'UTF8')), 'hex'), now(), now(), now() + interval '3650 days', 'scale-benchmark'
      from generate_series(1, ${users}::int) u,
        lateral (select substr(encode(sha256(convert_to('task-tracker-scale:' || u, 'UTF8')), 'hex'), 1, 40) as token) t`.execute(db);

    // Set-based, a slice of users per statement. random() is volatile, so each row draws afresh.
    const slice = Math.max(1, Math.floor(200_000 / tasksPerUser));
    for (let first = 1; first <= users; first += slice) {
      const last = Math.min(users, first + slice - 1);
      await sql`
        insert into tasks (id, owner_id, title, description, due_date, completed, created_at, updated_at, completed_at,
          title_folded, description_folded)
        select id, owner_id, title, description, due_date, completed, created_at, updated_at,
          case when completed then updated_at end,
          -- The search folding of these words (tasks/search-text.ts): lower() for ASCII, in any
          -- locale, and the two accented capitals they hold.
          translate(lower(title), 'ÜÉ', 'üé'), translate(lower(description), 'ÜÉ', 'üé')
        from (
          select id, owner_id, created_at, completed,
            created_at + random() * (now() - created_at) as updated_at,
            (${sql.val(VERBS)}::text[])[1 + floor(random() * ${VERBS.length})::int] || ' ' ||
              (${sql.val(NOUNS)}::text[])[1 + floor(random() * ${NOUNS.length})::int] ||
              case when random() < 0.4 then ' for ' || (${sql.val(PROJECTS)}::text[])[1 + floor(random() * ${PROJECTS.length})::int] else '' end
              as title,
            case when random() < 0.3 then '' else
              (${sql.val(VERBS)}::text[])[1 + floor(random() * ${VERBS.length})::int] || ' the ' ||
              (${sql.val(NOUNS)}::text[])[1 + floor(random() * ${NOUNS.length})::int] || ' with ' ||
              (${sql.val(PEOPLE)}::text[])[1 + floor(random() * ${PEOPLE.length})::int] || ' before ' ||
              (${sql.val(DAYS)}::text[])[1 + floor(random() * ${DAYS.length})::int] || '.' end as description,
            case when random() < 0.7 then (current_date + floor(random() * 730 - 365)::int) end as due_date
          from (
            select (u - 1) * ${tasksPerUser}::int + n as id, u as owner_id,
              now() - random() * interval '730 days' as created_at, random() < 0.3 as completed
            from generate_series(${first}::int, ${last}::int) u, generate_series(1, ${tasksPerUser}::int) n
          ) base
        ) rows`.execute(db);
    }
    // Ids were given explicitly: move the identity sequences past them.
    for (const table of ['users', 'tasks']) {
      await sql`select setval(pg_get_serial_sequence(${table}, 'id'), (select max(id) from ${sql.table(table)}))`.execute(db);
    }
    // VACUUM sets the visibility map (index-only scans), ANALYZE the planner's statistics.
    await sql`vacuum analyze`.execute(db);
  } finally {
    await database.close();
  }
}

async function main(): Promise<void> {
  const dialect = process.argv[2] ?? 'sqlite';
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error('usage: seed-scale.ts sqlite|postgres [users] [tasks per user]');
  const users = Number(process.argv[3] ?? 1000);
  const tasksPerUser = Number(process.argv[4] ?? 1000);
  const seeded = await seedScale(dialect, users, tasksPerUser);
  console.log(`${seeded.label}: ${users} users x ${tasksPerUser} tasks seeded in ${seeded.seconds.toFixed(1)} s`);
  if (process.env.BENCH_KEEP === '1') {
    console.log(`kept: DATABASE_URL=${seeded.url}  (token of user 1: ${scaleToken(1)})`);
  } else {
    await seeded.drop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
