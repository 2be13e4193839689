import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, type TestContext } from 'node:test';
import SQLite from 'better-sqlite3';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig, type Config } from '../src/config.js';
import { createDatabase, type Database } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';

/**
 * Tests run on SQLite by default, each on a fresh database file (as the server runs, with its
 * second connection for hot reads), and on PostgreSQL when DATABASE_URL points at one: each
 * app then gets a fresh schema. Both are removed when the test ends.
 */
export const TEST_DATABASE_URL = process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : undefined;
export const dialectName = TEST_DATABASE_URL ? 'postgres' : 'sqlite';

export interface TestApp {
  app: FastifyInstance;
  database: Database;
  config: Config;
}

/** Generous limits so tests that fail logins on purpose are not throttled unless they ask. */
const TEST_THROTTLE = {
  loginPerUsername: { max: 1000, windowSeconds: 60 },
  loginPerUsernameTotal: { max: 1000, windowSeconds: 60 },
  loginPerAddress: { max: 1000, windowSeconds: 60 },
  registerPerAddress: { max: 1000, windowSeconds: 60 },
  passwordResetPerAddress: { max: 1000, windowSeconds: 60 },
  passwordResetPerEmail: { max: 1000, windowSeconds: 60 },
};

/** A fresh database (migrated unless asked not to): a SQLite file, or a new PostgreSQL schema. */
export async function openTestDatabase(t: TestContext, { migrate = true } = {}): Promise<Database> {
  if (!TEST_DATABASE_URL) {
    const { database } = openTestSqliteFile(t);
    if (migrate) await migrateToLatest(database.db);
    return database;
  }
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  const database = createDatabase(TEST_DATABASE_URL, { schema, poolSize: 4 });
  t.after(async () => {
    await database.close();
    await oneSchemaChangeAtATime(() => admin.query(`drop schema ${schema} cascade`));
    await admin.end();
  });
  if (migrate) await oneSchemaChangeAtATime(() => migrateToLatest(database.db));
  return database;
}

let schemaChanges: Promise<unknown> = Promise.resolve();

/**
 * Kysely's migrator reads the tables of every schema of the database, and fails when one is
 * dropped meanwhile: tests running side by side migrate and drop their schemas in turn.
 */
function oneSchemaChangeAtATime<T>(change: () => Promise<T>): Promise<T> {
  const result = schemaChanges.then(change);
  schemaChanges = result.catch(() => undefined);
  return result;
}

/** A SQLite database on a file in a fresh temporary folder; closed and removed when the test ends. */
export function openTestSqliteFile(t: TestContext): { database: Database; file: string } {
  const folder = mkdtempSync(join(tmpdir(), 'task-tracker-test-'));
  const file = join(folder, 'test.sqlite3');
  const database = createDatabase(`sqlite:${file}`);
  t.after(async () => {
    await database.close();
    rmSync(folder, { recursive: true, force: true });
  });
  return { database, file };
}

/**
 * A migrated SQLite file with one user (`ann`), and a read-only connection to it as another
 * process would have: it sees what is committed, and only that.
 */
export async function openTestSqliteFileWithUser(t: TestContext, dateJoined: string) {
  const { database, file } = openTestSqliteFile(t);
  await migrateToLatest(database.db);
  const { id: userId } = await database.db
    .insertInto('users')
    .values({ username: 'ann', username_key: 'ann', email: '', password: 'x', date_joined: dateJoined })
    .returning('id')
    .executeTakeFirstOrThrow();
  const observer = new SQLite(file, { readonly: true });
  t.after(() => observer.close());
  return { database, file, userId, observer };
}

export async function buildTestApp(
  t: TestContext,
  options: { config?: Partial<Config>; database?: Database; env?: Record<string, string> } = {},
): Promise<TestApp> {
  const config: Config = {
    ...loadConfig({ LOG_LEVEL: 'silent', ...options.env }),
    throttle: TEST_THROTTLE,
    ...options.config,
  };
  const database = options.database ?? (await openTestDatabase(t));
  const app = await buildApp({ config, database });
  t.after(() => app.close());
  return { app, database, config };
}

