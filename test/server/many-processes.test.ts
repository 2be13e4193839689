import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { dialectName, PASSWORD } from '../helpers.js';
import { runCli, signIn, startServer, tempDatabaseUrl } from '../server-process.js';

/** The worker processes of a cluster's primary: its children running the server. */
function workersOf(primary: number): number[] {
  const children = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return children.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('server.ts');
    } catch {
      return false;
    }
  });
}

async function eventually(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The processes that have logged that they listen: a worker counts once it does, not once it exists. */
function listeningPids(stdout: string): Set<number> {
  const pids = new Set<number>();
  for (const line of stdout.split('\n')) {
    if (!line.includes('Server listening')) continue;
    try {
      pids.add((JSON.parse(line) as { pid: number }).pid);
    } catch {
      // A line cut by the pipe is read again whole on the next check.
    }
  }
  return pids;
}

/** A GET that fails in seconds rather than waiting for a reply that will not come. */
const get = (base: string, path: string, token?: string) =>
  fetch(`${base}${path}`, { headers: token ? { authorization: `Token ${token}` } : {}, signal: AbortSignal.timeout(10_000) });

describe(`[${dialectName}] many processes`, () => {
  test('when WEB_CONCURRENCY is 2, then two workers serve the port, and one that dies is replaced while the other serves', async (t) => {
    const server = await startServer(t, { DATABASE_URL: await tempDatabaseUrl(t), WEB_CONCURRENCY: '2', LOG_LEVEL: 'info' });
    const primary = server.child.pid!;
    // If the victim were the only worker listening, the primary would close the shared port until
    // the replacement listens; the test is about a worker dying while another serves.
    await eventually(() => {
      const workers = workersOf(primary);
      const listening = listeningPids(server.output().stdout);
      return workers.length === 2 && workers.every((pid) => listening.has(pid));
    }, 'two workers listening');
    const [victim] = workersOf(primary);
    process.kill(victim!, 'SIGKILL');
    // Once the primary knows, it hands new connections to the worker left, then to the new one.
    await eventually(() => server.output().stdout.includes('worker exited; starting another'), 'the restart logged');
    for (let index = 0; index < 20; index += 1) assert.equal((await get(server.base, '/healthz')).status, 200);
    await eventually(() => workersOf(primary).length === 2 && !workersOf(primary).includes(victim!), 'a new worker');
    const token = await signIn(server.base, `cluster_${randomBytes(3).toString('hex')}`);
    for (let index = 0; index < 10; index += 1) assert.equal((await get(server.base, '/api/user/', token)).status, 200);
  });

  test('when two server processes share one database and Redis, then sessions, writes, revocations, deactivations and login throttles hold across both at once', async (t) => {
    // Only the per-username limit is under test: other tests' guesses from this address share Redis.
    const env = { DATABASE_URL: await tempDatabaseUrl(t), REDIS_URL: 'redis://127.0.0.1:6379', THROTTLE_LOGIN_USERNAME: '3/60', THROTTLE_LOGIN_ADDRESS: '1000/60' };
    const [a, b] = [await startServer(t, env), await startServer(t, { ...env, MIGRATE_ON_START: 'false' })];
    const suffix = randomBytes(3).toString('hex');
    const token = await signIn(a.base, `alice_${suffix}`);
    assert.equal((await get(b.base, '/api/user/', token)).status, 200);

    const created = await fetch(`${a.base}/api/tasks/`, {
      method: 'POST',
      headers: { authorization: `Token ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Written through A' }),
    });
    const task = (await created.json()) as { id: number };
    assert.equal((await get(b.base, `/api/tasks/${task.id}/`, token)).status, 200);

    assert.equal((await fetch(`${a.base}/api/logout/`, { method: 'POST', headers: { authorization: `Token ${token}` } })).status, 204);
    assert.equal((await get(b.base, '/api/user/', token)).status, 401);

    const bob = `bob_${suffix}`;
    const bobToken = await signIn(b.base, bob);
    assert.equal((await runCli(t, ['deactivate', bob], env.DATABASE_URL)).code, 0);
    for (const server of [a, b]) assert.equal((await get(server.base, '/api/user/', bobToken)).status, 401);

    const carol = `carol_${suffix}`;
    await signIn(a.base, carol);
    const attempt = (base: string, password: string) =>
      fetch(`${base}/api/login/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: carol, password }) });
    for (const base of [a.base, b.base, a.base]) assert.equal((await attempt(base, 'not the password')).status, 400);
    // The fourth guess, through the other process and with the right password, is over the limit of 3.
    assert.equal((await attempt(b.base, PASSWORD)).status, 429);
  });
});
