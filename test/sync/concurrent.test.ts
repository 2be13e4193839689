import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildTestApp, createUser, dialectName, type TestUser } from '../helpers.js';
import { randomGenerator } from './random.js';
import { openSharedDatabase, seedTasks, serverList, SyncClient, type SharedDatabase } from './support.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SEED = Number(process.env.SYNC_TEST_SEED ?? 20261130);
const WRITERS = 6;
const OPERATIONS_PER_WRITER = 80;
const OTHER_PROCESS_OPERATIONS = 240;

/** Counts finished writes and lets the syncing client wait for a number of them. */
class Progress {
  writes = 0;
  finished = false;
  private waiting: (() => void)[] = [];

  wrote(): void {
    this.writes += 1;
    this.wake();
  }

  finish(): void {
    this.finished = true;
    this.wake();
  }

  async waitFor(writes: number): Promise<void> {
    const target = this.writes + writes;
    while (!this.finished && this.writes < target) await new Promise<void>((done) => this.waiting.push(done));
  }

  private wake(): void {
    for (const done of this.waiting.splice(0)) done();
  }
}

/**
 * A DELETE reads before it writes, in a transaction that asks for SQLite's write lock only at
 * its first write; SQLite refuses that upgrade at once (a 500) when another process has written
 * meanwhile. So on SQLite the deletions come from the other process, which takes the lock first.
 */
const DELETES_OVER_HTTP = dialectName === 'postgres';

/** One writer over HTTP: creates, changes and deletes the user's tasks, some of them deleted by others meanwhile. */
async function writeOverHttp(app: FastifyInstance, user: TestUser, ids: number[], random: () => number, progress: Progress) {
  for (let operation = 0; operation < OPERATIONS_PER_WRITER; operation += 1) {
    const roll = random() * (DELETES_OVER_HTTP ? 1 : 0.8);
    const id = ids[Math.floor(random() * ids.length)];
    if (roll < 0.3 || id === undefined) {
      const response = await app.inject({ method: 'POST', url: '/api/tasks/', headers: user.auth, payload: { title: `New ${operation}` } });
      // Created tasks are left alone afterwards, so a creation missed by the client stays missed.
      assert.equal(response.statusCode, 201, response.body);
    } else if (roll < 0.8) {
      const payload = { title: `Changed ${operation}`, completed: random() < 0.5, description: 'x'.repeat(Math.floor(random() * 500)) };
      const response = await app.inject({ method: 'PATCH', url: `/api/tasks/${id}/`, headers: user.auth, payload });
      assert.ok([200, 404].includes(response.statusCode), response.body);
    } else {
      const response = await app.inject({ method: 'DELETE', url: `/api/tasks/${id}/`, headers: user.auth });
      assert.ok([204, 404].includes(response.statusCode), response.body);
    }
    progress.wrote();
  }
}

/** The same kind of writes from another process, on its own connections (test/sync/writer.ts). */
function writeFromAnotherProcess(t: TestContext, shared: SharedDatabase, user: TestUser): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/sync/writer.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      WRITER_DATABASE_URL: shared.url,
      WRITER_SCHEMA: shared.schema ?? '',
      WRITER_OWNER: String(user.id),
      WRITER_OPERATIONS: String(OTHER_PROCESS_OPERATIONS),
      WRITER_SEED: String(SEED),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let errors = '';
  child.stderr.on('data', (chunk) => (errors += chunk));
  return new Promise((done, fail) => {
    child.on('close', (code) => (code === 0 ? done() : fail(new Error(`the writer process exited with ${code}: ${errors}`))));
  });
}

describe(`[${dialectName}] syncing during concurrent writes`, () => {
  test('when writers in this process and in another one create, change and delete tasks while a client syncs, then after a final sync its copy equals the database, nothing missed', async (t) => {
    const shared = await openSharedDatabase(t);
    const { app } = await buildTestApp(t, { database: shared.database });
    const alice = await createUser(app);
    const ids = await seedTasks(shared.database, alice.id, 200);
    const random = randomGenerator(SEED);
    const progress = new Progress();
    const client = new SyncClient(app, alice);

    const writers = Promise.all([
      ...Array.from({ length: WRITERS }, () => writeOverHttp(app, alice, ids, random, progress)),
      writeFromAnotherProcess(t, shared, alice),
    ]).finally(() => progress.finish());
    // Syncs at once, after a few writes, and after more than a page of them, so that rounds
    // of one page and of several pages both meet writes in flight.
    const syncing = (async () => {
      for (let round = 0; !progress.finished; round += 1) {
        await client.sync();
        await progress.waitFor([0, 5, 150][round % 3]!);
      }
    })();
    await writers;
    await syncing;
    await client.sync();

    const stored = await serverList(app, alice);
    const missing = stored.filter((task) => JSON.stringify(client.tasks.get(task.id)) !== JSON.stringify(task));
    const extra = client.list().filter((task) => !stored.some((current) => current.id === task.id));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
    assert.deepEqual(client.list(), stored);
    // The writes really overlapped the sync: many replies, some of them in multi-page rounds.
    assert.ok(client.replies >= 6, `${client.replies} replies`);
    assert.ok(client.continued >= 1, `${client.continued} replies with more`);
    assert.ok(stored.length > 0);
  });
});
