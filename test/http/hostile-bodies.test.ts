import assert from 'node:assert/strict';
import { deflateSync, gzipSync } from 'node:zlib';
import { before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { countRows, storedUser } from '../accounts/support.js';
import { PASSWORD, createTask, createUser, dialectName, sharedFixture, storedTasks, type TestApp, type TestUser } from '../helpers.js';

const BOUNDARY = 'X';
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;
const JSON_TYPE = 'application/json';
const FORM = 'application/x-www-form-urlencoded';

const field = (name: string, value: string) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const file = (name: string, content: string) =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n`;
const multipart = (...parts: string[]) => `${parts.join('')}--${BOUNDARY}--\r\n`;

interface HostileBody {
  name: string;
  headers: Record<string, string>;
  payload: string | Buffer;
  statusCode: number;
  detail: RegExp;
}

const MULTIPART_ERROR = /^Multipart form parse error - ./;
const JSON_ERROR = /^JSON parse error - ./;

/** Bodies that must be refused by every route that reads one, whatever the route. */
const HOSTILE_BODIES: HostileBody[] = [
  {
    name: 'a multipart body that ends inside a file part',
    headers: { 'content-type': MULTIPART },
    payload: `--${BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nabc`,
    statusCode: 400,
    detail: MULTIPART_ERROR,
  },
  {
    name: 'a multipart body that ends inside an octet-stream part',
    headers: { 'content-type': MULTIPART },
    payload: `${field('title', 'kept?')}--${BOUNDARY}\r\nContent-Disposition: form-data; name="g"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01`,
    statusCode: 400,
    detail: MULTIPART_ERROR,
  },
  {
    name: 'a multipart body that ends inside a field',
    headers: { 'content-type': MULTIPART },
    payload: `${field('title', 'first')}--${BOUNDARY}\r\nContent-Disposition: form-data; name="description"\r\n\r\nhalf a val`,
    statusCode: 400,
    detail: MULTIPART_ERROR,
  },
  {
    name: 'a multipart body that ends inside part headers',
    headers: { 'content-type': MULTIPART },
    payload: `--${BOUNDARY}\r\nContent-Disposition: form-da`,
    statusCode: 400,
    detail: MULTIPART_ERROR,
  },
  {
    name: 'a multipart body whose boundary never appears',
    headers: { 'content-type': 'multipart/form-data; boundary=SomethingElse' },
    payload: multipart(field('title', 'x')),
    statusCode: 400,
    detail: MULTIPART_ERROR,
  },
  {
    name: 'a multipart body that is only a preamble',
    headers: { 'content-type': MULTIPART },
    payload: 'no parts here at all',
    statusCode: 400,
    detail: MULTIPART_ERROR,
  },
  {
    name: 'a multipart content type without a boundary',
    headers: { 'content-type': 'multipart/form-data' },
    payload: multipart(field('title', 'x')),
    statusCode: 400,
    detail: MULTIPART_ERROR,
  },
  {
    name: 'a multipart body of 1,001 fields',
    headers: { 'content-type': MULTIPART },
    payload: multipart(...Array.from({ length: 1001 }, (_, i) => field(`f${i}`, 'v'))),
    statusCode: 400,
    detail: /^Multipart form parse error - more than 1000 fields$/,
  },
  {
    name: 'a multipart body of 1,001 files',
    headers: { 'content-type': MULTIPART },
    payload: multipart(...Array.from({ length: 1001 }, (_, i) => file(`f${i}`, 'v'))),
    statusCode: 400,
    detail: /^Multipart form parse error - more than 1000 fields$/,
  },
  {
    name: 'a multipart body over the size limit',
    headers: { 'content-type': MULTIPART },
    payload: multipart(file('f', 'x'.repeat(1024 * 1024))),
    statusCode: 413,
    detail: /./,
  },
  {
    name: 'a form of 1,001 fields',
    headers: { 'content-type': FORM },
    payload: 'a&'.repeat(1001),
    statusCode: 400,
    detail: /^Form parse error - more than 1000 fields$/,
  },
  {
    name: 'a form of half a million fields',
    headers: { 'content-type': FORM },
    payload: 'a&'.repeat(500_000),
    statusCode: 400,
    detail: /^Form parse error - more than 1000 fields$/,
  },
  {
    name: 'JSON nested 33 levels deep',
    headers: { 'content-type': JSON_TYPE },
    payload: `{"title":"t","x":${'['.repeat(32)}${']'.repeat(32)}}`,
    statusCode: 400,
    detail: /^JSON parse error - nested deeper than 32 levels$/,
  },
  {
    name: 'a megabyte of opening brackets',
    headers: { 'content-type': JSON_TYPE },
    payload: '['.repeat(1024 * 1024 - 1),
    statusCode: 400,
    detail: JSON_ERROR,
  },
  {
    name: 'JSON holding 1,001 arrays',
    headers: { 'content-type': JSON_TYPE },
    payload: `{"title":"t","x":[${Array(1000).fill('[]').join(',')}]}`,
    statusCode: 400,
    detail: /^JSON parse error - more than 1000 objects and arrays$/,
  },
  {
    name: 'JSON holding 1,001 members',
    headers: { 'content-type': JSON_TYPE },
    payload: `{${Array.from({ length: 1001 }, (_, i) => `"k${i}":0`).join(',')}}`,
    statusCode: 400,
    detail: /^JSON parse error - more than 1000 object members$/,
  },
  {
    name: 'JSON that is not valid UTF-8',
    headers: { 'content-type': JSON_TYPE },
    payload: Buffer.concat([Buffer.from('{"title":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]),
    statusCode: 400,
    detail: JSON_ERROR,
  },
  {
    name: 'JSON cut off inside a string',
    headers: { 'content-type': JSON_TYPE },
    payload: '{"title":"unterminated',
    statusCode: 400,
    detail: JSON_ERROR,
  },
  {
    name: 'a gzip-compressed JSON body',
    headers: { 'content-type': JSON_TYPE, 'content-encoding': 'gzip' },
    payload: gzipSync(JSON.stringify({ title: 'zipped', username: 'zipped', password: PASSWORD })),
    statusCode: 415,
    detail: /^Unsupported content encoding "gzip" in request\.$/,
  },
  {
    name: 'JSON declared in another charset',
    headers: { 'content-type': 'application/json; charset=iso-8859-1' },
    payload: Buffer.from('{"title":"caf\xe9"}', 'latin1'),
    statusCode: 415,
    detail: /^Unsupported media type "application\/json; charset=iso-8859-1" in request\.$/,
  },
];

/** Everything a refused request must leave as it was. */
async function snapshot({ database }: TestApp, user: TestUser) {
  return {
    user: await storedUser(database, user.id),
    users: await countRows(database, 'users'),
    tasks: await storedTasks(database),
    sessions: await countRows(database, 'auth_tokens'),
    lists: await database.db.selectFrom('lists').selectAll().orderBy('id').execute(),
    members: await database.db.selectFrom('list_members').selectAll().orderBy('list_id').orderBy('user_id').execute(),
  };
}

function assertDetail(response: LightMyRequestResponse, statusCode: number, detail: RegExp, what: string) {
  assert.equal(response.statusCode, statusCode, `${what}: ${response.body.slice(0, 200)}`);
  assert.match(String(response.headers['content-type']), /^application\/json/, what);
  const body = response.json();
  assert.deepEqual(Object.keys(body), ['detail'], what);
  assert.match(body.detail, detail, what);
}

describe(`[${dialectName}] hostile bodies on every route that reads a body`, () => {
  const testApp = sharedFixture(async ({ app }) => {
    const alice = await createUser(app);
    const task = await createTask(app, alice, { title: 'Untouched', description: 'As created' });
    const list = await app.inject({ method: 'POST', url: '/api/lists/', headers: alice.auth, payload: { name: 'Untouched' } });
    return { alice, taskId: task.id as number, listId: list.json().id as number };
  });
  let routes: { method: string; url: string }[] = [];

  before(async () => {
    const { app, taskId, listId, alice } = testApp();
    // Every operation the API documents with a request body: a route added later is covered too.
    const document = (await app.inject({ method: 'GET', url: '/api/docs/json' })).json();
    routes = Object.entries<Record<string, { requestBody?: unknown }>>(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => operation.requestBody !== undefined)
        .map(([method, operation]) => ({
          method: method.toUpperCase(),
          url: path
            .replace('{id}', String(path.startsWith('/api/lists/') ? listId : taskId))
            .replace('{user_id}', String(alice.id)),
          operation,
        })),
    );
  });

  test('when the routes that read a body are listed from the API document, then they are the twenty-two known ones', () => {
    const { taskId, listId, alice } = testApp();
    assert.deepEqual(
      routes.map(({ method, url }) => `${method} ${url}`).sort(),
      [
        'DELETE /api/user/',
        'PATCH /api/user/',
        `PATCH /api/tasks/${taskId}/`,
        'POST /api/login/',
        'POST /api/register/',
        'POST /api/tasks/',
        'POST /api/user/password/',
        `PUT /api/tasks/${taskId}/`,
        'POST /api/lists/',
        `PUT /api/lists/${listId}/`,
        `PATCH /api/lists/${listId}/`,
        `POST /api/lists/${listId}/members/`,
        `PATCH /api/lists/${listId}/members/${alice.id}/`,
        'POST /dj-rest-auth/password/reset/',
        'POST /dj-rest-auth/password/reset/confirm/',
        'POST /dj-rest-auth/login/',
        'POST /dj-rest-auth/registration/',
        'POST /dj-rest-auth/token/refresh/',
        'POST /dj-rest-auth/token/verify/',
        'PUT /dj-rest-auth/user/',
        'PATCH /dj-rest-auth/user/',
        'POST /dj-rest-auth/password/change/',
      ].sort(),
    );
  });

  for (const body of HOSTILE_BODIES) {
    test(`when ${body.name} is sent to each of them, then each answers ${body.statusCode} with a detail, nothing changes, and the server still answers`, async () => {
      const fixture = testApp();
      const { app, alice } = fixture;
      const before = await snapshot(fixture, alice);
      for (const { method, url } of routes) {
        const response = await app.inject({ method: method as 'POST', url, headers: { ...alice.auth, ...body.headers }, payload: body.payload });
        assertDetail(response, body.statusCode, body.detail, `${method} ${url}`);
      }
      assert.deepEqual(await snapshot(fixture, alice), before);
      const me = await app.inject({ method: 'GET', url: '/api/user/', headers: alice.auth });
      assert.equal(me.statusCode, 200);
    });
  }

  test('when a request sends a compressed body in any coding, then it gets 415 with Accept-Encoding: identity', async () => {
    const { app, alice } = testApp();
    const payload = JSON.stringify({ title: 'zipped' });
    const codings: [string, Buffer | string][] = [
      ['gzip', gzipSync(payload)],
      ['deflate', deflateSync(payload)],
      ['br', payload],
      ['GZIP', gzipSync(payload)],
      ['gzip, identity', gzipSync(payload)],
    ];
    for (const [coding, bytes] of codings) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/tasks/',
        headers: { ...alice.auth, 'content-type': JSON_TYPE, 'content-encoding': coding },
        payload: bytes,
      });
      assert.equal(response.statusCode, 415, coding);
      assert.equal(response.headers['accept-encoding'], 'identity', coding);
      assert.deepEqual(response.json(), { detail: `Unsupported content encoding "${coding}" in request.` });
    }
    const identity = await app.inject({
      method: 'POST',
      url: '/api/tasks/',
      headers: { ...alice.auth, 'content-type': JSON_TYPE, 'content-encoding': 'identity' },
      payload,
    });
    assert.equal(identity.statusCode, 201);
  });
});

describe(`[${dialectName}] multipart bodies`, () => {
  const testApp = sharedFixture(async ({ app }) => ({ alice: await createUser(app) }));
  const postTask = (payload: string | Buffer, contentType = MULTIPART) =>
    testApp().app.inject({ method: 'POST', url: '/api/tasks/', headers: { ...testApp().alice.auth, 'content-type': contentType }, payload });

  test('when a multipart body breaks off at any byte, then every prefix gets 201 or a 400 in the contract shape and only whole bodies store a task', async () => {
    const { database } = testApp();
    const whole = Buffer.from(
      `preamble\r\n${field('title', 'Sliced ✓')}${file('attachment', 'file body')}${field('completed', 'yes')}--${BOUNDARY}--\r\n`,
      'utf8',
    );
    let created = 0;
    for (let end = 0; end <= whole.length; end++) {
      const before = await countRows(database, 'tasks');
      const response = await postTask(whole.subarray(0, end));
      if (response.statusCode === 201) {
        created++;
        assert.equal(response.json().title, 'Sliced ✓');
        assert.equal(await countRows(database, 'tasks'), before + 1);
        continue;
      }
      assert.equal(response.statusCode, 400, `prefix of ${end} bytes: ${response.body}`);
      const body = response.json();
      assert.ok(typeof body.detail === 'string' || Array.isArray(body.title), `prefix of ${end} bytes: ${response.body}`);
      assert.equal(await countRows(database, 'tasks'), before);
    }
    // Only the bodies that reach the closing delimiter (with or without its last CRLF) are whole.
    assert.ok(created >= 1 && created <= 3, `created ${created}`);
  });

  test('when a multipart body carries files, then they are skipped and the fields are used', async () => {
    const response = await postTask(multipart(file('title', 'not the title'), field('title', 'From the field'), file('big', 'x'.repeat(500_000))));
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, 'From the field');
  });

  test('when a multipart body has exactly 1,000 parts, then it is accepted', async () => {
    const parts = [field('title', 'Thousand'), ...Array.from({ length: 998 }, (_, i) => field(`f${i}`, 'v')), file('f', 'x')];
    const response = await postTask(multipart(...parts));
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, 'Thousand');
  });

  test('when a part names a nested multipart type or a charset, then its text is the field value', async () => {
    const nested = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="description"\r\nContent-Type: multipart/mixed; boundary=Y\r\n\r\n--Y\r\nContent-Disposition: file; filename="a"\r\n\r\nabc\r\n--Y--\r\n`;
    const latin1 = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n`;
    const response = await postTask(Buffer.from(multipart(nested, latin1), 'latin1'));
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, 'café');
    assert.equal(response.json().description, '--Y\r\nContent-Disposition: file; filename="a"\r\n\r\nabc\r\n--Y--');
  });

  test('when a part has a huge header block, then the work stays bounded and the request is answered', async () => {
    const headers = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n${'X-Filler: abcdefgh\r\n'.repeat(40_000)}\r\nHeavy\r\n`;
    const response = await postTask(multipart(headers));
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, 'Heavy');
  });
});

