import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { dialectName } from '../helpers.js';
import { day, get, listIds, queryFixture, reset, seed, stamp } from './support.js';

const fixture = queryFixture();

describe(`[${dialectName}] filtering the task list`, () => {
  // Alice's tasks, named by letter; bob owns one look-alike of each, which must never show up.
  let ids: Record<'overdue' | 'later' | 'paidLate' | 'school' | 'sale' | 'accented' | 'path' | 'today', number>;

  beforeEach(async () => {
    const f = fixture();
    await reset(f);
    const rows = [
      { title: 'Buy milk', due_date: day(-3) },
      { title: 'Write report', description: 'Quarterly numbers', due_date: day(5) },
      { title: 'Pay rent', due_date: day(-10), completed: true },
      { title: 'Call the école', description: 'about the trip' },
      { title: '50% off sale_items', description: 'Use the COUPON', due_date: day(30) },
      { title: 'ÉCOLE registration', completed: true },
      { title: 'Clean C:\\temp folder', due_date: day(1) },
      { title: 'Water plants', due_date: day(0) },
    ];
    const [overdue, later, paidLate, school, sale, accented, path, today] = await seed(f.database, f.alice, rows);
    ids = { overdue: overdue!, later: later!, paidLate: paidLate!, school: school!, sale: sale!, accented: accented!, path: path!, today: today! };
    await seed(f.database, f.bob, rows);
  });

  const aliceSees = (query: string) => listIds(fixture().app, fixture().alice, query);

  test('when no filter is given, then all of my tasks come back as a plain array ascending by id', async () => {
    assert.deepEqual(await aliceSees(''), Object.values(ids).sort((a, b) => a - b));
  });

  test('when filtering on completed=true or false, then only finished or only open tasks come back', async () => {
    assert.deepEqual(await aliceSees('?completed=true'), [ids.paidLate, ids.accented]);
    assert.deepEqual(await aliceSees('?completed=false'), [ids.overdue, ids.later, ids.school, ids.sale, ids.path, ids.today]);
  });

  test('when completed is given as another boolean word, then it is read like the body booleans', async () => {
    for (const word of ['True', '1', 'yes', 'on', 't', 'Y']) {
      assert.deepEqual(await aliceSees(`?completed=${word}`), [ids.paidLate, ids.accented], word);
    }
    for (const word of ['FALSE', '0', 'no', 'off', 'f', 'n']) {
      assert.equal((await aliceSees(`?completed=${word}`)).length, 6, word);
    }
  });

  test('when filtering with due_before, then only tasks due strictly before that date come back', async () => {
    assert.deepEqual(await aliceSees(`?due_before=${day(0)}`), [ids.overdue, ids.paidLate]);
    assert.deepEqual(await aliceSees(`?due_before=${day(-3)}`), [ids.paidLate]);
  });

  test('when filtering with due_after, then only tasks due strictly after that date come back', async () => {
    assert.deepEqual(await aliceSees(`?due_after=${day(0)}`), [ids.later, ids.sale, ids.path]);
    assert.deepEqual(await aliceSees(`?due_after=${day(5)}`), [ids.sale]);
  });

  test('when due_after and due_before are combined, then they select the open range between them', async () => {
    assert.deepEqual(await aliceSees(`?due_after=${day(-10)}&due_before=${day(5)}`), [ids.overdue, ids.path, ids.today]);
    assert.deepEqual(await aliceSees(`?due_after=${day(0)}&due_before=${day(0)}`), []);
  });

  test('when filtering on overdue=true, then only open tasks due before today (UTC) come back', async () => {
    // The completed task due in the past and the task due today are not overdue.
    assert.deepEqual(await aliceSees('?overdue=true'), [ids.overdue]);
  });

  test('when filtering on overdue=false, then every task that is not overdue comes back, undated ones included', async () => {
    assert.deepEqual(await aliceSees('?overdue=false'), [ids.later, ids.paidLate, ids.school, ids.sale, ids.accented, ids.path, ids.today]);
  });

  test('when a task is reopened, then it becomes overdue again if its date has passed', async () => {
    const { app, alice } = fixture();
    const reopened = await app.inject({ method: 'PATCH', url: `/api/tasks/${ids.paidLate}/`, headers: alice.auth, payload: { completed: false } });
    assert.equal(reopened.statusCode, 200);
    assert.deepEqual(await aliceSees('?overdue=true'), [ids.overdue, ids.paidLate]);
  });

  test('when filtering on has_due_date, then dated or undated tasks come back', async () => {
    assert.deepEqual(await aliceSees('?has_due_date=true'), [ids.overdue, ids.later, ids.paidLate, ids.sale, ids.path, ids.today]);
    assert.deepEqual(await aliceSees('?has_due_date=false'), [ids.school, ids.accented]);
  });

  test('when searching, then the term matches the title or the description regardless of letter case', async () => {
    assert.deepEqual(await aliceSees('?search=milk'), [ids.overdue]);
    assert.deepEqual(await aliceSees('?search=MILK'), [ids.overdue]);
    assert.deepEqual(await aliceSees('?search=quarterly'), [ids.later]);
    assert.deepEqual(await aliceSees('?search=coupon'), [ids.sale]);
    assert.deepEqual(await aliceSees('?search=nothing%20like%20this'), []);
  });

  test('when searching with accented capitals or small letters, then both spellings are found', async () => {
    const upper = await aliceSees(`?search=${encodeURIComponent('ÉCOLE')}`);
    const lower = await aliceSees(`?search=${encodeURIComponent('école')}`);
    assert.deepEqual(upper, [ids.school, ids.accented]);
    assert.deepEqual(lower, [ids.school, ids.accented]);
  });

  test('when the search term contains % or _, then they match themselves, not any characters', async () => {
    assert.deepEqual(await aliceSees('?search=50%25'), [ids.sale]);
    // As wildcards, "y%m" would match "Buy milk" and "e_i" would match "registration".
    assert.deepEqual(await aliceSees('?search=y%25m'), []);
    assert.deepEqual(await aliceSees('?search=e_i'), [ids.sale]);
    assert.deepEqual(await aliceSees('?search=%25'), [ids.sale]);
    assert.deepEqual(await aliceSees('?search=_'), [ids.sale]);
  });

  test('when the search term contains a backslash, then it matches a backslash', async () => {
    assert.deepEqual(await aliceSees(`?search=${encodeURIComponent('c:\\temp')}`), [ids.path]);
    assert.deepEqual(await aliceSees(`?search=${encodeURIComponent('\\')}`), [ids.path]);
  });

  test('when the search term is blank or padded, then it is trimmed and a blank one matches everything', async () => {
    assert.deepEqual(await aliceSees('?search=%20%20milk%20'), [ids.overdue]);
    assert.equal((await aliceSees('?search=')).length, 8);
    assert.equal((await aliceSees('?search=%20%20')).length, 8);
  });

  test('when filtering on updated_since, then tasks updated at or after that moment come back', async () => {
    const { database } = fixture();
    const moments = ['2020-01-01T00:00:00.000000Z', '2024-06-01T12:00:00.000000Z', '2024-06-01T12:00:00.000001Z'];
    const touched = [ids.overdue, ids.later, ids.paidLate];
    for (const [index, id] of touched.entries()) {
      await database.db.updateTable('tasks').set({ updated_at: moments[index]! }).where('id', '=', id).execute();
    }
    const recent = [ids.school, ids.sale, ids.accented, ids.path, ids.today];
    assert.deepEqual(await aliceSees('?updated_since=2024-06-01T12:00:00Z'), [ids.later, ids.paidLate, ...recent]);
    assert.deepEqual(await aliceSees('?updated_since=2024-06-01T12:00:00.000001Z'), [ids.paidLate, ...recent]);
    assert.deepEqual(await aliceSees('?updated_since=2019-12-31'), [ids.overdue, ids.later, ids.paidLate, ...recent]);
    assert.deepEqual(await aliceSees(`?updated_since=${stamp(Date.now() + 60_000)}`), []);
  });

  test('when updated_since carries a time zone offset, then it names the same instant in UTC', async () => {
    const { database } = fixture();
    await database.db.updateTable('tasks').set({ updated_at: '2020-01-01T00:00:00.000000Z' }).where('owner_id', '=', fixture().alice.id).execute();
    await database.db.updateTable('tasks').set({ updated_at: '2020-01-01T10:00:00.000000Z' }).where('id', '=', ids.school).execute();
    assert.deepEqual(await aliceSees(`?updated_since=${encodeURIComponent('2020-01-01T12:00:00+02:00')}`), [ids.school]);
    assert.deepEqual(await aliceSees(`?updated_since=${encodeURIComponent('2020-01-01T12:00:01+02:00')}`), []);
    // A "+" left unencoded in a query string arrives as a space.
    assert.deepEqual(await aliceSees('?updated_since=2020-01-01T12:00:00+02:00'), [ids.school]);
    assert.deepEqual(await aliceSees(`?updated_since=${encodeURIComponent('2020-01-01T05:00:00-05:00')}`), [ids.school]);
  });

  test('when several filters are combined, then a task must pass all of them', async () => {
    assert.deepEqual(await aliceSees('?completed=false&has_due_date=true&search=e'), [ids.later, ids.sale, ids.path, ids.today]);
    assert.deepEqual(await aliceSees(`?completed=true&due_before=${day(0)}`), [ids.paidLate]);
    assert.deepEqual(await aliceSees(`?has_due_date=false&due_before=${day(100)}`), []);
    assert.deepEqual(await aliceSees('?overdue=false&completed=false&has_due_date=false'), [ids.school]);
    assert.deepEqual(await aliceSees(`?search=${encodeURIComponent('école')}&completed=true`), [ids.accented]);
  });

  test('when filters and ordering are combined, then the filtered tasks come back in that order', async () => {
    assert.deepEqual(await aliceSees('?completed=false&ordering=-due_date'), [ids.sale, ids.later, ids.path, ids.today, ids.overdue, ids.school]);
    assert.deepEqual(await aliceSees('?has_due_date=true&ordering=title'), [ids.sale, ids.overdue, ids.path, ids.paidLate, ids.today, ids.later]);
  });

  test('when bob uses the same filters, then he sees only his own tasks', async () => {
    const { app, bob } = fixture();
    for (const query of ['', '?completed=true', '?overdue=true', '?search=milk', `?due_before=${day(0)}`, '?has_due_date=false']) {
      const response = await get(app, bob, `/api/tasks/${query}`);
      assert.equal(response.statusCode, 200);
      const tasks = response.json() as { id: number; owner: number }[];
      assert.ok(tasks.length > 0, query);
      assert.ok(tasks.every((task) => task.owner === bob.id && !Object.values(ids).includes(task.id)), query);
    }
  });
});

