import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createTask, createUser, dialectName, formBody, multipartBody, sharedTestApp, storedTasks, type TestUser } from '../helpers.js';

const REQUIRED = 'This field is required.';
const BLANK = 'This field may not be blank.';
const NULL = 'This field may not be null.';
const NOT_A_STRING = 'Not a valid string.';
const NOT_A_BOOLEAN = 'Must be a valid boolean.';
const NUL = 'Null characters are not allowed.';
const TOO_LONG = 'Ensure this field has no more than 200 characters.';
const DATE_FORMAT = 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.';

describe(`[${dialectName}] task field validation`, () => {
  const testApp = sharedTestApp();
  let alice: TestUser;
  before(async () => {
    alice = await createUser(testApp().app);
  });

  const create = (payload: Record<string, unknown>) =>
    testApp().app.inject({ method: 'POST', url: '/api/tasks/', headers: alice.auth, payload });

  /** Creating with these fields is refused with exactly these errors, and nothing is stored. */
  async function assertRefused(payload: Record<string, unknown>, errors: Record<string, string[]>) {
    const { database } = testApp();
    const before = await storedTasks(database);
    const response = await create(payload);
    assert.equal(response.statusCode, 400, response.body);
    assert.deepEqual(response.json(), errors);
    assert.deepEqual(await storedTasks(database), before);
  }

  async function assertCreated(payload: Record<string, unknown>, expected: Record<string, unknown>) {
    const response = await create(payload);
    assert.equal(response.statusCode, 201, response.body);
    const task = response.json();
    for (const [name, value] of Object.entries(expected)) assert.deepEqual(task[name], value, name);
    const row = (await storedTasks(testApp().database)).find((stored) => stored.id === task.id);
    assert.ok(row, 'the task is stored');
    return task;
  }

  describe('title', () => {
    test('when the title is missing, then it is required', () => assertRefused({ description: 'x' }, { title: [REQUIRED] }));
    test('when the title is empty, then it may not be blank', () => assertRefused({ title: '' }, { title: [BLANK] }));
    test('when the title is only white space, then it may not be blank', () => assertRefused({ title: '  \t\n ' }, { title: [BLANK] }));
    test('when the title is null, then it may not be null', () => assertRefused({ title: null }, { title: [NULL] }));
    test('when the title is a list, then it is not a valid string', () => assertRefused({ title: ['a'] }, { title: [NOT_A_STRING] }));
    test('when the title is an object, then it is not a valid string', () => assertRefused({ title: { text: 'a' } }, { title: [NOT_A_STRING] }));
    test('when the title is true, then it is not a valid string', () => assertRefused({ title: true }, { title: [NOT_A_STRING] }));
    test('when the title is false, then it is not a valid string', () => assertRefused({ title: false }, { title: [NOT_A_STRING] }));
    test('when the title contains a NUL character, then null characters are not allowed', () =>
      assertRefused({ title: 'before\u0000after' }, { title: [NUL] }));
    test('when the title has 201 characters, then it is too long', () => assertRefused({ title: 'a'.repeat(201) }, { title: [TOO_LONG] }));
    test('when the title has 201 rockets, then it is too long', () => assertRefused({ title: '🚀'.repeat(201) }, { title: [TOO_LONG] }));

    test('when the title has exactly 200 characters, then it is valid', () =>
      assertCreated({ title: 'b'.repeat(200) }, { title: 'b'.repeat(200) }));
    test('when the title has 200 rockets (400 UTF-16 units), then it is valid and stored whole', async () => {
      const task = await assertCreated({ title: '🚀'.repeat(200) }, { title: '🚀'.repeat(200) });
      const row = (await storedTasks(testApp().database)).find((stored) => stored.id === task.id)!;
      assert.equal(row.title, '🚀'.repeat(200));
    });
    test('when the title has 200 characters inside surrounding spaces, then the spaces are trimmed and it is valid', () =>
      assertCreated({ title: `   ${'c'.repeat(200)}   ` }, { title: 'c'.repeat(200) }));
    test('when the title is padded with spaces, then it is stored trimmed', async () => {
      const task = await assertCreated({ title: '  padded  ' }, { title: 'padded' });
      const row = (await storedTasks(testApp().database)).find((stored) => stored.id === task.id)!;
      assert.equal(row.title, 'padded');
    });
    test('when the title is padded with tabs, newlines and no-break spaces, then they are trimmed', () =>
      assertCreated({ title: '\t\n\u00a0Tidy\u3000 \r\n' }, { title: 'Tidy' }));
    test('when white space is inside the title, then it is kept', () => assertCreated({ title: ' two  words ' }, { title: 'two  words' }));
    test('when the title is a whole number, then it is taken as its text', () => assertCreated({ title: 42 }, { title: '42' }));
    test('when the title is a decimal number, then it is taken as its text', () => assertCreated({ title: 3.5 }, { title: '3.5' }));
    test('when the title is an integer beyond double precision, then all its digits are kept', async () => {
      const response = await testApp().app.inject({
        method: 'POST',
        url: '/api/tasks/',
        headers: { ...alice.auth, 'content-type': 'application/json' },
        payload: '{"title":12345678901234567890}',
      });
      assert.equal(response.statusCode, 201);
      assert.equal(response.json().title, '12345678901234567890');
    });
    test('when the title is the number 1.0, then it is taken as the text "1.0"', async () => {
      const response = await testApp().app.inject({
        method: 'POST',
        url: '/api/tasks/',
        headers: { ...alice.auth, 'content-type': 'application/json' },
        payload: '{"title":1.0}',
      });
      assert.equal(response.statusCode, 201);
      assert.equal(response.json().title, '1.0');
    });
    test('when the title is zero, then it is taken as the text "0"', () => assertCreated({ title: 0 }, { title: '0' }));
  });

  describe('description', () => {
    test('when the description is null, then it may not be null', () => assertRefused({ title: 't', description: null }, { description: [NULL] }));
    test('when the description is a list, then it is not a valid string', () =>
      assertRefused({ title: 't', description: ['x'] }, { description: [NOT_A_STRING] }));
    test('when the description is an object, then it is not a valid string', () =>
      assertRefused({ title: 't', description: {} }, { description: [NOT_A_STRING] }));
    test('when the description is a boolean, then it is not a valid string', () =>
      assertRefused({ title: 't', description: true }, { description: [NOT_A_STRING] }));
    test('when the description contains a NUL character, then null characters are not allowed', () =>
      assertRefused({ title: 't', description: 'a\u0000' }, { description: [NUL] }));
    test('when the description is empty, then it is valid', () => assertCreated({ title: 't', description: '' }, { description: '' }));
    test('when the description is only spaces, then it is stored blank', () => assertCreated({ title: 't', description: '    ' }, { description: '' }));
    test('when the description is padded, then it is stored trimmed', () =>
      assertCreated({ title: 't', description: '\n  Line one\nLine two  \n' }, { description: 'Line one\nLine two' }));
    test('when the description has 8,192 characters, then it is stored whole, counted in code points', async () => {
      await assertCreated({ title: 't', description: 'd'.repeat(8192) }, { description: 'd'.repeat(8192) });
      await assertCreated({ title: 't', description: '🚀'.repeat(8192) }, { description: '🚀'.repeat(8192) });
    });
    test('when the description is longer than 8,192 characters, then it is refused and nothing is stored', async () => {
      for (const description of ['d'.repeat(8193), '🚀'.repeat(8193), 'd'.repeat(999_000)]) {
        await assertRefused({ title: 't', description }, { description: ['Ensure this field has no more than 8192 characters.'] });
      }
    });
    test('when the description is a number, then it is taken as its text', () => assertCreated({ title: 't', description: 7 }, { description: '7' }));
  });

  describe('due_date', () => {
    const invalidDates: [string, unknown][] = [
      ['an impossible date 2025-02-30', '2025-02-30'],
      ['February 29 of a common year', '2023-02-29'],
      ['month 13', '2025-13-01'],
      ['day 0', '2025-01-00'],
      ['a datetime', '2025-03-30T10:00:00'],
      ['a UTC datetime', '2025-03-30T10:00:00Z'],
      ['a date with a space and time', '2025-03-30 10:00'],
      ['a day-month-year date', '30/03/2025'],
      ['a month-day-year date', '03-30-2025'],
      ['words', 'tomorrow'],
      ['a single space', ' '],
      ['year 0000', '0000-01-01'],
      ['a five-digit year', '10000-01-01'],
      ['a two-digit year', '25-03-30'],
      ['a number', 20250330],
      ['a boolean', true],
      ['a list', ['2025-03-30']],
      ['an object', { date: '2025-03-30' }],
    ];
    for (const [label, due_date] of invalidDates) {
      test(`when due_date is ${label}, then it has the wrong format`, () => assertRefused({ title: 't', due_date }, { due_date: [DATE_FORMAT] }));
    }

    const validDates: [string, unknown, string | null][] = [
      ['a plain date', '2025-03-30', '2025-03-30'],
      ['February 29 of a leap year', '2024-02-29', '2024-02-29'],
      ['February 29, 2000', '2000-02-29', '2000-02-29'],
      ['the first day of year 1', '0001-01-01', '0001-01-01'],
      ['the last day of year 9999', '9999-12-31', '9999-12-31'],
      ['null', null, null],
      ['an empty string, as the React client sends', '', null],
    ];
    for (const [label, due_date, stored] of validDates) {
      test(`when due_date is ${label}, then it is stored as ${JSON.stringify(stored)}`, async () => {
        const task = await assertCreated({ title: 't', due_date }, { due_date: stored });
        const row = (await storedTasks(testApp().database)).find((r) => r.id === task.id)!;
        assert.equal(row.due_date, stored);
      });
    }

    test('when a form sends an empty due_date, then it is null', async () => {
      const form = formBody({ title: 'Form without date', due_date: '' });
      const response = await testApp().app.inject({ method: 'POST', url: '/api/tasks/', headers: { ...alice.auth, ...form.headers }, payload: form.payload });
      assert.equal(response.statusCode, 201);
      assert.equal(response.json().due_date, null);
    });

    test('when a form sends an impossible due_date, then it has the wrong format', async () => {
      const form = formBody({ title: 'Form with bad date', due_date: '2025-02-30' });
      const response = await testApp().app.inject({ method: 'POST', url: '/api/tasks/', headers: { ...alice.auth, ...form.headers }, payload: form.payload });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { due_date: [DATE_FORMAT] });
    });
  });

  describe('completed', () => {
    const truthy: unknown[] = [true, 1, 'true', 'True', 'TRUE', 'tRuE', '1', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 't', 'T', 'y', 'Y'];
    const falsy: unknown[] = [false, 0, 'false', 'False', 'FALSE', 'fAlSe', '0', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'f', 'F', 'n', 'N'];
    for (const value of truthy) {
      test(`when completed is ${JSON.stringify(value)}, then the task is completed`, () =>
        assertCreated({ title: 't', completed: value }, { completed: true }));
    }
    for (const value of falsy) {
      test(`when completed is ${JSON.stringify(value)}, then the task is not completed`, () =>
        assertCreated({ title: 't', completed: value }, { completed: false }));
    }

    test('when completed is null, then it may not be null', () => assertRefused({ title: 't', completed: null }, { completed: [NULL] }));
    const invalid: unknown[] = [2, -1, 0.5, 'maybe', '2', '', 'truth', 'yess', [], [true], {}];
    for (const value of invalid) {
      test(`when completed is ${JSON.stringify(value)}, then it must be a valid boolean`, () =>
        assertRefused({ title: 't', completed: value }, { completed: [NOT_A_BOOLEAN] }));
    }

    for (const [text, expected] of [['on', true], ['Off', false], ['YES', true], ['n', false], ['1', true], ['0', false]] as const) {
      test(`when a multipart form sends completed=${text}, then the task is ${expected ? '' : 'not '}completed`, async () => {
        const form = multipartBody({ title: 'Multipart flag', completed: text });
        const response = await testApp().app.inject({ method: 'POST', url: '/api/tasks/', headers: { ...alice.auth, ...form.headers }, payload: form.payload });
        assert.equal(response.statusCode, 201);
        assert.equal(response.json().completed, expected);
      });
    }

    test('when a form sends completed=maybe, then it must be a valid boolean', async () => {
      const form = formBody({ title: 'Form flag', completed: 'maybe' });
      const response = await testApp().app.inject({ method: 'POST', url: '/api/tasks/', headers: { ...alice.auth, ...form.headers }, payload: form.payload });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { completed: [NOT_A_BOOLEAN] });
    });
  });

  describe('the body as a whole', () => {
    test('when every field fails, then every failing field is reported at once, in the order of the task\'s fields', async () => {
      await assertRefused(
        { completed: 'maybe', due_date: '2025-02-30', description: null, title: '' },
        { title: [BLANK], description: [NULL], due_date: [DATE_FORMAT], completed: [NOT_A_BOOLEAN] },
      );
      const response = await create({ completed: 'maybe', due_date: '2025-02-30', description: null, title: '' });
      assert.equal(
        response.body,
        `{"title":["${BLANK}"],"description":["${NULL}"],"due_date":["${DATE_FORMAT}"],"completed":["${NOT_A_BOOLEAN}"]}`,
      );
    });

    test('when the title is missing and another field fails, then both are reported', () =>
      assertRefused({ due_date: 'soon' }, { title: [REQUIRED], due_date: [DATE_FORMAT] }));

    test('when unknown fields are sent, then they are ignored', async () => {
      const task = await assertCreated(
        { title: 'With extras', password_2: 'x', priority: 'high', tags: ['a'], nested: { a: 1 } },
        { title: 'With extras' },
      );
      assert.equal('priority' in task, false);
      assert.equal('password_2' in task, false);
    });

    test('when read-only fields are sent, then they are ignored', async () => {
      const bob = await createUser(testApp().app);
      const response = await create({ title: 'Read-only', id: 987654, owner: bob.id, created_at: '2000-01-01T00:00:00.000000Z' });
      assert.equal(response.statusCode, 201);
      const task = response.json();
      assert.notEqual(task.id, 987654);
      assert.equal(task.owner, alice.id);
      assert.notEqual(task.created_at, '2000-01-01T00:00:00.000000Z');
      assert.ok(Date.now() - Date.parse(task.created_at) < 60_000, task.created_at);
    });

    test('when invalid read-only and unknown fields are sent, then they are not validated', () =>
      assertCreated({ title: 'Ignored junk', id: 'not a number', owner: null, created_at: 'yesterday', extra: null }, { title: 'Ignored junk' }));

    test('when a PATCH has several invalid fields, then all are reported and the task is unchanged', async () => {
      const { app, database } = testApp();
      const task = await createTask(app, alice, { title: 'Stable' });
      const before = await storedTasks(database);
      const response = await app.inject({
        method: 'PATCH',
        url: `/api/tasks/${task.id}/`,
        headers: alice.auth,
        payload: { title: null, completed: 2, due_date: '2025-03-30T00:00:00Z', description: ['x'] },
      });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { title: [NULL], completed: [NOT_A_BOOLEAN], due_date: [DATE_FORMAT], description: [NOT_A_STRING] });
      assert.deepEqual(await storedTasks(database), before);
    });

    test('when a PUT has one invalid field among valid ones, then nothing is changed', async () => {
      const { app, database } = testApp();
      const task = await createTask(app, alice, { title: 'Keep me' });
      const before = await storedTasks(database);
      const response = await app.inject({
        method: 'PUT',
        url: `/api/tasks/${task.id}/`,
        headers: alice.auth,
        payload: { title: 'New title', description: 'New', completed: 'maybe' },
      });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { completed: [NOT_A_BOOLEAN] });
      assert.deepEqual(await storedTasks(database), before);
    });

    test('when a PATCH title contains a NUL character, then it is refused, never a server error', async () => {
      const { app, database } = testApp();
      const task = await createTask(app, alice);
      const before = await storedTasks(database);
      const response = await app.inject({ method: 'PATCH', url: `/api/tasks/${task.id}/`, headers: alice.auth, payload: { title: '\u0000' } });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { title: [NUL] });
      assert.deepEqual(await storedTasks(database), before);
    });
  });
});
