import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  TASK_KEYS,
  createTask,
  createUser,
  dialectName,
  formBody,
  multipartBody,
  sharedTestApp,
  storedTasks,
  type TestUser,
} from '../helpers.js';

const JSON_TYPE = /^application\/json(; charset=utf-8)?$/;

describe(`[${dialectName}] reply format`, () => {
  const testApp = sharedTestApp();
  let alice: TestUser;
  before(async () => {
    alice = await createUser(testApp().app);
  });

  test('when a task is created, then the reply is compact JSON with the keys in the original order', async () => {
    const response = await testApp().app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: alice.auth,
      payload: { completed: false, due_date: '2025-03-30', description: 'Do something important', title: 'New Task' },
    });
    assert.equal(response.statusCode, 201);
    assert.match(String(response.headers['content-type']), JSON_TYPE);
    const task = response.json();
    assert.deepEqual(Object.keys(task), TASK_KEYS);
    assert.equal(response.body, JSON.stringify(task));
    assert.ok(
      response.body.startsWith(`{"id":${task.id},"title":"New Task","description":"Do something important","due_date":"2025-03-30","completed":false,"created_at":"`),
      response.body,
    );
  });

  test('when tasks are listed, then each one has its keys in the original order', async () => {
    await createTask(testApp().app, alice);
    const response = await testApp().app.inject({ method: 'GET', url: '/api/tasks/', headers: alice.auth });
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, JSON.stringify(response.json()));
    assert.ok(response.json().length > 0);
    for (const task of response.json()) assert.deepEqual(Object.keys(task), TASK_KEYS);
  });

  test('when a task is read, replaced and patched, then every reply keeps the key order and stays compact', async () => {
    const { app } = testApp();
    const task = await createTask(app, alice, { title: 'Ordered' });
    const replies = [
      await app.inject({ method: 'GET', url: `/api/tasks/${task.id}/`, headers: alice.auth }),
      await app.inject({ method: 'PUT', url: `/api/tasks/${task.id}/`, headers: alice.auth, payload: { title: 'Replaced', completed: true } }),
      await app.inject({ method: 'PATCH', url: `/api/tasks/${task.id}/`, headers: alice.auth, payload: { due_date: '2025-03-30' } }),
    ];
    for (const response of replies) {
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), JSON_TYPE);
      assert.deepEqual(Object.keys(response.json()), TASK_KEYS);
      assert.equal(response.body, JSON.stringify(response.json()));
    }
  });

  test('when a task has non-ASCII text, then the reply carries it as UTF-8 without escapes', async () => {
    const title = 'Café — 日本語 🚀';
    const task = await createTask(testApp().app, alice, { title, description: 'Ünïcödé ✓' });
    const response = await testApp().app.inject({ method: 'GET', url: `/api/tasks/${task.id}/`, headers: alice.auth });
    assert.equal(response.statusCode, 200);
    assert.ok(response.rawPayload.toString('utf8').includes(`"title":"${title}","description":"Ünïcödé ✓"`), response.body);
    assert.equal(response.body.includes('\\u'), false);
  });

  test('when an error is answered, then it is compact JSON', async () => {
    const response = await testApp().app.inject({ method: 'POST', url: '/api/tasks/', headers: alice.auth, payload: {} });
    assert.equal(response.statusCode, 400);
    assert.match(String(response.headers['content-type']), JSON_TYPE);
    assert.equal(response.body, '{"title":["This field is required."]}');
  });
});

