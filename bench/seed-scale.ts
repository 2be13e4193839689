/**
 * A large throw-away database for the scale benchmark: N users with M tasks each, bulk-inserted,
 * optionally with shared lists (see Layout).
 * `npm run bench:seed -- sqlite|postgres [users] [tasks per user] [lists] [tasks per list]`
 * seeds one, prints the time taken and drops it again (BENCH_KEEP=1 keeps it and prints its URL).
 *
 * User u (ids 1..N) has tasks (u-1)*M+1 .. u*M; every user, with tasks or not, has one session
 * whose token is scaleToken(u).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import SQLite from 'better-sqlite3';
import { sql, type RawBuilder } from 'kysely';
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

/**
 * Who is in which list. Users 1..`users` have `tasksPerUser` personal tasks each. With L lists
 * (a multiple of 10), every list has 10 members and `listTasks` tasks:
 *
 * - users 1..L/2 (`members`) are each in 5 lists: user a (0-based) is at position j (0..4) of
 *   list (2a + j*L/5) mod L (0-based), so each list of even index (odd id) has 5 of them;
 * - users users+1 .. users+7.5L fill the other places (positions 5..9 of the lists of even
 *   index, all 10 of those of odd index), one list each;
 * - users L/2+1 .. `users` (personal tasks, no list) and users+7.5L+1 .. users+9L (no tasks, no
 *   list) are in none: 9L users are added in all, so 1,000 lists bring 10,000 users.
 *
 * Position 0 of a list is its owner, the other members of the first five positions editors, the
 * rest alternately editors and viewers. List x (0-based) has id x+1 and tasks
 * users*M + x*T + 1 .. users*M + (x+1)*T; its n-th task is created by the member at position
 * n mod 10, and 40% of them are assigned to one of its members.
 */
export interface Layout {
  users: number;
  tasksPerUser: number;
  lists: number;
  listTasks: number;
  /** Users 1..members are each in 5 lists; 0 without lists. */
  members: number;
  totalUsers: number;
}

export const MEMBERS_PER_LIST = 10;
export const LISTS_PER_MEMBER = 5;

export function layoutOf(users: number, tasksPerUser: number, lists = 0, listTasks = 150): Layout {
  if (lists > 0 && (lists % 10 !== 0 || lists / 2 >= users)) {
    throw new Error(`lists: ${lists} must be a multiple of 10 and less than twice the users with tasks (${users})`);
  }
  if (lists > 0 && !(listTasks > 0)) throw new Error(`tasks per list: ${listTasks} must be positive`);
  return { users, tasksPerUser, lists, listTasks, members: lists / 2, totalUsers: users + 9 * lists };
}

/** The user at `position` (0..9) of list `list` (0-based). */
export function memberAt({ users, lists }: Layout, list: number, position: number): number {
  if (list % 2 === 0 && position < LISTS_PER_MEMBER) {
    return ((((list - (position * lists) / LISTS_PER_MEMBER) % lists) + lists) % lists) / 2 + 1;
  }
  const place = list % 2 === 0 ? (list / 2) * 5 + position - 5 : 2.5 * lists + ((list - 1) / 2) * 10 + position;
  return users + 1 + place;
}

/** The lists (0-based) of user `user` in 1..members. */
export function listsOf({ lists }: Layout, user: number): number[] {
  return Array.from({ length: LISTS_PER_MEMBER }, (_, j) => (2 * (user - 1) + (j * lists) / LISTS_PER_MEMBER) % lists);
}

/** The id of the n-th task (0-based) of list `list` (0-based). */
export function listTaskId({ users, tasksPerUser, listTasks }: Layout, list: number, n: number): number {
  return users * tasksPerUser + list * listTasks + n + 1;
}

function roleAt(position: number): 'owner' | 'editor' | 'viewer' {
  if (position === 0) return 'owner';
  return position < LISTS_PER_MEMBER || position % 2 === 0 ? 'editor' : 'viewer';
}

