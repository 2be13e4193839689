import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dialectName } from '../helpers.js';
import { privatePostgresUnavailable, startPrivatePostgres } from '../private-postgres.js';
import { freePort, signIn, startServer, within, type Running } from '../server-process.js';

/** The bounds the server is started with: a request waits at most about this for the database. */
const TIMEOUTS = { DATABASE_CONNECT_TIMEOUT_SECONDS: '2', DATABASE_QUERY_TIMEOUT_SECONDS: '2' };
const BOUND_MS = 6_000;

// The outage is of a PostgreSQL server of the test's own; it runs once, in the PostgreSQL suite.
const skip = dialectName !== 'postgres' ? 'runs in the PostgreSQL suite' : privatePostgresUnavailable();

async function send(server: Running, token: string, method: string, path: string, body?: unknown) {
  const started = Date.now();
  const response = await within(
    fetch(server.base + path, {
      method,
      headers: { authorization: `Token ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    BOUND_MS + 4_000,
    `${method} ${path}`,
  );
  return { status: response.status, headers: response.headers, body: await response.text(), ms: Date.now() - started };
}

/** Every request while the database is away: a prompt 503 in the contract's shape, never a 500. */
async function assertUnavailable(server: Running, token: string) {
  for (const [method, path, body] of [['GET', '/api/tasks/'], ['POST', '/api/tasks/', { title: 'Written during the outage' }], ['GET', '/api/user/']] as const) {
    const reply = await send(server, token, method, path, body);
    assert.equal(reply.status, 503, `${method} ${path}: ${reply.status} ${reply.body}`);
    assert.deepEqual(JSON.parse(reply.body), { detail: 'The database is unavailable; try again shortly.' });
    assert.equal(reply.headers.get('retry-after'), '5');
    assert.ok(reply.ms < BOUND_MS, `${method} ${path} took ${reply.ms} ms`);
  }
  assert.equal((await fetch(`${server.base}/healthz`)).status, 200);
  assert.equal((await fetch(`${server.base}/readyz`)).status, 503);
}

/** Polls until the API answers again, with no restart: the same process, the same token. */
async function assertRecovers(server: Running, token: string, titles: string[]) {
  const deadline = Date.now() + 20_000;
  let last = '';
  while (Date.now() < deadline) {
    const reply = await send(server, token, 'GET', '/api/tasks/');
    if (reply.status === 200) {
      assert.deepEqual((JSON.parse(reply.body) as { title: string }[]).map((task) => task.title), titles);
      assert.equal((await send(server, token, 'POST', '/api/tasks/', { title: 'After the outage' })).status, 201);
      assert.equal(server.child.exitCode, null);
      return;
    }
    last = `${reply.status} ${reply.body}`;
    await new Promise((done) => setTimeout(done, 250));
  }
  assert.fail(`the API did not recover within 20 s: ${last}`);
}

describe(`[${dialectName}] the database goes away`, { skip }, () => {
  for (const outage of ['stopped', 'paused'] as const) {
    test(`when PostgreSQL is ${outage}, then requests get a prompt 503 with Retry-After, nothing half-written, and the server recovers by itself`, async (t) => {
      const database = startPrivatePostgres(t, await freePort());
      const server = await startServer(t, { DATABASE_URL: database.url, ...TIMEOUTS });
      const token = await signIn(server.base, `outage_${outage}`);
      assert.equal((await send(server, token, 'POST', '/api/tasks/', { title: 'Before the outage' })).status, 201);

      if (outage === 'stopped') database.stop('fast');
      else database.pause();
      await assertUnavailable(server, token);
      // A second round: connections the pool dropped are not retried for ever.
      await assertUnavailable(server, token);
      if (outage === 'stopped') database.start();
      else database.resume();

      await assertRecovers(server, token, ['Before the outage']);
      assert.doesNotMatch(server.output().stdout + server.output().stderr, /"level":(50|60)/, 'no error logged, only warnings');
    });
  }
});
