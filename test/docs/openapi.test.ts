import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { buildTestApp, createUser, dialectName, type TestUser } from '../helpers.js';
import { ROUTES } from '../property/routes.js';

const METRICS_TOKEN = 'metrics-token-for-the-openapi-test-0123456789';
const TAG_NAMES = ['accounts', 'browser sessions', 'tasks', 'lists', 'admin', 'operations', 'documentation'];
/** Paths of the docs page and its files: served by @fastify/swagger-ui, not API operations. */
const NOT_OPERATIONS = new Set(['/', '/api/docs/', '/api/docs/json', '/api/docs/yaml', '/api/docs/static/index.html', '/api/docs/static/swagger-initializer.js']);

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: object }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema: object }> }>;
}
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

const templateOf = (path: string) => path.replace(/:([a-z_]+)/g, '{$1}');

async function serve(t: Parameters<typeof buildTestApp>[0]) {
  const built = await buildTestApp(t, { env: { METRICS_TOKEN } });
  await built.app.listen({ port: 0, host: '127.0.0.1' });
  const address = built.app.server.address() as { port: number };
  const base = `http://127.0.0.1:${address.port}`;
  const document = (await (await fetch(`${base}/api/schema/`)).json()) as Document;
  return { ...built, base, document };
}

describe(`[${dialectName}] the OpenAPI document at /api/schema/`, () => {
  test('when it is fetched, then it is OpenAPI 3.1 JSON, the same document as /api/docs/json, and YAML on request', async (t) => {
    const { base, document } = await serve(t);
    assert.equal(document.openapi, '3.1.0');
    assert.deepEqual(await (await fetch(`${base}/api/docs/json`)).json(), document);
    for (const request of [`${base}/api/schema/?format=yaml`, new Request(`${base}/api/schema/`, { headers: { accept: 'application/yaml' } })]) {
      const yaml = await fetch(request);
      assert.equal(yaml.headers.get('content-type'), 'application/yaml; charset=utf-8');
      assert.match(await yaml.text(), /^openapi: 3\.1\.0\n/);
    }
    const wrong = await fetch(`${base}/api/schema/?format=xml`);
    assert.equal(wrong.status, 400);
    assert.deepEqual(await wrong.json(), { format: ['Select a valid choice. xml is not one of the available choices.'] });
  });

  test('when it is read, then every route the API serves is an operation with its parameters, body and error replies', async (t) => {
    const { document } = await serve(t);
    const problems: string[] = [];
    for (const route of ROUTES) {
      if (NOT_OPERATIONS.has(route.path)) continue;
      for (const method of route.methods) {
        const name = `${method} ${route.path}`;
        const operation = document.paths[templateOf(route.path)]?.[method.toLowerCase()];
        if (operation === undefined) {
          problems.push(`${name}: not in the document`);
          continue;
        }
        problems.push(...operationProblems(name, operation, route, method));
      }
    }
    assert.deepEqual(problems, []);
  });

  test('when an operation is documented, then the API serves it (no operation the server lacks)', async (t) => {
    const { document } = await serve(t);
    const served = new Set(ROUTES.flatMap((route) => route.methods.map((method) => `${method} ${templateOf(route.path)}`)));
    const documented = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
    assert.deepEqual(
      documented.filter((operation) => !served.has(operation) && operation !== 'GET /metrics'),
      [],
    );
  });
});

function operationProblems(name: string, operation: Operation, route: (typeof ROUTES)[number], method: string): string[] {
  const problems: string[] = [];
  const statuses = Object.keys(operation.responses);
  const has = (status: number) => statuses.includes(String(status));
  if (!operation.summary) problems.push(`${name}: no summary`);
  if (!operation.tags?.length || !operation.tags.every((tag) => TAG_NAMES.includes(tag))) problems.push(`${name}: tags ${operation.tags}`);
  if (!statuses.some((status) => status.startsWith('2'))) problems.push(`${name}: no success reply`);
  for (const [status, reply] of Object.entries(operation.responses)) {
    if (!reply.description) problems.push(`${name} ${status}: no description`);
    const bodiless = status === '204' || status === '304';
    if (!bodiless && reply.content?.['application/json']?.schema === undefined && name !== 'GET /metrics') problems.push(`${name} ${status}: no JSON schema`);
  }
  if (route.authenticated && !(has(401) && operation.security?.some((scheme) => 'token' in scheme))) problems.push(`${name}: no token scheme or 401`);
  if (route.id !== undefined && !has(404)) problems.push(`${name}: no 404`);
  const readsBody = ['POST', 'PUT', 'PATCH'].includes(method) && route.body !== undefined;
  if (readsBody && operation.requestBody === undefined) problems.push(`${name}: no request body`);
  if (readsBody && ![400, 413, 415].every(has)) problems.push(`${name}: not every body error (400, 413, 415)`);
  if (method === 'GET') {
    const documented = new Set((operation.parameters ?? []).filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name));
    const missing = Object.keys(route.query ?? {}).filter((parameter) => !documented.has(parameter));
    if (missing.length > 0) problems.push(`${name}: query parameters ${missing.join(', ')} not documented`);
    if (missing.length === 0 && documented.size > 0 && !has(400)) problems.push(`${name}: no 400 for bad query parameters`);
  }
  return problems;
}

