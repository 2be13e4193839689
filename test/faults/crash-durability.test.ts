import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dialectName } from '../helpers.js';
import { signIn, startServer, tempDatabaseUrl, type Running } from '../server-process.js';

const CLIENTS = 12;
/** How long the writes stream before the server is killed. */
const STREAM_MS = 2_000;

/** What a client knows about one of its tasks: what the server acknowledged, and what may have happened since. */
interface Known {
  /** The state after the last acknowledged write: a title, or null once deleted. */
  acknowledged: string | null;
  /** A write sent but not answered when the server died: it may or may not have happened. */
  inFlight?: string | null;
}

interface Client {
  token: string;
  tasks: Map<number, Known>;
  /** The title of a creation in flight at the crash, which may exist under an unknown id. */
  creating?: string;
}

async function write(server: Running, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown } | undefined> {
  try {
    const response = await fetch(server.base + path, {
      method,
      headers: { authorization: `Token ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: text === '' ? null : JSON.parse(text) };
  } catch {
    return undefined; // The server died with this request unanswered.
  }
}

/** One client's stream: create a task, rename it, delete every third; one request at a time. */
async function stream(server: Running, client: Client, name: string, until: () => boolean): Promise<void> {
  for (let index = 0; !until(); index += 1) {
    const title = `${name}-${index}-created`;
    client.creating = title;
    const created = await write(server, client.token, 'POST', '/api/tasks/', { title });
    if (created === undefined) return;
    assert.equal(created.status, 201);
    client.creating = undefined;
    const id = (created.json as { id: number }).id;
    const known: Known = { acknowledged: title };
    client.tasks.set(id, known);

    const renamed = `${name}-${index}-renamed`;
    known.inFlight = renamed;
    const patched = await write(server, client.token, 'PATCH', `/api/tasks/${id}/`, { title: renamed, completed: true });
    if (patched === undefined) return;
    assert.equal(patched.status, 200);
    [known.acknowledged, known.inFlight] = [renamed, undefined];

    if (index % 3 !== 0) continue;
    known.inFlight = null;
    const deleted = await write(server, client.token, 'DELETE', `/api/tasks/${id}/`);
    if (deleted === undefined) return;
    assert.equal(deleted.status, 204);
    [known.acknowledged, known.inFlight] = [null, undefined];
  }
}

describe(`[${dialectName}] the server is killed in the middle of writes`, () => {
  test('when the server gets SIGKILL while clients write, then after a restart every acknowledged write is there, and nothing else but the writes in flight', async (t) => {
    const databaseUrl = await tempDatabaseUrl(t);
    const first = await startServer(t, { DATABASE_URL: databaseUrl, THROTTLE_REGISTER_ADDRESS: '1000/60', THROTTLE_LOGIN_ADDRESS: '1000/60' });
    const clients: Client[] = [];
    for (let index = 0; index < CLIENTS; index += 1) clients.push({ token: await signIn(first.base, `crash_${index}`), tasks: new Map() });

    let killed = false;
    const streams = clients.map((client, index) => stream(first, client, `c${index}`, () => killed));
    await new Promise((done) => setTimeout(done, STREAM_MS));
    first.child.kill('SIGKILL');
    killed = true;
    await first.exited;
    await Promise.all(streams);
    const acknowledged = clients.reduce((sum, client) => sum + client.tasks.size, 0);
    assert.ok(acknowledged > CLIENTS * 3, `only ${acknowledged} tasks were written before the crash`);

    const second = await startServer(t, { DATABASE_URL: databaseUrl });
    for (const client of clients) {
      const reply = await write(second, client.token, 'GET', '/api/tasks/');
      assert.equal(reply?.status, 200, 'the session survives the crash');
      const stored = new Map((reply!.json as { id: number; title: string; completed: boolean }[]).map((task) => [task.id, task]));
      for (const [id, known] of client.tasks) {
        const title = stored.get(id)?.title ?? null;
        const possible = known.inFlight === undefined ? [known.acknowledged] : [known.acknowledged, known.inFlight];
        assert.ok(possible.includes(title), `task ${id}: ${JSON.stringify(title)}, expected one of ${JSON.stringify(possible)}`);
        // A rename and its completion were one write: never one without the other.
        if (title?.endsWith('-renamed')) assert.equal(stored.get(id)!.completed, true);
        if (title?.endsWith('-created')) assert.equal(stored.get(id)!.completed, false);
      }
      const unknown = [...stored.values()].filter((task) => !client.tasks.has(task.id));
      assert.deepEqual(unknown.map((task) => task.title), unknown.length === 0 ? [] : [client.creating], 'only a creation in flight may add a task');
      // The change feed agrees with the tasks after the crash.
      const synced = await write(second, client.token, 'GET', '/api/tasks/sync/');
      assert.equal(synced?.status, 200);
      assert.deepEqual(
        (synced!.json as { changed: { id: number }[] }).changed.map((task) => task.id).sort((a, b) => a - b),
        [...stored.keys()].sort((a, b) => a - b),
      );
    }
  });
});
