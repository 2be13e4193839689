import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeCursor } from '../../src/tasks/cursor.js';
import { dialectName, storedTasks } from '../helpers.js';
import { get, queryFixture, reset, seed } from './support.js';

const fixture = queryFixture();

/**
 * Values at and just past the edges of what the databases store: SQLite keeps timestamps and
 * dates as text and would compare anything, PostgreSQL refuses what its types cannot hold. The
 * API refuses such values itself, with the same 4xx on both databases; values inside the
 * edges are answered alike.
 */
describe(`[${dialectName}] values at the edges of what both databases store`, () => {
  const INVALID_TIMESTAMP = ['Enter a valid date/time.'];
  const INVALID_DATE = ['Enter a valid date.'];
  const INVALID_CURSOR = { cursor: ['Invalid cursor.'] };

  const timestamps: [string, 200 | 400][] = [
    ['0001-01-01T00:00:00+01:00', 400], // 0000-12-31T23:00Z: year 0
    ['0001-01-01T00:59:59.999999+01:00', 400],
    ['0001-01-01 00:30:00 +0100', 400],
    ['0001-01-01T00:00:00Z', 200],
    ['0001-01-01T00:00:00-01:00', 200],
    ['0001-01-01', 200],
    ['9999-12-31T23:59:59.999999Z', 200],
    ['9999-12-31T23:59:59+00:00', 200],
    ['9999-12-31T23:59:59-00:01', 400], // year 10000
    ['9999-12-31T23:30:00-14:00', 400],
    ['0000-06-01T00:00:00Z', 400],
    ['10000-01-01T00:00:00Z', 400],
    ['-0001-01-01T00:00:00Z', 400],
  ];
  for (const [value, status] of timestamps) {
    test(`when updated_since is ${value}, then the reply is ${status}`, async () => {
      const f = fixture();
      const reply = await get(f.app, f.alice, `/api/tasks/?updated_since=${encodeURIComponent(value)}`);
      assert.deepEqual([reply.statusCode, reply.json()], status === 200 ? [200, []] : [400, { updated_since: INVALID_TIMESTAMP }]);
    });

    test(`when the deletion feed's since is ${value}, then the reply is ${status === 200 ? 'the retention 410' : '400'}`, async () => {
      const f = fixture();
      const reply = await get(f.app, f.alice, `/api/tasks/deleted/?since=${encodeURIComponent(value)}`);
      if (status === 400) assert.deepEqual([reply.statusCode, reply.json()], [400, { since: INVALID_TIMESTAMP }]);
      // Far in the past or in the future, but a real instant: the feed answers as usual.
      else assert.ok([200, 410].includes(reply.statusCode), `${reply.statusCode} ${reply.body}`);
    });
  }

  const dates: [string, 200 | 400][] = [
    ['0001-01-01', 200],
    ['9999-12-31', 200],
    ['0000-12-31', 400],
    ['10000-01-01', 400],
    ['2025-02-29', 400],
  ];
  for (const [value, status] of dates) {
    for (const name of ['due_before', 'due_after']) {
      test(`when ${name} is ${value}, then the reply is ${status}`, async () => {
        const f = fixture();
        const reply = await get(f.app, f.alice, `/api/tasks/?${name}=${value}`);
        assert.deepEqual([reply.statusCode, reply.json()], status === 200 ? [200, []] : [400, { [name]: INVALID_DATE }]);
      });
    }
  }

  const pages: [string, number, unknown][] = [
    ['page=999999999999999&page_size=1000', 404, { detail: 'Invalid page.' }],
    ['page=1000000000000000', 400, { page: ['A valid integer is required.'] }],
    ['page_size=999999999999999', 200, { count: 0, next: null, previous: null, results: [] }],
    ['limit=1000&offset=999999999999999', 200, { count: 0, next: null, previous: 'http://localhost:80/api/tasks/?limit=1000&offset=999999999998999', results: [] }],
    ['limit=999999999999999&offset=0', 200, { count: 0, next: null, previous: null, results: [] }],
    ['offset=1000000000000000', 400, { offset: ['A valid integer is required.'] }],
    ['page=0', 400, { page: ['Ensure this value is greater than or equal to 1.'] }],
    ['page=-1', 400, { page: ['A valid integer is required.'] }],
  ];
  for (const [query, status, body] of pages) {
    test(`when the list is asked for with ${query}, then the reply is ${status}`, async () => {
      const f = fixture();
      await reset(f);
      const reply = await get(f.app, f.alice, `/api/tasks/?${query}`);
      assert.deepEqual([reply.statusCode, reply.json()], [status, body]);
    });
  }

  const cursor = (ordering: string, values: unknown[]) => encodeCursor({ ordering, values, backwards: false, inclusive: false });
  const cursors: [string, unknown[], 200 | 400][] = [
    ['id', [Number.MAX_SAFE_INTEGER], 200],
    ['id', [Number.MAX_SAFE_INTEGER + 1], 400],
    ['id', [1e300], 400],
    ['-id', [1], 200],
    ['due_date', [false, '0001-01-01', 1], 200],
    ['due_date', [false, '9999-12-31', 1], 200],
    ['due_date', [false, '0000-12-31', 1], 400],
    ['due_date', [false, '10000-01-01', 1], 400],
    ['due_date', [true, null, 1], 200],
    ['created_at', ['0001-01-01T00:00:00.000000Z', 1], 200],
    ['created_at', ['9999-12-31T23:59:59.999999Z', 1], 200],
    ['created_at', ['0000-12-31T23:00:00.000000Z', 1], 400],
    ['updated_at', ['0001-01-01T00:00:00+01:00', 1], 400],
    ['title', ['x'.repeat(3000), 1], 200],
    ['title', ['ﬀ'.repeat(201), 1], 200],
    ['title', ['a\u0000b', 1], 400],
    ['completed', [true, 1], 200],
    ['completed', [2, 1], 400],
  ];
  for (const [ordering, values, status] of cursors) {
    test(`when a cursor for ${ordering} carries ${JSON.stringify(values).slice(0, 60)}, then the reply is ${status}`, async () => {
      const f = fixture();
      await reset(f);
      await seed(f.database, f.alice, [{ title: 'one', due_date: '2026-01-01' }, { title: 'two' }]);
      const reply = await get(f.app, f.alice, `/api/tasks/?ordering=${ordering}&cursor=${cursor(ordering, values)}`);
      if (status === 400) assert.deepEqual([reply.statusCode, reply.json()], [400, INVALID_CURSOR]);
      else assert.equal(reply.statusCode, 200, reply.body);
    });
  }

  for (const id of ['9007199254740991', '9007199254740992', '99999999999999999999', '0', '-1', '1e3']) {
    test(`when task id ${id} is asked for with any method, then the reply is 404`, async () => {
      const f = fixture();
      for (const method of ['GET', 'PATCH', 'PUT', 'DELETE'] as const) {
        const reply = await f.app.inject({ method, url: `/api/tasks/${id}/`, headers: f.alice.auth, payload: { title: 'x' } });
        assert.deepEqual([reply.statusCode, reply.json()], [404, { detail: 'Not found.' }], `${method} ${id}`);
      }
      const session = await f.app.inject({ method: 'DELETE', url: `/api/sessions/${id}/`, headers: f.alice.auth });
      assert.deepEqual([session.statusCode, session.json()], [404, { detail: 'Not found.' }]);
    });
  }

  const bodies: [string, Record<string, unknown>, number, unknown][] = [
    ['a title of 200 ligatures, 400 characters once folded', { title: 'ﬀ'.repeat(200) }, 201, undefined],
    ['a title of 200 emoji', { title: '🚀'.repeat(200) }, 201, undefined],
    ['a title of 200 capital dotted Is', { title: 'İ'.repeat(200) }, 201, undefined],
    ['a title of 201 characters', { title: 'a'.repeat(201) }, 400, { title: ['Ensure this field has no more than 200 characters.'] }],
    ['the first date', { title: 't', due_date: '0001-01-01' }, 201, undefined],
    ['the last date', { title: 't', due_date: '9999-12-31' }, 201, undefined],
    ['year 0', { title: 't', due_date: '0000-12-31' }, 400, { due_date: ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'] }],
    ['year 10000', { title: 't', due_date: '10000-01-01' }, 400, { due_date: ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'] }],
    ['a NUL in the description', { title: 't', description: 'a\u0000b' }, 400, { description: ['Null characters are not allowed.'] }],
    ['a lone surrogate in the title', { title: 'a\ud800b' }, 201, undefined],
  ];
  for (const [name, payload, status, body] of bodies) {
    test(`when a task is created with ${name}, then the reply is ${status} and the stored task is the one served`, async () => {
      const f = fixture();
      await reset(f);
      const reply = await f.app.inject({ method: 'POST', url: '/api/tasks/', headers: f.alice.auth, payload });
      assert.equal(reply.statusCode, status, reply.body);
      const stored = await storedTasks(f.database);
      if (status !== 201) {
        assert.deepEqual(reply.json(), body);
        assert.deepEqual(stored, []);
        return;
      }
      // Both databases store text as UTF-8, where a lone surrogate becomes U+FFFD.
      const expectedTitle = (payload.title as string).replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
      assert.equal(reply.json().title, expectedTitle);
      assert.deepEqual(stored.map((row) => [row.title, row.due_date]), [[expectedTitle, payload.due_date ?? null]]);
    });
  }
});
