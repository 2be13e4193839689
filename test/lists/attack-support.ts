import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../../src/db/database.js';
import { buildTestApp, createUser, TEST_DATABASE_URL, type TestUser } from '../helpers.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Requests as one user: `api(app, alice).patch(url, body)`. */
export function api(app: FastifyInstance, user: TestUser) {
  const send = (method: Method) => (url: string, payload?: unknown) =>
    app.inject({ method, url, headers: user.auth, payload: payload as Record<string, unknown> | undefined });
  return { get: send('GET'), post: send('POST'), put: send('PUT'), patch: send('PATCH'), delete: send('DELETE') };
}

export async function newList(app: FastifyInstance, owner: TestUser, name = 'Team') {
  const created = await api(app, owner).post('/api/lists/', { name });
  assert.equal(created.statusCode, 201, created.body);
  return created.json() as { id: number };
}

export async function addMember(app: FastifyInstance, owner: TestUser, listId: number, user: TestUser, role = 'viewer') {
  const added = await api(app, owner).post(`/api/lists/${listId}/members/`, { username: user.username, role });
  assert.equal(added.statusCode, 201, added.body);
}

/** An app with an owner, an editor, a viewer and an outsider around one list. */
export async function team(t: TestContext) {
  const { app, database } = await buildTestApp(t);
  const [owner, editor, viewer, outsider] = await Promise.all([createUser(app), createUser(app), createUser(app), createUser(app)]);
  const list = await newList(app, owner);
  await addMember(app, owner, list.id, editor, 'editor');
  await addMember(app, owner, list.id, viewer, 'viewer');
  return { app, database, owner, editor, viewer, outsider, list };
}

/** PostgreSQL: a second connection on the test's schema, to hold row locks from outside the app. */
export async function blockerFor(t: TestContext, database: Database) {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(database.db);
  const blocker = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${rows[0]!.schema}` });
  await blocker.connect();
  t.after(() => blocker.end());
  return {
    /** Runs `statement` in a transaction left open until `release()`. */
    async hold(statement: string, parameters: unknown[]) {
      await blocker.query('begin');
      await blocker.query(statement, parameters);
      const { rows: pids } = await blocker.query<{ pid: number }>('select pg_backend_pid() as pid');
      return { pid: pids[0]!.pid, release: () => blocker.query('rollback') };
    },
  };
}

/** Waits until `count` backends wait, directly or through others, on `blockerPid`'s locks. */
export async function untilWaiting(database: Database, blockerPid: number, count: number) {
  for (let attempt = 0; attempt < 500; attempt++) {
    const { rows } = await sql<{ waiting: number }>`
      with recursive waiting(pid) as (
        select pid from pg_stat_activity where ${blockerPid}::int = any(pg_blocking_pids(pid))
        union
        select activity.pid from pg_stat_activity activity join waiting on waiting.pid = any(pg_blocking_pids(activity.pid))
      ) select count(*)::int as waiting from waiting`.execute(database.db);
    if (rows[0]!.waiting >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`fewer than ${count} backends waited on ${blockerPid}`);
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