interface Step {
  /** The operation, as the document names it: `PATCH /api/tasks/{id}/`. */
  operation: string;
  url: string;
  status: number;
  user?: TestUser;
  headers?: Record<string, string>;
  body?: unknown;
  /** A raw body with its own content type, instead of JSON. */
  raw?: { type: string; text: string };
}

describe(`[${dialectName}] replies as the OpenAPI document describes them`, () => {
  test('when every operation is called for its success and its errors, then each status is documented and each body matches its schema', async (t) => {
    const { app, base, document, database } = await serve(t);
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    // A CommonJS module: its default import is the function that its types call `default`.
    (ajvFormats as unknown as typeof ajvFormats.default)(ajv);
    const [alice, bob, staff] = [await createUser(app), await createUser(app), await createUser(app)];
    await database.db.updateTable('users').set({ is_staff: true, is_superuser: true }).where('id', '=', staff.id).execute();
    const call = async (step: Step) => {
      const headers: Record<string, string> = { ...step.headers };
      if (step.user) headers.authorization = step.user.auth.authorization;
      let body: string | undefined;
      if (step.raw) [headers['content-type'], body] = [step.raw.type, step.raw.text];
      else if (step.body !== undefined) [headers['content-type'], body] = ['application/json', JSON.stringify(step.body)];
      const [method] = step.operation.split(' ');
      const response = await fetch(base + step.url, { method, headers, body, redirect: 'manual' });
      const text = await response.text();
      const label = `${step.operation} (${step.url}) → ${response.status} ${text.slice(0, 200)}`;
      assert.equal(response.status, step.status, label);
      const [verb, path] = step.operation.split(' ') as [string, string];
      const documented = document.paths[path]?.[verb.toLowerCase()]?.responses[String(response.status)];
      assert.ok(documented, `${label}: status not documented`);
      if (text === '' || !response.headers.get('content-type')?.startsWith('application/json')) return undefined;
      const parsed = JSON.parse(text) as unknown;
      const schema = documented.content?.['application/json']?.schema;
      assert.ok(schema, `${label}: no schema`);
      assert.ok(ajv.validate(schema, parsed), `${label}: ${ajv.errorsText()}`);
      return parsed as Record<string, unknown> & Record<string, unknown>[];
    };

    // Accounts.
    await call({ operation: 'POST /api/register/', url: '/api/register/', status: 201, body: { username: 'docs_reader', password: 'a long enough passphrase' } });
    await call({ operation: 'POST /api/register/', url: '/api/register/', status: 400, body: {} });
    await call({ operation: 'POST /api/register/', url: '/api/register/', status: 415, raw: { type: 'text/plain', text: 'x' } });
    await call({ operation: 'POST /api/login/', url: '/api/login/', status: 200, body: { username: 'docs_reader', password: 'a long enough passphrase' } });
    await call({ operation: 'POST /api/login/', url: '/api/login/', status: 400, raw: { type: 'application/json', text: '{"username":' } });
    await call({ operation: 'POST /api/login/', url: '/api/login/', status: 413, raw: { type: 'application/json', text: ' '.repeat(1024 * 1024 + 1) } });
    await call({ operation: 'GET /api/user/', url: '/api/user/', status: 200, user: alice });
    await call({ operation: 'GET /api/user/', url: '/api/user/', status: 401 });
    await call({ operation: 'PATCH /api/user/', url: '/api/user/', status: 200, user: alice, body: { email: 'alice@example.com' } });
    await call({ operation: 'PATCH /api/user/', url: '/api/user/', status: 400, user: alice, body: { email: 'not an address' } });
    await call({ operation: 'POST /api/user/password/', url: '/api/user/password/', status: 400, user: alice, body: { current_password: 'wrong', new_password: 'x' } });
    await call({ operation: 'DELETE /api/user/', url: '/api/user/', status: 400, user: alice, body: {} });
    const sessions = await call({ operation: 'GET /api/sessions/', url: '/api/sessions/', status: 200, user: bob });
    await call({ operation: 'DELETE /api/sessions/{id}/', url: '/api/sessions/999999999/', status: 404, user: bob });
    assert.ok(Array.isArray(sessions));

    // Tasks.
    const task = await call({ operation: 'POST /api/tasks/', url: '/api/tasks/', status: 201, user: alice, body: { title: 'Read the document', due_date: '2030-01-01' } });
    await call({ operation: 'POST /api/tasks/', url: '/api/tasks/', status: 400, user: alice, body: { title: '' } });
    const taskUrl = `/api/tasks/${task!.id}/`;
    await call({ operation: 'GET /api/tasks/', url: '/api/tasks/', status: 200, user: alice });
    await call({ operation: 'GET /api/tasks/', url: '/api/tasks/?page=1&page_size=1', status: 200, user: alice });
    await call({ operation: 'GET /api/tasks/', url: '/api/tasks/?cursor=', status: 200, user: alice });
    await call({ operation: 'GET /api/tasks/', url: '/api/tasks/?page=9', status: 404, user: alice });
    await call({ operation: 'GET /api/tasks/', url: '/api/tasks/?completed=maybe&ordering=nope', status: 400, user: alice });
    await call({ operation: 'GET /api/tasks/', url: '/api/tasks/', status: 401, headers: { authorization: 'Token nope' } });
    const etag = (await fetch(base + taskUrl, { headers: alice.auth })).headers.get('etag')!;
    await call({ operation: 'GET /api/tasks/{id}/', url: taskUrl, status: 200, user: alice });
    await call({ operation: 'GET /api/tasks/{id}/', url: taskUrl, status: 304, user: alice, headers: { 'if-none-match': etag } });
    await call({ operation: 'GET /api/tasks/{id}/', url: taskUrl, status: 404, user: bob });
    await call({ operation: 'PUT /api/tasks/{id}/', url: taskUrl, status: 200, user: alice, body: { title: 'Read it again' } });
    await call({ operation: 'PATCH /api/tasks/{id}/', url: taskUrl, status: 412, user: alice, headers: { 'if-match': etag }, body: { completed: true } });
    await call({ operation: 'PATCH /api/tasks/{id}/', url: taskUrl, status: 400, user: alice, body: { due_date: 'tomorrow' } });
    await call({ operation: 'GET /api/tasks/deleted/', url: `/api/tasks/deleted/?since=${new Date(Date.now() - 3600_000).toISOString()}`, status: 200, user: alice });
    await call({ operation: 'GET /api/tasks/deleted/', url: '/api/tasks/deleted/?since=2000-01-01T00:00:00Z', status: 410, user: alice });
    await call({ operation: 'GET /api/tasks/deleted/', url: '/api/tasks/deleted/?since=never', status: 400, user: alice });
    await call({ operation: 'GET /api/tasks/sync/', url: '/api/tasks/sync/', status: 200, user: alice });
    await call({ operation: 'GET /api/tasks/sync/', url: '/api/tasks/sync/?token=forged', status: 400, user: alice });

    // Lists, members, and a viewer's refusals.
    const list = await call({ operation: 'POST /api/lists/', url: '/api/lists/', status: 201, user: alice, body: { name: 'Team' } });
    const listUrl = `/api/lists/${list!.id}/`;
    await call({ operation: 'POST /api/lists/{id}/members/', url: `${listUrl}members/`, status: 201, user: alice, body: { username: bob.username } });
    await call({ operation: 'POST /api/lists/{id}/members/', url: `${listUrl}members/`, status: 400, user: alice, body: { username: bob.username } });
    await call({ operation: 'POST /api/lists/{id}/members/', url: `${listUrl}members/`, status: 403, user: bob, body: { username: staff.username } });
    const shared = await call({ operation: 'POST /api/tasks/', url: '/api/tasks/', status: 201, user: alice, body: { title: 'Shared', list: list!.id } });
    await call({ operation: 'POST /api/tasks/', url: '/api/tasks/', status: 403, user: bob, body: { title: 'Not mine to add', list: list!.id } });
    await call({ operation: 'DELETE /api/tasks/{id}/', url: `/api/tasks/${shared!.id}/`, status: 403, user: bob });
    await call({ operation: 'GET /api/lists/', url: '/api/lists/', status: 200, user: bob });
    await call({ operation: 'GET /api/lists/', url: '/api/lists/?limit=1', status: 200, user: bob });
    await call({ operation: 'GET /api/lists/', url: '/api/lists/?page=0', status: 400, user: bob });
    await call({ operation: 'GET /api/lists/{id}/', url: listUrl, status: 200, user: bob });
    await call({ operation: 'GET /api/lists/{id}/', url: listUrl, status: 404, user: staff });
    await call({ operation: 'PATCH /api/lists/{id}/', url: listUrl, status: 403, user: bob, body: { name: 'Mine now' } });
    await call({ operation: 'PUT /api/lists/{id}/', url: listUrl, status: 200, user: alice, body: { name: 'Team A' } });
    await call({ operation: 'GET /api/lists/{id}/members/', url: `${listUrl}members/`, status: 200, user: bob });
    const member = `${listUrl}members/${bob.id}/`;
    await call({ operation: 'GET /api/lists/{id}/members/{user_id}/', url: member, status: 200, user: bob });
    await call({ operation: 'PATCH /api/lists/{id}/members/{user_id}/', url: member, status: 200, user: alice, body: { role: 'editor' } });
    await call({ operation: 'PATCH /api/lists/{id}/members/{user_id}/', url: `${listUrl}members/${alice.id}/`, status: 400, user: alice, body: { role: 'viewer' } });
    await call({ operation: 'DELETE /api/lists/{id}/members/{user_id}/', url: `${listUrl}members/${alice.id}/`, status: 403, user: bob });
    await call({ operation: 'DELETE /api/lists/{id}/members/{user_id}/', url: `${listUrl}members/${alice.id}/`, status: 400, user: alice });
    await call({ operation: 'DELETE /api/lists/{id}/members/{user_id}/', url: member, status: 204, user: bob });
    await call({ operation: 'DELETE /api/tasks/{id}/', url: taskUrl, status: 204, user: alice });
    await call({ operation: 'DELETE /api/lists/{id}/', url: listUrl, status: 204, user: alice });

    // Admin.
    await call({ operation: 'GET /api/admin/users/', url: '/api/admin/users/', status: 403, user: alice });
    await call({ operation: 'GET /api/admin/users/', url: '/api/admin/users/?search=user&page_size=2', status: 200, user: staff });
    await call({ operation: 'GET /api/admin/users/', url: '/api/admin/users/?cursor=x', status: 400, user: staff });
    await call({ operation: 'GET /api/admin/users/{id}/', url: `/api/admin/users/${alice.id}/`, status: 200, user: staff });
    await call({ operation: 'POST /api/admin/users/{id}/deactivate/', url: `/api/admin/users/${staff.id}/deactivate/`, status: 400, user: staff });
    await call({ operation: 'POST /api/admin/users/{id}/deactivate/', url: `/api/admin/users/${bob.id}/deactivate/`, status: 200, user: staff });
    await call({ operation: 'POST /api/admin/users/{id}/reactivate/', url: `/api/admin/users/${bob.id}/reactivate/`, status: 200, user: staff });
    await call({ operation: 'POST /api/admin/users/{id}/revoke-sessions/', url: `/api/admin/users/${bob.id}/revoke-sessions/`, status: 200, user: staff });
    await call({ operation: 'POST /api/admin/users/{id}/revoke-sessions/', url: '/api/admin/users/999999999/revoke-sessions/', status: 404, user: staff });
    await call({ operation: 'GET /api/admin/totals/', url: '/api/admin/totals/', status: 200, user: staff });
    await call({ operation: 'GET /api/admin/audit/', url: '/api/admin/audit/?limit=2&offset=1', status: 200, user: staff });

    // Operations and the document itself.
    await call({ operation: 'GET /healthz', url: '/healthz', status: 200 });
    await call({ operation: 'GET /readyz', url: '/readyz', status: 200 });
    await call({ operation: 'GET /metrics', url: '/metrics', status: 401 });
    await call({ operation: 'GET /metrics', url: '/metrics', status: 200, headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    await call({ operation: 'GET /api/schema/', url: '/api/schema/', status: 200 });
    await call({ operation: 'POST /api/logout/all/', url: '/api/logout/all/', status: 204, user: alice });
    await call({ operation: 'POST /api/logout/', url: '/api/logout/', status: 401, user: alice });
  });
});