export interface Seeded {
  url: string;
  label: string;
  layout: Layout;
  seconds: number;
  drop(): Promise<void>;
}

export async function seedScale(dialect: Dialect, layout: Layout): Promise<Seeded> {
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
    if (dialect === 'sqlite') seedSqlite(target.path!, layout, passwordHash);
    else await seedPostgres(target.url, layout, passwordHash);
  } catch (error) {
    await target.drop();
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  return { ...target, layout, seconds };
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

/** A batch of rows inserted by one prepared statement of 100 rows, the remainder one by one. */
function batchedInsert(sqlite: SQLite.Database, head: string, columns: number) {
  const row = `(${Array(columns).fill('?').join(', ')})`;
  const many = sqlite.prepare(head + Array(ROWS_PER_INSERT).fill(row).join(', '));
  const one = sqlite.prepare(head + row);
  let batch: unknown[] = [];
  return {
    push(...values: unknown[]) {
      batch.push(...values);
      if (batch.length === ROWS_PER_INSERT * columns) {
        many.run(batch);
        batch = [];
      }
    },
    flush() {
      for (let i = 0; i < batch.length; i += columns) one.run(batch.slice(i, i + columns));
      batch = [];
    },
  };
}

/** A task's text, dates and state, drawn from the word lists. */
function drawTask(rand: () => number, nowMs: number) {
  const pick = <T>(items: readonly T[]) => items[Math.floor(rand() * items.length)]!;
  const createdMs = nowMs - rand() * 730 * DAY_MS;
  const updatedMs = createdMs + rand() * (nowMs - createdMs);
  const completed = rand() < 0.3;
  const title = `${pick(VERBS)} ${pick(NOUNS)}${rand() < 0.4 ? ` for ${pick(PROJECTS)}` : ''}`;
  const description = rand() < 0.3 ? '' : `${pick(VERBS)} the ${pick(NOUNS)} with ${pick(PEOPLE)} before ${pick(DAYS)}.`;
  const dueDate = rand() < 0.7 ? new Date(nowMs + (rand() * 730 - 365) * DAY_MS).toISOString().slice(0, 10) : null;
  const updated = timestampOf(updatedMs);
  // The columns title .. description_folded, in the order of TASK_COLUMNS.
  return [
    title, description, dueDate, completed ? 1 : 0, timestampOf(createdMs), updated, completed ? updated : null,
    foldForSearch(title), foldForSearch(description),
  ];
}

const TASK_COLUMNS = 'title, description, due_date, completed, created_at, updated_at, completed_at, title_folded, description_folded';

function seedSqlite(path: string, layout: Layout, passwordHash: string): void {
  const { users, tasksPerUser, lists, listTasks, totalUsers } = layout;
  const sqlite = new SQLite(path);
  try {
    // A fresh file that nobody else uses: durability is only needed once seeding is done.
    sqlite.pragma('synchronous = OFF');
    sqlite.pragma('cache_size = -262144');
    const rand = random(42);
    const nowMs = Date.now();
    const now = timestampOf(nowMs);
    const expires = timestampOf(nowMs + 3650 * DAY_MS);

    const insertUser = sqlite.prepare(
      'insert into users (id, username, username_key, email, password, is_active, date_joined) values (?, ?, ?, ?, ?, 1, ?)',
    );
    const insertToken = sqlite.prepare(
      'insert into auth_tokens (user_id, digest, created_at, last_used_at, expires_at, user_agent) values (?, ?, ?, ?, ?, ?)',
    );
    const tasks = batchedInsert(sqlite, `insert into tasks (id, owner_id, ${TASK_COLUMNS}) values `, 11);
    const listRows = batchedInsert(sqlite, 'insert into lists (id, name, description, created_at, updated_at) values ', 5);
    const members = batchedInsert(sqlite, 'insert into list_members (list_id, user_id, role, joined_at) values ', 4);
    const listTaskRows = batchedInsert(sqlite, `insert into tasks (id, owner_id, list_id, assignee_id, ${TASK_COLUMNS}) values `, 13);

    sqlite.transaction(() => {
      for (let user = 1; user <= totalUsers; user += 1) {
        const name = `user${String(user).padStart(5, '0')}`;
        insertUser.run(user, name, name, `${name}@example.com`, passwordHash, timestampOf(nowMs - 800 * DAY_MS));
        insertToken.run(user, tokenDigest(scaleToken(user)), now, now, expires, 'scale-benchmark');
        if (user > users) continue;
        for (let n = 1; n <= tasksPerUser; n += 1) tasks.push((user - 1) * tasksPerUser + n, user, ...drawTask(rand, nowMs));
      }
      tasks.flush();
      // Lists, then their members (an assignee must be a member: a trigger checks), then their tasks.
      const listCreatedMs = (list: number) => nowMs - 760 * DAY_MS + list * 60_000;
      for (let list = 0; list < lists; list += 1) {
        const created = timestampOf(listCreatedMs(list));
        listRows.push(list + 1, `List ${list + 1} of ${PROJECTS[Math.floor(rand() * PROJECTS.length)]}`, '', created, created);
      }
      listRows.flush();
      for (let list = 0; list < lists; list += 1) {
        for (let position = 0; position < MEMBERS_PER_LIST; position += 1) {
          members.push(list + 1, memberAt(layout, list, position), roleAt(position), timestampOf(listCreatedMs(list) + position * 3_600_000));
        }
      }
      members.flush();
      for (let list = 0; list < lists; list += 1) {
        for (let n = 0; n < listTasks; n += 1) {
          const assignee = rand() < 0.4 ? memberAt(layout, list, Math.floor(rand() * MEMBERS_PER_LIST)) : null;
          listTaskRows.push(listTaskId(layout, list, n), memberAt(layout, list, n % MEMBERS_PER_LIST), list + 1, assignee, ...drawTask(rand, nowMs));
        }
      }
      listTaskRows.flush();
    })();
    sqlite.exec('analyze');
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    sqlite.close();
  }
}

/**
 * The task columns of `insert into tasks`, drawn set-based from rows of `base` (id, owner_id,
 * list_id, assignee_id, created_at, completed). random() is volatile, so each row draws afresh.
 */
function drawnTasks(base: RawBuilder<unknown>) {
  return sql`
    insert into tasks (id, owner_id, list_id, assignee_id, ${sql.raw(TASK_COLUMNS)})
    select id, owner_id, list_id, assignee_id, title, description, due_date, completed, created_at, updated_at,
      case when completed then updated_at end,
      -- The search folding of these words (tasks/search-text.ts): lower() for ASCII, in any
      -- locale, and the two accented capitals they hold.
      translate(lower(title), 'ÜÉ', 'üé'), translate(lower(description), 'ÜÉ', 'üé')
    from (
      select id, owner_id, list_id, assignee_id, created_at, completed,
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
      from (${base}) base
    ) rows`;
}

async function seedPostgres(url: string, layout: Layout, passwordHash: string): Promise<void> {
  const { users, tasksPerUser, lists, listTasks, totalUsers } = layout;
  const database = createDatabase(url);
  const { db } = database;
  try {
    await sql`
      insert into users (id, username, username_key, email, password, is_active, date_joined)
      select u, name, name, name || '@example.com', ${passwordHash}, true, now() - interval '800 days'
      from generate_series(1, ${totalUsers}::int) u, lateral (select 'user' || lpad(u::text, 5, '0') as name) n`.execute(db);
    // The same tokens as scaleToken(): sha256('task-tracker-scale:<id>') as hex, first 40 characters.
    await sql`
      insert into auth_tokens (user_id, digest, created_at, last_used_at, expires_at, user_agent)
      select u, encode(sha256(convert_to(token, 'UTF8')), 'hex'), now(), now(), now() + interval '3650 days', 'scale-benchmark'
      from generate_series(1, ${totalUsers}::int) u,
        lateral (select substr(encode(sha256(convert_to('task-tracker-scale:' || u, 'UTF8')), 'hex'), 1, 40) as token) t`.execute(db);

    // Set-based, a slice of users per statement.
    const slice = Math.max(1, Math.floor(200_000 / tasksPerUser));
    for (let first = 1; first <= users; first += slice) {
      const last = Math.min(users, first + slice - 1);
      await drawnTasks(sql`
        select (u - 1) * ${tasksPerUser}::int + n as id, u as owner_id, null::bigint as list_id, null::bigint as assignee_id,
          now() - random() * interval '730 days' as created_at, random() < 0.3 as completed
        from generate_series(${first}::int, ${last}::int) u, generate_series(1, ${tasksPerUser}::int) n`).execute(db);
    }

    if (lists > 0) {
      await sql`
        insert into lists (id, name, description, created_at, updated_at)
        select x + 1, 'List ' || (x + 1) || ' of ' || (${sql.val(PROJECTS)}::text[])[1 + floor(random() * ${PROJECTS.length})::int], '',
          now() - interval '760 days' + x * interval '1 minute', now() - interval '760 days' + x * interval '1 minute'
        from generate_series(0, ${lists - 1}::int) x`.execute(db);
      // The places of the layout, computed once here (10 per list) and joined by the statements below.
      const places = { list: [] as number[], position: [] as number[], user: [] as number[] };
      for (let list = 0; list < lists; list += 1) {
        for (let position = 0; position < MEMBERS_PER_LIST; position += 1) {
          places.list.push(list + 1);
          places.position.push(position);
          places.user.push(memberAt(layout, list, position));
        }
      }
      const placesTable = sql`unnest(${places.list}::int[], ${places.position}::int[], ${places.user}::int[]) as place(list_id, pos, user_id)`;
      await sql`
        insert into list_members (list_id, user_id, role, joined_at)
        select place.list_id, place.user_id,
          case when pos = 0 then 'owner' when pos < ${LISTS_PER_MEMBER}::int or pos % 2 = 0 then 'editor' else 'viewer' end,
          lists.created_at + pos * interval '1 hour'
        from ${placesTable} join lists on lists.id = place.list_id`.execute(db);
      await drawnTasks(sql`
        select ${users * tasksPerUser}::int + x * ${listTasks}::int + n + 1 as id, creator.user_id as owner_id,
          base.x + 1 as list_id, assignee.user_id as assignee_id, created_at, completed
        from (
          select x, n, now() - random() * interval '730 days' as created_at, random() < 0.3 as completed,
            case when random() < 0.4 then floor(random() * ${MEMBERS_PER_LIST}::int)::int end as assignee_position
          from generate_series(0, ${lists - 1}::int) x, generate_series(0, ${listTasks - 1}::int) n
          offset 0
        ) base
        join (select * from ${placesTable}) creator on creator.list_id = base.x + 1 and creator.pos = base.n % ${MEMBERS_PER_LIST}::int
        left join (select * from ${placesTable}) assignee on assignee.list_id = base.x + 1 and assignee.pos = base.assignee_position`).execute(db);
    }
    // Ids were given explicitly: move the identity sequences past them.
    for (const table of ['users', 'tasks', ...(lists > 0 ? ['lists'] : [])]) {
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
  if (dialect !== 'sqlite' && dialect !== 'postgres') {
    throw new Error('usage: seed-scale.ts sqlite|postgres [users] [tasks per user] [lists] [tasks per list]');
  }
  const [users, tasksPerUser, lists, listTasks] = [1000, 1000, 0, 150].map((fallback, index) => Number(process.argv[3 + index] ?? fallback));
  const layout = layoutOf(users!, tasksPerUser!, lists, listTasks);
  const seeded = await seedScale(dialect, layout);
  const shared = lists ? `, ${lists} lists x ${listTasks} tasks, ${layout.totalUsers} users in all` : '';
  console.log(`${seeded.label}: ${users} users x ${tasksPerUser} tasks${shared} seeded in ${seeded.seconds.toFixed(1)} s`);
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