describe(`[${dialectName}] form and JSON bodies at their limits`, () => {
  const testApp = sharedFixture(async ({ app }) => ({ alice: await createUser(app) }));
  const postTask = (payload: string | Buffer, contentType: string) =>
    testApp().app.inject({ method: 'POST', url: '/api/tasks/', headers: { ...testApp().alice.auth, 'content-type': contentType }, payload });

  test('when a form has exactly 1,000 fields, then it is accepted', async () => {
    const response = await postTask(['title=Thousand', ...Array.from({ length: 999 }, (_, i) => `f${i}=v`)].join('&'), FORM);
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, 'Thousand');
  });

  test('when empty pairs pad a form, then they are not fields', async () => {
    const response = await postTask(`title=Padded${'&'.repeat(5000)}`, FORM);
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, 'Padded');
  });

  test('when a form has malformed percent-escapes and invalid UTF-8, then they are taken as Django takes them', async () => {
    const response = await postTask('title=%zz%41%e9%&description=100%', FORM);
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, '%zzA\ufffd%');
    assert.equal(response.json().description, '100%');
  });

  test('when a form is declared in another charset, then it gets 415', async () => {
    const response = await postTask('title=caf%E9', `${FORM}; charset=iso-8859-1`);
    assert.equal(response.statusCode, 415);
    assert.deepEqual(response.json(), { detail: `Unsupported media type "${FORM}; charset=iso-8859-1" in request.` });
  });

  test('when JSON names UTF-8 in any spelling, then it is accepted', async () => {
    for (const charset of ['utf-8', 'UTF-8', 'utf8', '"utf-8"']) {
      const response = await postTask(JSON.stringify({ title: `caf\u00e9 ${charset}` }), `${JSON_TYPE}; charset=${charset}`);
      assert.equal(response.statusCode, 201, charset);
    }
  });

  test('when JSON names any other charset, then it gets 415 naming the content type', async () => {
    for (const charset of ['latin1', 'utf-16', 'us-ascii', 'bogus', '']) {
      const contentType = `${JSON_TYPE}; charset=${charset}`;
      const response = await postTask('{"title":"x"}', contentType);
      assert.equal(response.statusCode, 415, charset);
      assert.deepEqual(response.json(), { detail: `Unsupported media type "${contentType}" in request.` });
    }
  });

  test('when JSON nests exactly 32 levels and holds 1,000 arrays and 1,000 members, then it is accepted', async () => {
    const deep = `{"title":"Deep","x":${'['.repeat(31)}${']'.repeat(31)}}`;
    assert.equal((await postTask(deep, JSON_TYPE)).statusCode, 201);
    const arrays = `{"title":"Arrays","x":[${Array(998).fill('[]').join(',')}]}`;
    assert.equal((await postTask(arrays, JSON_TYPE)).statusCode, 201);
    const members = `{"title":"Members",${Array.from({ length: 999 }, (_, i) => `"k${i}":0`).join(',')}}`;
    assert.equal((await postTask(members, JSON_TYPE)).statusCode, 201);
  });

  test('when brackets, braces and colons are inside strings, then they do not count towards the limits', async () => {
    const text = `${'[{:'.repeat(2000)}"\\"]}`;
    const response = await postTask(JSON.stringify({ title: 'Quoted', description: text }), JSON_TYPE);
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().description, text);
  });

  test('when a megabyte of numbers is sent as a list, then it is refused as a list', async () => {
    const response = await postTask(`[${'0,'.repeat(500_000)}0]`, JSON_TYPE);
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
  });
});

