import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { createDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { buildTestApp, createTask, createUser, TEST_DATABASE_URL } from '../helpers.js';
import { addMember, api, newList } from './attack-support.js';

// Heavier: ATTACK_TASKS=12 ATTACK_GUESTS=8 ATTACK_ROUNDS=15 also gives a 500 (a third deadlock in a row).
const TASKS = Number(process.env.ATTACK_TASKS ?? 6);
const GUESTS = Number(process.env.ATTACK_GUESTS ?? 4);
const ROUNDS = Number(process.env.ATTACK_ROUNDS ?? 6);

/**
 * A task write that involves a list locks the task's row and then the list's row (writes.ts);
 * adding or removing a member and deleting a list lock the list's row and then its tasks' rows.
 */
describe('[postgres] attack: task rows and list rows locked in opposite orders', { skip: TEST_DATABASE_URL === undefined && 'PostgreSQL only' }, () => {
  test('ATTACK when editors reassign tasks while the owner adds and removes members, then PostgreSQL finds no deadlock and no reply is a 500', async (t) => {
    // A database of its own: PostgreSQL counts deadlocks per database, and other tests run beside this one.
    const name = `task_tracker_deadlocks_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    const url = new URL(TEST_DATABASE_URL!);
    url.pathname = `/${name}`;
    const own = createDatabase(url.href, { poolSize: 8 });
    t.after(async () => {
      await own.close();
      await admin.query(`drop database ${name} with (force)`);
      await admin.end();
    });
    await migrateToLatest(own.db);
    const { app, database } = await buildTestApp(t, { database: own });
    const [owner, editor] = await Promise.all([createUser(app), createUser(app)]);
    const guests = await Promise.all(Array.from({ length: GUESTS }, () => createUser(app)));
    const list = await newList(app, owner);
    await addMember(app, owner, list.id, editor, 'editor');
    const tasks = await Promise.all(Array.from({ length: TASKS }, () => createTask(app, editor, { list: list.id })));
    const deadlocks = async () =>
      Number((await sql<{ n: string }>`select deadlocks as n from pg_stat_database where datname = current_database()`.execute(database.db)).rows[0]!.n);
    const before = await deadlocks();
    const statuses: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const replies = await Promise.all([
        ...tasks.map((task, index) => api(app, editor).patch(`/api/tasks/${task.id}/`, { assignee: index % 2 ? owner.id : editor.id })),
        ...guests.map((guest) => api(app, owner).post(`/api/lists/${list.id}/members/`, { username: guest.username })),
      ]);
      statuses.push(...replies.map((reply) => reply.statusCode));
      for (const guest of guests) await api(app, owner).delete(`/api/lists/${list.id}/members/${guest.id}/`);
    }
    const found = (await deadlocks()) - before;
    assert.deepEqual({ deadlocks: found, errors: statuses.filter((status) => status >= 500).length }, { deadlocks: 0, errors: 0 });
  });
});