describe(`[${dialectName}] request bodies`, () => {
  const testApp = sharedTestApp();
  let alice: TestUser;
  before(async () => {
    alice = await createUser(testApp().app);
  });

  const post = (headers: Record<string, string>, payload: string | Buffer) =>
    testApp().app.inject({ method: 'POST', url: '/api/tasks/', headers: { ...alice.auth, ...headers }, payload });

  test('when a task is sent as JSON with a charset, then it is created', async () => {
    const response = await post({ 'content-type': 'application/json; charset=utf-8' }, '{"title":"With charset","completed":true}');
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, 'With charset');
    assert.equal(response.json().completed, true);
  });

  test('when a task is sent as a url-encoded form, then it is created from the form fields', async () => {
    const form = formBody({ title: 'From a form', description: 'Plain form', due_date: '2025-03-30', completed: 'true' });
    const response = await post(form.headers, form.payload);
    assert.equal(response.statusCode, 201);
    const { id, created_at, updated_at, completed_at, ...rest } = response.json();
    assert.deepEqual(rest, { title: 'From a form', description: 'Plain form', due_date: '2025-03-30', completed: true, owner: alice.id, list: null, assignee: null });
  });

  test('when a task is sent as multipart form data, then it is created from the form fields', async () => {
    const form = multipartBody({ title: 'From multipart ✓', description: 'Multi', due_date: '', completed: 'on' });
    const response = await post(form.headers, form.payload);
    assert.equal(response.statusCode, 201);
    const { id, created_at, updated_at, completed_at, ...rest } = response.json();
    assert.deepEqual(rest, { title: 'From multipart ✓', description: 'Multi', due_date: null, completed: true, owner: alice.id, list: null, assignee: null });
  });

  test('when a form omits the title, then the field is reported as required', async () => {
    const form = formBody({ description: 'No title' });
    const response = await post(form.headers, form.payload);
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { title: ['This field is required.'] });
  });

  test('when a JSON POST has an empty body, then it counts as {} and the title is required', async () => {
    const response = await post({ 'content-type': 'application/json' }, '');
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { title: ['This field is required.'] });
  });

  test('when a JSON PATCH has an empty body, then it counts as {} and changes nothing', async () => {
    const { app, database } = testApp();
    const task = await createTask(app, alice, { title: 'Unchanged', description: 'Same', due_date: '2025-01-02' });
    const response = await app.inject({
      method: 'PATCH',
      url: `/api/tasks/${task.id}/`,
      headers: { ...alice.auth, 'content-type': 'application/json' },
      payload: '',
    });
    assert.equal(response.statusCode, 200);
    const { updated_at, ...rest } = response.json();
    const { updated_at: _before, ...expected } = task;
    assert.deepEqual(rest, expected);
    const row = (await storedTasks(database)).find((stored) => stored.id === task.id)!;
    assert.equal(row.title, 'Unchanged');
  });

  test('when the JSON is malformed, then it is a 400 JSON parse error', async () => {
    const response = await post({ 'content-type': 'application/json' }, '{"title": "unterminated');
    assert.equal(response.statusCode, 400);
    assert.deepEqual(Object.keys(response.json()), ['detail']);
    assert.match(response.json().detail, /^JSON parse error - ./);
  });

  test('when the JSON body is only white space, then it is malformed rather than empty', async () => {
    const response = await post({ 'content-type': 'application/json' }, '  \n ');
    assert.equal(response.statusCode, 400);
    assert.deepEqual(Object.keys(response.json()), ['detail']);
    assert.match(response.json().detail, /^JSON parse error - ./);
  });

  test('when the JSON body is not valid UTF-8, then it is a JSON parse error and nothing is stored', async () => {
    const { database } = testApp();
    const before = await storedTasks(database);
    const payload = Buffer.concat([Buffer.from('{"title":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const response = await post({ 'content-type': 'application/json' }, payload);
    assert.equal(response.statusCode, 400);
    assert.deepEqual(Object.keys(response.json()), ['detail']);
    assert.match(response.json().detail, /^JSON parse error - ./);
    assert.deepEqual(await storedTasks(database), before);
  });

  test('when a body has a Content-Type with the media type in capitals, then it is still JSON', async () => {
    const response = await post({ 'content-type': 'Application/JSON' }, '{"title":"Capitals"}');
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, 'Capitals');
  });

  test('when the body is text/plain, then it is 415 naming the media type', async () => {
    const response = await post({ 'content-type': 'text/plain' }, 'title=Hello');
    assert.equal(response.statusCode, 415);
    assert.match(String(response.headers['content-type']), JSON_TYPE);
    assert.equal(response.body, '{"detail":"Unsupported media type \\"text/plain\\" in request."}');
  });

  test('when the body is XML, then it is 415 naming the media type', async () => {
    const response = await post({ 'content-type': 'application/xml' }, '<task><title>x</title></task>');
    assert.equal(response.statusCode, 415);
    assert.deepEqual(response.json(), { detail: 'Unsupported media type "application/xml" in request.' });
  });

  const notObjects: [string, string][] = [
    ['[{"title":"x"}]', 'list'],
    ['[]', 'list'],
    ['42', 'int'],
    ['"a title"', 'str'],
    ['true', 'bool'],
    ['false', 'bool'],
  ];
  for (const [payload, typeName] of notObjects) {
    test(`when the JSON body is ${payload}, then it is refused as a ${typeName}, not a dictionary`, async () => {
      const response = await post({ 'content-type': 'application/json' }, payload);
      assert.equal(response.statusCode, 400);
      assert.equal(response.body, `{"non_field_errors":["Invalid data. Expected a dictionary, but got ${typeName}."]}`);
    });
  }

  test('when the JSON body is null, then no data was provided', async () => {
    const response = await post({ 'content-type': 'application/json' }, 'null');
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, '{"non_field_errors":["No data provided"]}');
  });

  test('when a PATCH body is a list, then it is refused and the task is unchanged', async () => {
    const { app, database } = testApp();
    const task = await createTask(app, alice);
    const before = await storedTasks(database);
    const response = await app.inject({
      method: 'PATCH',
      url: `/api/tasks/${task.id}/`,
      headers: { ...alice.auth, 'content-type': 'application/json' },
      payload: '["title"]',
    });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
    assert.deepEqual(await storedTasks(database), before);
  });

  test('when a body is over 1 MiB, then it is refused with 413 and nothing is stored', async () => {
    const { app, database } = testApp();
    const before = await storedTasks(database);
    const payload = JSON.stringify({ title: 'Huge', description: 'x'.repeat(1024 * 1024) });
    const response = await post({ 'content-type': 'application/json' }, payload);
    assert.equal(response.statusCode, 413);
    assert.match(String(response.headers['content-type']), JSON_TYPE);
    assert.equal(typeof response.json().detail, 'string');
    assert.deepEqual(await storedTasks(database), before);
  });

  /** A JSON task body of exactly `size` bytes, padded with a field the API ignores. */
  const bodyOfSize = (size: number) => {
    const frame = JSON.stringify({ title: 'Big', padding: '' });
    return JSON.stringify({ title: 'Big', padding: 'y'.repeat(size - Buffer.byteLength(frame)) });
  };

  test('when a body is exactly 1 MiB, then it is accepted', async () => {
    const payload = bodyOfSize(1024 * 1024);
    assert.equal(Buffer.byteLength(payload), 1024 * 1024);
    const response = await post({ 'content-type': 'application/json' }, payload);
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, 'Big');
  });

  test('when a body is one byte over 1 MiB, then it is refused with 413', async () => {
    const response = await post({ 'content-type': 'application/json' }, bodyOfSize(1024 * 1024 + 1));
    assert.equal(response.statusCode, 413);
  });
});
