import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { spawn } from 'node:child_process';
import { buildTestApp, createTask, createUser, openTestSqliteFile, TEST_DATABASE_URL } from '../helpers.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { addMember, api, newList } from './attack-support.js';

/**
 * SQLite shared with another process (the command line's cleanup, a second server): a write
 * transaction that reads first asks for the write lock only at its first write, and SQLite
 * refuses it at once when the other process wrote meanwhile. A personal task's PATCH is one
 * statement; a list task's PATCH and the membership use cases read first.
 */
describe('[sqlite] attack: list writes while another process writes the file', { skip: TEST_DATABASE_URL !== undefined && 'SQLite only' }, () => {
  test('ATTACK when list tasks are changed and members managed while another connection keeps writing, then no reply is a 500', async (t) => {
    const { database, file } = openTestSqliteFile(t);
    await migrateToLatest(database.db);
    const { app } = await buildTestApp(t, { database });
    const [owner, editor, bystander] = await Promise.all([createUser(app), createUser(app), createUser(app)]);
    const list = await newList(app, owner);
    await addMember(app, owner, list.id, editor, 'editor');
    const listTask = await createTask(app, owner, { list: list.id });
    const personalTask = await createTask(app, owner);

    // Another process logs the bystander in, again and again.
    const script = `
      const SQLite = require('better-sqlite3');
      const db = new SQLite(process.argv[1]);
      db.pragma('busy_timeout = 5000');
      const touch = db.prepare('update users set last_login = ? where id = ?');
      const until = Date.now() + 60000;
      while (Date.now() < until) { touch.run(new Date().toISOString(), Number(process.argv[2])); const t = Date.now(); while (Date.now() - t < 1); }
    `;
    const child = spawn(process.execPath, ['-e', script, file, String(bystander.id)], { cwd: process.cwd(), stdio: 'ignore' });
    t.after(() => child.kill());
    await new Promise((resolve) => setTimeout(resolve, 300));

    const statuses: Record<string, number[]> = { personal: [], list: [], members: [] };
    for (let i = 0; i < 60; i++) {
      statuses.personal!.push((await api(app, owner).patch(`/api/tasks/${personalTask.id}/`, { title: `p${i}` })).statusCode);
      statuses.list!.push((await api(app, editor).patch(`/api/tasks/${listTask.id}/`, { title: `l${i}` })).statusCode);
      statuses.members!.push((await api(app, owner).patch(`/api/lists/${list.id}/members/${editor.id}/`, { role: i % 2 ? 'editor' : 'viewer' })).statusCode);
      if (i % 2 === 1) continue;
      await api(app, owner).patch(`/api/lists/${list.id}/members/${editor.id}/`, { role: 'editor' });
    }
    child.kill();
    const summary = Object.fromEntries(Object.entries(statuses).map(([name, list]) => [name, list.filter((status) => status === 500).length]));
    assert.deepEqual(summary, { personal: 0, list: 0, members: 0 });
  });
});