describe(`[${dialectName}] bad filter values`, () => {
  const reply = async (query: string) => {
    const { app, alice } = fixture();
    return get(app, alice, `/api/tasks/${query}`);
  };

  const cases: [string, Record<string, string[]>][] = [
    ['?completed=maybe', { completed: ['Must be a valid boolean.'] }],
    ['?completed=', { completed: ['Must be a valid boolean.'] }],
    ['?completed=2', { completed: ['Must be a valid boolean.'] }],
    ['?overdue=yesterday', { overdue: ['Must be a valid boolean.'] }],
    ['?has_due_date=null', { has_due_date: ['Must be a valid boolean.'] }],
    ['?due_before=2025-02-30', { due_before: ['Enter a valid date.'] }],
    ['?due_before=tomorrow', { due_before: ['Enter a valid date.'] }],
    ['?due_before=', { due_before: ['Enter a valid date.'] }],
    ['?due_after=2025-13-01', { due_after: ['Enter a valid date.'] }],
    ['?due_after=2025-03-30T10:00:00Z', { due_after: ['Enter a valid date.'] }],
    ['?due_after=0000-01-01', { due_after: ['Enter a valid date.'] }],
    ['?updated_since=yesterday', { updated_since: ['Enter a valid date/time.'] }],
    ['?updated_since=2025-02-30T00:00:00Z', { updated_since: ['Enter a valid date/time.'] }],
    ['?updated_since=2025-01-01T25:00:00Z', { updated_since: ['Enter a valid date/time.'] }],
    ['?updated_since=', { updated_since: ['Enter a valid date/time.'] }],
    ['?search=milk%00', { search: ['Null characters are not allowed.'] }],
  ];
  for (const [query, body] of cases) {
    test(`when asking for ${query}, then it is a 400 naming the field`, async () => {
      const response = await reply(query);
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), body);
    });
  }

  test('when several filters are bad at once, then every failing field is reported together', async () => {
    const response = await reply('?completed=maybe&due_before=x&due_after=2025-02-29&overdue=2&has_due_date=&updated_since=soon&search=a%00');
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), {
      completed: ['Must be a valid boolean.'],
      due_before: ['Enter a valid date.'],
      due_after: ['Enter a valid date.'],
      overdue: ['Must be a valid boolean.'],
      has_due_date: ['Must be a valid boolean.'],
      search: ['Null characters are not allowed.'],
      updated_since: ['Enter a valid date/time.'],
    });
  });

  test('when a bad filter comes with pagination, then it is still a 400 and not a page', async () => {
    for (const pagination of ['page=1', 'limit=5', 'cursor=']) {
      const response = await reply(`?due_before=soon&${pagination}`);
      assert.equal(response.statusCode, 400, pagination);
      assert.deepEqual(response.json(), { due_before: ['Enter a valid date.'] }, pagination);
    }
  });

  test('when the request is not authenticated, then filters are not even read', async () => {
    const response = await fixture().app.inject({ method: 'GET', url: '/api/tasks/?completed=maybe' });
    assert.equal(response.statusCode, 401);
  });
});
