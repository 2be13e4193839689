import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import SQLite from 'better-sqlite3';
import { dialectName } from '../helpers.js';
import { signIn, startServer, within, type Running } from '../server-process.js';

const UNAVAILABLE = { detail: 'The database is unavailable; try again shortly.' };

async function send(server: Running, token: string, method: string, path: string, body?: unknown) {
  const response = await within(
    fetch(server.base + path, {
      method,
      headers: { authorization: `Token ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    15_000,
    `${method} ${path}`,
  );
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.text()) || 'null' };
}

const titles = async (server: Running, token: string) => {
  const reply = await send(server, token, 'GET', '/api/tasks/');
  assert.equal(reply.status, 200, reply.body);
  return (JSON.parse(reply.body) as { title: string }[]).map((task) => task.title);
};

/** A tmpfs of `bytes` for the database, so that the test can fill it; undefined without mount rights. */
function smallFileSystem(t: TestContext, bytes: number): string | undefined {
  const folder = mkdtempSync(join(tmpdir(), 'task-tracker-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', folder], { stdio: 'ignore' });
  } catch {
    rmSync(folder, { recursive: true, force: true });
    return undefined;
  }
  t.after(() => {
    execFileSync('umount', ['-l', folder]);
    rmSync(folder, { recursive: true, force: true });
  });
  return folder;
}

describe(`[${dialectName}] the SQLite file cannot be written`, { skip: dialectName !== 'sqlite' && 'runs in the SQLite suite' }, () => {
  test('when another process holds the write lock past busy_timeout, then writes get 503 with Retry-After, reads go on, and writes work once it lets go', async (t) => {
    const folder = mkdtempSync(join(tmpdir(), 'task-tracker-locked-'));
    t.after(() => rmSync(folder, { recursive: true, force: true }));
    const file = join(folder, 'tasks.sqlite3');
    const server = await startServer(t, { DATABASE_URL: `sqlite:${file}` });
    const token = await signIn(server.base, 'locked_out');
    assert.equal((await send(server, token, 'POST', '/api/tasks/', { title: 'Before the lock' })).status, 201);

    const other = new SQLite(file);
    t.after(() => other.close());
    other.exec('BEGIN IMMEDIATE');
    const refused = await send(server, token, 'POST', '/api/tasks/', { title: 'While locked' });
    assert.equal(refused.status, 503, refused.body);
    assert.deepEqual(JSON.parse(refused.body), UNAVAILABLE);
    assert.equal(refused.retryAfter, '5');
    assert.deepEqual(await titles(server, token), ['Before the lock']);
    other.exec('ROLLBACK');

    assert.equal((await send(server, token, 'POST', '/api/tasks/', { title: 'After the lock' })).status, 201);
    assert.deepEqual(await titles(server, token), ['Before the lock', 'After the lock']);
  });

  test('when the disk is full, then writes get 503, every acknowledged write is there and no other, reads go on, and writes work once there is room', async (t) => {
    const folder = smallFileSystem(t, 8 * 1024 * 1024);
    if (folder === undefined) return t.skip('mounting a small tmpfs needs root');
    const server = await startServer(t, { DATABASE_URL: `sqlite:${join(folder, 'tasks.sqlite3')}` });
    const token = await signIn(server.base, 'disk_full');
    // Leave the database about 256 KiB to grow in.
    const free = statfsSync(folder);
    writeFileSync(join(folder, 'filler'), Buffer.alloc(Math.max(0, free.bavail * free.bsize - 256 * 1024)));

    const acknowledged: string[] = [];
    let refused: Awaited<ReturnType<typeof send>> | undefined;
    for (let index = 0; index < 200 && refused === undefined; index += 1) {
      const title = `Task ${index}`;
      const reply = await send(server, token, 'POST', '/api/tasks/', { title, description: 'x'.repeat(8_000) });
      if (reply.status === 201) acknowledged.push(title);
      else refused = reply;
    }
    assert.ok(refused, 'the disk never filled');
    assert.equal(refused.status, 503, refused.body);
    assert.deepEqual(JSON.parse(refused.body), UNAVAILABLE);
    assert.deepEqual(await titles(server, token), acknowledged);

    rmSync(join(folder, 'filler'));
    assert.equal((await send(server, token, 'POST', '/api/tasks/', { title: 'With room again' })).status, 201);
    assert.deepEqual(await titles(server, token), [...acknowledged, 'With room again']);
    assert.equal(server.child.exitCode, null);
  });
});
