import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTestApp, createTask, createUser, dialectName } from '../helpers.js';

const METRICS_TOKEN = 'metrics-token-for-the-tests-0123456789';

describe(`[${dialectName}] health and readiness`, () => {
  test('when the probes are asked, with any Host, then the process is up and the database ready, and nothing is cached', async (t) => {
    const { app } = await buildTestApp(t);
    for (const host of ['localhost', '10.1.2.3:8000']) {
      const health = await app.inject({ method: 'GET', url: '/healthz', headers: { host } });
      assert.equal(health.statusCode, 200, host);
      assert.deepEqual(health.json(), { status: 'ok' });
      assert.equal(health.headers['cache-control'], 'no-store');
      const ready = await app.inject({ method: 'GET', url: '/readyz', headers: { host } });
      assert.equal(ready.statusCode, 200, host);
      assert.deepEqual(ready.json(), { status: 'ready' });
    }
    // Other URLs keep the Host check.
    assert.equal((await app.inject({ method: 'GET', url: '/', headers: { host: '10.1.2.3:8000' } })).statusCode, 400);
    const post = await app.inject({ method: 'POST', url: '/readyz' });
    assert.equal(post.statusCode, 405);
    assert.equal(post.headers.allow, 'GET, HEAD, OPTIONS');
  });

  test('when every database connection is held by a transaction, then /readyz answers 503 with Retry-After once its bound has passed, and 200 again after', async (t) => {
    const { app, database } = await buildTestApp(t, { env: { READY_TIMEOUT_SECONDS: '1' } });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // SQLite's driver has one connection; the test schema's PostgreSQL pool has four.
    const holders = Array.from({ length: dialectName === 'postgres' ? 4 : 1 }, () => database.db.transaction().execute(() => held));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    const elapsed = Date.now() - started;
    release();
    await Promise.all(holders);
    assert.equal(response.statusCode, 503, response.body);
    assert.deepEqual(response.json(), { detail: 'The database did not answer within 1 seconds.' });
    assert.equal(response.headers['retry-after'], '5');
    assert.ok(elapsed >= 900 && elapsed < 5000, `answered after ${elapsed} ms`);
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  });
});

describe(`[${dialectName}] metrics`, () => {
  test('when METRICS_TOKEN is not set, then there is no /metrics', async (t) => {
    const { app } = await buildTestApp(t);
    assert.equal((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).statusCode, 404);
  });

  test('when /metrics is asked without the token or with another, then it is 401 with a Bearer challenge', async (t) => {
    const { app } = await buildTestApp(t, { env: { METRICS_TOKEN } });
    const alice = await createUser(app);
    for (const authorization of [undefined, 'Bearer wrong', `Token ${METRICS_TOKEN}`, `Bearer ${METRICS_TOKEN} extra`, alice.auth.authorization]) {
      const response = await app.inject({ method: 'GET', url: '/metrics', headers: authorization === undefined ? {} : { authorization } });
      assert.equal(response.statusCode, 401, String(authorization));
      assert.deepEqual(response.json(), { detail: 'Invalid or missing metrics token.' });
      assert.equal(response.headers['www-authenticate'], 'Bearer realm="metrics"');
    }
  });

  test('when requests have been answered, then /metrics counts them by method, route pattern and status, with latencies and process figures', async (t) => {
    const { app } = await buildTestApp(t, { env: { METRICS_TOKEN } });
    const alice = await createUser(app);
    const task = await createTask(app, alice);
    await app.inject({ method: 'GET', url: `/api/tasks/${task.id}/`, headers: alice.auth });
    await app.inject({ method: 'GET', url: '/api/tasks/999999/', headers: alice.auth });
    await app.inject({ method: 'GET', url: '/no/such/path/' });
    const response = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = response.body;
    assert.match(text, /^http_requests_total\{method="GET",route="\/api\/tasks\/:id\/",status="200"\} 1$/m);
    assert.match(text, /^http_requests_total\{method="GET",route="\/api\/tasks\/:id\/",status="404"\} 1$/m);
    assert.match(text, /^http_requests_total\{method="POST",route="\/api\/tasks\/",status="201"\} 1$/m);
    assert.match(text, /^http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m);
    assert.match(text, /^http_request_duration_seconds_bucket\{le="0\.1",method="GET",route="\/api\/tasks\/:id\/",status="200"\} 1$/m);
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
    if (dialectName === 'postgres') assert.match(text, /^db_pool_connections\{state="total"\} \d+$/m);
    // No raw path, so no id, reaches a label.
    assert.doesNotMatch(text, new RegExp(`/api/tasks/${task.id}/`));
  });
});