describe(`[${dialectName}] numbers sent for text fields`, () => {
  const testApp = sharedFixture(async ({ app }) => ({ alice: await createUser(app) }));
  const postTask = (payload: string) =>
    testApp().app.inject({ method: 'POST', url: '/api/tasks/', headers: { ...testApp().alice.auth, 'content-type': JSON_TYPE }, payload });

  const texts: [string, string][] = [
    ['-0', '0'],
    ['-12', '-12'],
    ['1e2', '100.0'],
    ['1E400', 'inf'],
    ['-1e400', '-inf'],
    ['0.00001', '1e-05'],
    ['12345678901234567890123', '12345678901234567890123'],
    [`1${'0'.repeat(199)}`, `1${'0'.repeat(199)}`],
  ];
  for (const [number, text] of texts) {
    test(`when the title is the JSON number ${number.slice(0, 30)}, then it is stored as Python writes it`, async () => {
      const response = await postTask(`{"title":${number}}`);
      assert.equal(response.statusCode, 201, response.body);
      assert.equal(response.json().title, text);
    });
  }

  test('when the title is a number of 201 digits, then it is too long', async () => {
    const response = await postTask(`{"title":1${'0'.repeat(200)}}`);
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { title: ['Ensure this field has no more than 200 characters.'] });
  });

  test('when a member name is written with escapes, then its number still keeps its text', async () => {
    const response = await postTask('{"\\u0074itle":1.0}');
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, '1.0');
  });

  test('when a member is repeated, then the last value counts, number or not', async () => {
    const cases: [string, string][] = [
      ['{"title":1.0,"title":2}', '2'],
      ['{"title":"text","title":2.50}', '2.5'],
      ['{"title":1.0,"title":"text"}', 'text'],
      ['{"title":1.0,"\\u0074itle":3}', '3'],
    ];
    for (const [payload, title] of cases) {
      const response = await postTask(payload);
      assert.equal(response.statusCode, 201, payload);
      assert.equal(response.json().title, title, payload);
    }
  });

  test('when the body has a __proto__ member holding a number, then it is an ordinary ignored member', async () => {
    const response = await postTask('{"__proto__":1.0,"title":"Plain"}');
    assert.equal(response.statusCode, 201);
    assert.equal(response.json().title, 'Plain');
  });

  test('when the body is a bare number, then the original names its Python type', async () => {
    for (const [payload, type] of [['-0', 'int'], ['1.0', 'float'], ['1e400', 'float'], [`${'9'.repeat(400)}`, 'int']]) {
      const response = await postTask(payload!);
      assert.deepEqual(response.json(), { non_field_errors: [`Invalid data. Expected a dictionary, but got ${type}.`] }, payload);
    }
  });
});