let userCounter = 0;
export const PASSWORD = 'correct horse battery staple';

export function uniqueUsername(prefix = 'user'): string {
  userCounter += 1;
  return `${prefix}${userCounter}_${randomBytes(3).toString('hex')}`;
}

export interface TestUser {
  id: number;
  username: string;
  password: string;
  token: string;
  auth: { authorization: string };
}

/** Registers and logs in a user over the API. */
export async function createUser(app: FastifyInstance, overrides: { username?: string; password?: string; email?: string } = {}): Promise<TestUser> {
  const username = overrides.username ?? uniqueUsername();
  const password = overrides.password ?? PASSWORD;
  const registered = await app.inject({
    method: 'POST',
    url: '/api/register/',
    payload: { username, password, ...(overrides.email === undefined ? {} : { email: overrides.email }) },
  });
  if (registered.statusCode !== 201) throw new Error(`register failed: ${registered.statusCode} ${registered.body}`);
  const token = await login(app, username, password);
  const me = await app.inject({ method: 'GET', url: '/api/user/', headers: { authorization: `Token ${token}` } });
  return { id: me.json().id, username, password, token, auth: { authorization: `Token ${token}` } };
}

export async function login(app: FastifyInstance, username: string, password: string): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/api/login/', payload: { username, password } });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  return response.json().token;
}

export async function createTask(app: FastifyInstance, user: TestUser, fields: Record<string, unknown> = {}) {
  const response = await app.inject({
    method: 'POST',
    url: '/api/tasks/',
    headers: user.auth,
    payload: { title: 'A task', ...fields },
  });
  if (response.statusCode !== 201) throw new Error(`create task failed: ${response.statusCode} ${response.body}`);
  return response.json();
}

/** The task rows as stored, for checking that a refused write changed nothing. */
export async function storedTasks(database: Database) {
  return database.db.selectFrom('tasks').selectAll().orderBy('id').execute();
}

export function json(response: LightMyRequestResponse): unknown {
  return response.body === '' ? undefined : response.json();
}

/**
 * One app for a whole describe() or file, built in before() and closed in after(), with
 * whatever `setup` adds to it (users, tasks). Returns a getter for use inside the tests.
 */
export function sharedFixture<T extends object>(
  setup: (testApp: TestApp) => Promise<T>,
  options: Parameters<typeof buildTestApp>[1] = {},
): () => TestApp & T {
  let built: (TestApp & T) | undefined;
  const cleanups: (() => unknown)[] = [];
  before(async () => {
    const context = { after: (cleanup: () => unknown) => void cleanups.push(cleanup) } as unknown as TestContext;
    const testApp = await buildTestApp(context, options);
    built = { ...testApp, ...(await setup(testApp)) };
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  return () => {
    if (!built) throw new Error('the shared app is built in before()');
    return built;
  };
}

/** A shared app in which alice owns one task. */
export function sharedAppWithTask(): () => TestApp & { alice: TestUser; taskId: number } {
  return sharedFixture(async ({ app }) => {
    const alice = await createUser(app);
    return { alice, taskId: (await createTask(app, alice)).id };
  });
}

export function sharedTestApp(options: Parameters<typeof buildTestApp>[1] = {}): () => TestApp {
  return sharedFixture(async () => ({}), options);
}

/** An application/x-www-form-urlencoded body, as a browser form sends it. */
export function formBody(fields: Record<string, string>) {
  return {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  };
}

/** A multipart/form-data body of plain fields, as the browser's FormData sends it. */
export function multipartBody(fields: Record<string, string>) {
  const boundary = `----TaskTrackerBoundary${randomBytes(8).toString('hex')}`;
  const parts = Object.entries(fields).map(
    ([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
  );
  return {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: Buffer.from(`${parts.join('')}--${boundary}--\r\n`, 'utf8'),
  };
}

/** The keys of a task, in the order the contract prints them, then this service's additions. */
export const TASK_KEYS = ['id', 'title', 'description', 'due_date', 'completed', 'created_at', 'owner', 'updated_at', 'completed_at', 'list', 'assignee'];

/** A stored timestamp: ISO 8601, UTC, microseconds, `Z`. */
export const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
