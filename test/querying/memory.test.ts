import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { now } from '../../src/db/clock.js';
import { createDatabase } from '../../src/db/database.js';
import { MAX_DESCRIPTION_LENGTH, MAX_TITLE_LENGTH } from '../../src/tasks/validate.js';
import { dialectName } from '../helpers.js';
import { PRODUCTION_HEAP_FLAGS, peakResidentBytes, signIn, startServer, tempDatabaseUrl, within } from '../server-process.js';

const TASKS = 1000;
const MIB = 1024 * 1024;
/**
 * What the server may take resident under the production heap flags (192 MB of old space, 16 MB
 * semi-spaces): the heap, code, SQLite's page caches and what sockets hold. Far below what the
 * replies below would take if held whole (eight pages of 1,000 tasks of 8,192 four-byte
 * characters are 260 MB of JSON text alone, twice that as JavaScript strings).
 */
const RESIDENT_BOUND = 400 * MIB;

describe(`[${dialectName}] memory under the largest lists allowed`, () => {
  test('when several clients fetch the largest pages of the largest tasks at once, and others stall, then every reply is whole and memory stays bounded', async (t) => {
    const databaseUrl = await tempDatabaseUrl(t);
    const running = await startServer(t, { DATABASE_URL: databaseUrl }, PRODUCTION_HEAP_FLAGS);
    const token = await signIn(running.base, 'heavy');
    await seedLargestTasks(databaseUrl, 'heavy');
    const auth = { authorization: `Token ${token}` };

    // Clients that ask for the whole list and never read it hold what the server sent them.
    const stalled = Array.from({ length: 4 }, () => stallingClient(running.base, token));
    t.after(() => stalled.forEach((socket) => socket.destroy()));

    const urls = ['/api/tasks/', '/api/tasks/?page_size=1000', '/api/tasks/?limit=1000', '/api/tasks/?cursor=&page_size=1000&ordering=-title'];
    const replies = await within(
      Promise.all([...urls, ...urls].map(async (url) => {
        const response = await fetch(`${running.base}${url}`, { headers: auth });
        return { url, status: response.status, body: await response.json() };
      })),
      120_000,
      'the large lists',
    );
    for (const { url, status, body } of replies) {
      assert.equal(status, 200, url);
      const tasks = Array.isArray(body) ? body : body.results;
      assert.equal(tasks.length, TASKS, url);
      assert.equal([...tasks[0].description].length, MAX_DESCRIPTION_LENGTH, url);
    }

    const peak = peakResidentBytes(running.child.pid!);
    t.diagnostic(`peak resident memory: ${(peak / MIB).toFixed(0)} MB`);
    assert.ok(peak < RESIDENT_BOUND, `peak resident ${(peak / MIB).toFixed(0)} MB`);
    // Still serving.
    assert.equal((await fetch(`${running.base}/api/tasks/?page_size=1`, { headers: auth })).status, 200);
  });
});

/** The user's tasks at the largest size validation allows, in characters that take four bytes. */
async function seedLargestTasks(databaseUrl: string, username: string): Promise<void> {
  const database = createDatabase(databaseUrl);
  try {
    const owner = await database.db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirstOrThrow();
    const description = '🚀'.repeat(MAX_DESCRIPTION_LENGTH);
    for (let start = 0; start < TASKS; start += 100) {
      const at = now();
      const rows = Array.from({ length: 100 }, (_, index) => ({
        owner_id: owner.id,
        title: `${String(start + index).padStart(4, '0')}${'🚀'.repeat(MAX_TITLE_LENGTH - 4)}`,
        description,
        due_date: null,
        completed: false,
        created_at: at,
        updated_at: at,
        completed_at: null,
      }));
      await database.db.insertInto('tasks').values(rows).execute();
    }
  } finally {
    await database.close();
  }
}

/** Asks for the whole list over a raw socket and never reads the reply. */
function stallingClient(base: string, token: string) {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname, () => {
    socket.write(`GET /api/tasks/ HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Token ${token}\r\n\r\n`);
    socket.pause();
  });
  socket.on('error', () => {});
  return socket;
}