describe(`[${dialectName}] a megabyte of digits for each field`, () => {
  const testApp = sharedFixture(async ({ app }) => {
    const alice = await createUser(app);
    return { alice, taskId: (await createTask(app, alice)).id as number };
  });
  const DIGITS = '7'.repeat(1024 * 1024 - 100);

  const cases: { url: (taskId: number) => string; method: string; field: string; others: Record<string, unknown>; message: string }[] = [
    { method: 'POST', url: () => '/api/register/', field: 'username', others: { password: PASSWORD }, message: 'Ensure this field has no more than 150 characters.' },
    { method: 'POST', url: () => '/api/register/', field: 'email', others: { username: 'digits', password: PASSWORD }, message: 'Ensure this field has no more than 254 characters.' },
    { method: 'POST', url: () => '/api/register/', field: 'password', others: { username: 'digits' }, message: 'Ensure this field has no more than 4096 characters.' },
    { method: 'POST', url: () => '/api/login/', field: 'password', others: { username: 'digits' }, message: 'Ensure this field has no more than 4096 characters.' },
    { method: 'PATCH', url: () => '/api/user/', field: 'email', others: {}, message: 'Ensure this field has no more than 254 characters.' },
    { method: 'DELETE', url: () => '/api/user/', field: 'current_password', others: {}, message: 'Ensure this field has no more than 4096 characters.' },
    { method: 'POST', url: () => '/api/user/password/', field: 'new_password', others: { current_password: PASSWORD }, message: 'Ensure this field has no more than 4096 characters.' },
    { method: 'POST', url: () => '/api/tasks/', field: 'title', others: {}, message: 'Ensure this field has no more than 200 characters.' },
    { method: 'PUT', url: (id) => `/api/tasks/${id}/`, field: 'title', others: {}, message: 'Ensure this field has no more than 200 characters.' },
    { method: 'PATCH', url: (id) => `/api/tasks/${id}/`, field: 'due_date', others: {}, message: 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.' },
    { method: 'PATCH', url: (id) => `/api/tasks/${id}/`, field: 'completed', others: {}, message: 'Must be a valid boolean.' },
  ];
  for (const { method, url, field: name, others, message } of cases) {
    test(`when ${method} ${url(0).replace('/0/', '/<id>/')} gets a megabyte of digits as ${name}, then only that field is refused, with its message`, async () => {
      const fixture = testApp();
      const { app, alice, taskId } = fixture;
      const before = await snapshot(fixture, alice);
      const payload = `{${Object.entries(others).map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)},`).join('')}"${name}":${DIGITS}}`;
      const response = await app.inject({ method: method as 'POST', url: url(taskId), headers: { ...alice.auth, 'content-type': JSON_TYPE }, payload });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { [name]: [message] });
      assert.deepEqual(await snapshot(fixture, alice), before);
    });
  }
});
