import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import SQLite from 'better-sqlite3';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import { timestampOf } from '../../src/db/clock.js';
import type { Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { openTestDatabase, openTestSqliteFile, TEST_DATABASE_URL, type TestUser } from '../helpers.js';

export interface SyncedTask {
  id: number;
  [field: string]: unknown;
}

export interface SyncReply {
  token: string;
  more: boolean;
  changed: SyncedTask[];
  deleted: { id: number; deleted_at: string }[];
}

export function syncRequest(app: FastifyInstance, user: TestUser, token?: string): Promise<LightMyRequestResponse> {
  const query = token === undefined ? '' : `?token=${encodeURIComponent(token)}`;
  return app.inject({ method: 'GET', url: `/api/tasks/sync/${query}`, headers: user.auth });
}

export async function syncPage(app: FastifyInstance, user: TestUser, token?: string): Promise<SyncReply> {
  return replyOf(await syncRequest(app, user, token));
}

function replyOf(response: LightMyRequestResponse): SyncReply {
  if (response.statusCode !== 200) throw new Error(`sync gave ${response.statusCode} ${response.body}`);
  const reply = response.json() as SyncReply;
  assert.deepEqual(Object.keys(reply), ['token', 'more', 'changed', 'deleted']);
  assert.ok(reply.changed.length + reply.deleted.length <= 100, 'at most 100 changes per reply');
  return reply;
}

/** A client's copy of its tasks, kept as the README tells clients to keep it. */
export class SyncClient {
  readonly tasks = new Map<number, SyncedTask>();
  token: string | undefined;
  /** Replies received, and how many of them said `more`. */
  replies = 0;
  continued = 0;
  /** The size of each reply's body, in bytes. */
  readonly sizes: number[] = [];

  constructor(
    private readonly app: FastifyInstance,
    private readonly user: TestUser,
  ) {}

  /** One reply applied: the changed tasks replace their old versions, then deletions remove theirs. */
  async step(): Promise<SyncReply> {
    const response = await syncRequest(this.app, this.user, this.token);
    const reply = replyOf(response);
    this.sizes.push(response.rawPayload.length);
    for (const task of reply.changed) this.tasks.set(task.id, task);
    for (const deletion of reply.deleted) this.tasks.delete(deletion.id);
    this.token = reply.token;
    this.replies += 1;
    if (reply.more) this.continued += 1;
    return reply;
  }

  /** Syncs until the server says there is no more; returns the replies. */
  async sync(): Promise<SyncReply[]> {
    const replies: SyncReply[] = [];
    do {
      if (replies.length >= 1000) throw new Error('more than 1000 replies in one sync');
      replies.push(await this.step());
    } while (replies.at(-1)!.more);
    return replies;
  }

  /**
   * Syncs until a sync brings nothing, so that the token is past every change made so far and
   * the next sync brings only later ones. On PostgreSQL a change can come again while any
   * writing transaction on the server (another test's, say) was in flight at the previous sync.
   */
  async settle(): Promise<void> {
    for (let attempt = 0; attempt < 500; attempt += 1) {
      const replies = await this.sync();
      if (replies.length === 1 && replies[0]!.changed.length === 0 && replies[0]!.deleted.length === 0) return;
      await new Promise((done) => setTimeout(done, 5));
    }
    throw new Error('the sync never came up empty');
  }

  /** The copy as GET /api/tasks/ would list it. */
  list(): SyncedTask[] {
    return [...this.tasks.values()].sort((a, b) => a.id - b.id);
  }
}

/** The user's tasks as the server lists them now. */
export async function serverList(app: FastifyInstance, user: TestUser): Promise<SyncedTask[]> {
  const response = await app.inject({ method: 'GET', url: '/api/tasks/', headers: user.auth });
  assert.equal(response.statusCode, 200);
  return response.json() as SyncedTask[];
}

/** Inserts the owner's tasks in one statement (one transaction) and returns their ids. */
export async function seedTasks(database: Database, ownerId: number, count: number): Promise<number[]> {
  const stamp = new Date().toISOString().replace('Z', '000Z');
  const rows = Array.from({ length: count }, (_, index) => ({
    owner_id: ownerId,
    title: `Seeded ${index + 1}`,
    description: '',
    due_date: null,
    completed: false,
    created_at: stamp,
    updated_at: stamp,
    completed_at: null,
  }));
  const inserted = await database.db.insertInto('tasks').values(rows).returning('id').execute();
  return inserted.map((row) => Number(row.id));
}

/** A token as the server spells one, for forging tokens in tests. */
export const tokenOf = (text: string) => Buffer.from(text, 'latin1').toString('base64url');

/** A test database and how another connection or process reaches it. */
export interface SharedDatabase {
  database: Database;
  /** `sqlite:<file>` or the PostgreSQL URL. */
  url: string;
  /** PostgreSQL: the test's schema. */
  schema?: string;
}

export async function openSharedDatabase(t: TestContext): Promise<SharedDatabase> {
  if (!TEST_DATABASE_URL) {
    const { database, file } = openTestSqliteFile(t);
    await migrateToLatest(database.db);
    return { database, url: `sqlite:${file}` };
  }
  const database = await openTestDatabase(t);
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(database.db);
  return { database, url: TEST_DATABASE_URL, schema: rows[0]!.schema };
}

/** A write transaction on a connection of its own, left open until the test commits it. */
export interface HeldTransaction {
  rename(id: number, title: string): Promise<void>;
  commit(): Promise<void>;
}

export async function holdTransaction(t: TestContext, shared: SharedDatabase): Promise<HeldTransaction> {
  if (shared.schema === undefined) {
    const connection = new SQLite(shared.url.slice('sqlite:'.length));
    connection.pragma('busy_timeout = 5000');
    t.after(() => connection.close());
    // IMMEDIATE: the write lock is taken now, as the first write would take it.
    connection.exec('BEGIN IMMEDIATE');
    const rename = connection.prepare('update tasks set title = ?, updated_at = ? where id = ?');
    return {
      rename: async (id, title) => void rename.run(title, timestampOf(Date.now()), id),
      commit: async () => void connection.exec('COMMIT'),
    };
  }
  // A test that fails before committing must not leave the schema's removal waiting on this
  // transaction's locks: the server ends it after a while idle.
  const client = new pg.Client({
    connectionString: shared.url,
    options: `-c search_path=${shared.schema} -c idle_in_transaction_session_timeout=30000`,
  });
  client.on('error', () => {});
  await client.connect();
  t.after(() => client.end());
  await client.query('begin');
  return {
    rename: async (id, title) => void (await client.query('update tasks set title = $1, updated_at = now() where id = $2', [title, id])),
    commit: async () => void (await client.query('commit')),
  };
}
