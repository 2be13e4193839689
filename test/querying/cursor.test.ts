import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import { dialectName } from '../helpers.js';
import { get, idsOf, listIds, pageOf, pathOf, queryFixture, reset, seed, walk, type Page, type SeedRow } from './support.js';

const fixture = queryFixture();

const INVALID_CURSOR = { cursor: ['Invalid cursor.'] };

/** Eleven tasks with repeated titles, dates and flags, so every ordering has ties to break. */
const ROWS: SeedRow[] = [
  { title: 'pear', due_date: '2026-04-01', completed: false, updated_at: '2026-02-01T00:00:00.000000Z' },
  { title: 'apple', due_date: null, completed: true, updated_at: '2026-02-01T00:00:00.000000Z' },
  { title: 'fig', due_date: '2026-03-15', completed: false, updated_at: '2026-01-20T00:00:00.000000Z' },
  { title: 'apple', due_date: '2026-04-01', completed: true, updated_at: '2026-03-01T00:00:00.000000Z' },
  { title: 'kiwi', due_date: null, completed: false, updated_at: '2026-01-05T00:00:00.000000Z' },
  { title: 'Zucchini', due_date: '2025-12-31', completed: false, updated_at: '2026-02-01T00:00:00.000000Z' },
  { title: 'fig', due_date: '2026-04-01', completed: true, updated_at: '2026-01-01T00:00:00.000000Z' },
  { title: 'lime', due_date: null, completed: false, updated_at: '2026-03-01T00:00:00.000000Z' },
  { title: 'date', due_date: '2026-01-10', completed: false, updated_at: '2026-02-15T00:00:00.000000Z' },
  { title: 'banana', due_date: '2026-03-15', completed: true, updated_at: '2026-02-01T00:00:00.000000Z' },
  { title: 'cherry', due_date: null, completed: true, updated_at: '2026-01-05T00:00:00.000000Z' },
];

const ORDERINGS = ['', 'id', '-id', 'title', '-title', 'due_date', '-due_date', 'completed', '-completed', 'updated_at', '-updated_at', 'created_at', '-created_at', 'completed,-due_date', '-completed,title', 'due_date,-title', 'title,-updated_at'];

const withOrdering = (ordering: string, rest: string) => `/api/tasks/?${ordering === '' ? '' : `ordering=${ordering}&`}${rest}`;

describe(`[${dialectName}] walking cursor pages`, () => {
  before(async () => {
    const f = fixture();
    await reset(f);
    await seed(f.database, f.alice, ROWS);
    await seed(f.database, f.bob, ROWS.slice(0, 5));
  });

  test('when asking for the first cursor page, then the envelope has next, previous and results but no count', async () => {
    const { app, alice } = fixture();
    const response = await get(app, alice, '/api/tasks/?cursor=&page_size=4');
    assert.equal(response.statusCode, 200);
    const body = response.json() as Page;
    assert.deepEqual(Object.keys(body), ['next', 'previous', 'results']);
    assert.equal(body.results.length, 4);
    assert.equal(body.previous, null);
    assert.match(body.next!, /^https?:\/\/[^/]+\/api\/tasks\/\?/);
    const params = new URL(body.next!).searchParams;
    assert.equal(params.get('page_size'), '4');
    assert.ok((params.get('cursor') ?? '').length > 0);
  });

  test('when no page_size is given, then cursor pages hold up to 50 tasks', async () => {
    const { app, alice } = fixture();
    const body = pageOf(await get(app, alice, '/api/tasks/?cursor='));
    assert.equal(body.results.length, 11);
    assert.equal(body.next, null);
    assert.equal(body.previous, null);
  });

  for (const ordering of ORDERINGS) {
    test(`when walking all cursor pages ordered by "${ordering || 'default'}", then they add up to the full ordered list`, async () => {
      const { app, alice } = fixture();
      const expected = await listIds(app, alice, ordering === '' ? '' : `?ordering=${ordering}`);
      assert.equal(expected.length, 11);
      for (const size of [1, 3, 4]) {
        const pages = await walk(app, alice, withOrdering(ordering, `cursor=&page_size=${size}`));
        assert.deepEqual(pages.flatMap((page) => idsOf(page.results)), expected, `page_size=${size}`);
        assert.equal(pages.length, Math.ceil(11 / size), `page_size=${size}`);
        assert.ok(pages.every((page) => page.results.length > 0));
      }
    });

    test(`when following previous links back from the last page ordered by "${ordering || 'default'}", then the same pages come back in reverse`, async () => {
      const { app, alice } = fixture();
      const forward = await walk(app, alice, withOrdering(ordering, 'cursor=&page_size=3'));
      const last = forward.at(-1)!;
      assert.ok(last.previous !== null);
      const backward = await walk(app, alice, pathOf(last.previous), 'previous');
      assert.deepEqual(
        backward.map((page) => idsOf(page.results)),
        forward.slice(0, -1).reverse().map((page) => idsOf(page.results)),
      );
      // The first page reached backwards links forward again to the second page.
      const first = backward.at(-1)!;
      assert.ok(first.next !== null);
      assert.deepEqual(idsOf(pageOf(await get(app, alice, pathOf(first.next))).results), idsOf(forward[1]!.results));
    });
  }

  test('when a filter and an ordering come with the cursor, then every page keeps them', async () => {
    const { app, alice } = fixture();
    const expected = await listIds(app, alice, '?completed=false&search=i&ordering=-due_date');
    assert.ok(expected.length >= 4);
    const pages = await walk(app, alice, '/api/tasks/?completed=false&search=i&ordering=-due_date&cursor=&page_size=2');
    assert.deepEqual(pages.flatMap((page) => idsOf(page.results)), expected);
    for (const page of pages.slice(0, -1)) {
      const params = new URL(page.next!).searchParams;
      assert.equal(params.get('completed'), 'false');
      assert.equal(params.get('search'), 'i');
      assert.equal(params.get('ordering'), '-due_date');
      assert.equal(params.get('page_size'), '2');
    }
  });

  test('when the tasks fit on exactly one page, then there are no links', async () => {
    const { app, alice } = fixture();
    const body = pageOf(await get(app, alice, '/api/tasks/?cursor=&page_size=11'));
    assert.equal(body.results.length, 11);
    assert.equal(body.next, null);
    assert.equal(body.previous, null);
  });

  test('when bob follows a link alice was given, then he sees only his own tasks', async () => {
    const { app, alice, bob } = fixture();
    const first = pageOf(await get(app, alice, '/api/tasks/?cursor=&page_size=2'));
    const response = await get(app, bob, pathOf(first.next!));
    assert.equal(response.statusCode, 200);
    const body = response.json() as Page;
    assert.ok(body.results.length > 0);
    assert.ok(body.results.every((task) => task.owner === bob.id));
  });

  test('when bob walks his cursor pages, then none of alice\'s tasks are in them', async () => {
    const { app, bob } = fixture();
    const pages = await walk(app, bob, '/api/tasks/?cursor=&page_size=2&ordering=title');
    const tasks = pages.flatMap((page) => page.results);
    assert.equal(tasks.length, 5);
    assert.ok(tasks.every((task) => task.owner === bob.id));
  });
});

describe(`[${dialectName}] cursor pages while tasks change`, () => {
  beforeEach(async () => {
    await reset(fixture());
  });

  const remove = (id: number) => fixture().app.inject({ method: 'DELETE', url: `/api/tasks/${id}/`, headers: fixture().alice.auth });
  const create = async (fields: Record<string, unknown>) => {
    const response = await fixture().app.inject({ method: 'POST', url: '/api/tasks/', headers: fixture().alice.auth, payload: fields });
    assert.equal(response.statusCode, 201);
    return (response.json() as { id: number }).id;
  };

  test('when tasks are inserted and deleted between pages, then no remaining task is repeated or skipped', async () => {
    const { app, alice, database } = fixture();
    const t = await seed(database, alice, [
      { due_date: '2026-01-01' },
      { due_date: '2026-01-02' },
      { due_date: '2026-01-03' },
      { due_date: '2026-01-04' },
      { due_date: '2026-01-05' },
      { due_date: '2026-01-06' },
      { due_date: null },
      { due_date: '2026-01-08' },
      { due_date: null },
    ]);
    const first = pageOf(await get(app, alice, '/api/tasks/?ordering=due_date&cursor=&page_size=3'));
    assert.deepEqual(idsOf(first.results), t.slice(0, 3));

    // Before the position: a new earliest task; the page's last task (the cursor's anchor) goes.
    await create({ title: 'Earliest', due_date: '2025-06-01' });
    assert.equal((await remove(t[2]!)).statusCode, 204);
    // After the position: one unseen task goes, new ones arrive between and after the rest.
    assert.equal((await remove(t[4]!)).statusCode, 204);
    const between = await create({ title: 'Between', due_date: '2026-01-05' });
    const undated = await create({ title: 'No date' });

    const rest = await walk(app, alice, pathOf(first.next!));
    const seen = [...idsOf(first.results), ...rest.flatMap((page) => idsOf(page.results))];
    assert.equal(new Set(seen).size, seen.length, `a task came twice: ${seen}`);
    assert.deepEqual(rest.flatMap((page) => idsOf(page.results)), [t[3], between, t[5], t[7], t[6], t[8], undated]);
  });

  test('when a task on the next page is deleted before it is read, then the next page starts at the task after it', async () => {
    const { app, alice, database } = fixture();
    const t = await seed(database, alice, Array.from({ length: 6 }, (_, index) => ({ title: `t${index}` })));
    const first = pageOf(await get(app, alice, '/api/tasks/?ordering=-title&cursor=&page_size=2'));
    assert.deepEqual(idsOf(first.results), [t[5], t[4]]);
    assert.equal((await remove(t[3]!)).statusCode, 204);
    const rest = await walk(app, alice, pathOf(first.next!));
    assert.deepEqual(rest.flatMap((page) => idsOf(page.results)), [t[2], t[1], t[0]]);
  });

  test('when a task is inserted before the current page, then following previous shows it and nothing twice', async () => {
    const { app, alice, database } = fixture();
    const t = await seed(database, alice, Array.from({ length: 6 }, (_, index) => ({ title: `t${index}` })));
    const pages = await walk(app, alice, '/api/tasks/?ordering=title&cursor=&page_size=2');
    assert.equal(pages.length, 3);
    const inserted = await create({ title: 't0a' });
    const back = await walk(app, alice, pathOf(pages[2]!.previous!), 'previous');
    const seen = back.reverse().flatMap((page) => idsOf(page.results));
    assert.deepEqual(seen, [t[0], inserted, t[1], t[2], t[3]]);
  });

  test('when a task is updated between pages ordered by -updated_at, then no other task is repeated or skipped', async () => {
    const { app, alice, database } = fixture();
    const t = await seed(database, alice, Array.from({ length: 6 }, () => ({})));
    const first = pageOf(await get(app, alice, '/api/tasks/?ordering=-updated_at&cursor=&page_size=2'));
    assert.deepEqual(idsOf(first.results), [t[5], t[4]]);
    const patched = await app.inject({ method: 'PATCH', url: `/api/tasks/${t[1]}/`, headers: alice.auth, payload: { title: 'moved to the front' } });
    assert.equal(patched.statusCode, 200);
    const rest = await walk(app, alice, pathOf(first.next!));
    assert.deepEqual(rest.flatMap((page) => idsOf(page.results)), [t[3], t[2], t[0]]);
  });

  test('when every task before the page is deleted, then following previous gives an empty page that still links forward', async () => {
    const { app, alice, database } = fixture();
    const t = await seed(database, alice, Array.from({ length: 4 }, () => ({})));
    const first = pageOf(await get(app, alice, '/api/tasks/?cursor=&page_size=2'));
    const second = pageOf(await get(app, alice, pathOf(first.next!)));
    assert.deepEqual(idsOf(second.results), [t[2], t[3]]);
    for (const id of [t[0]!, t[1]!]) assert.equal((await remove(id)).statusCode, 204);
    const back = pageOf(await get(app, alice, pathOf(second.previous!)));
    assert.deepEqual(back.results, []);
    assert.equal(back.previous, null);
    assert.ok(back.next !== null, 'an empty previous page must still link to the tasks after it');
    assert.deepEqual(idsOf(pageOf(await get(app, alice, pathOf(back.next))).results), [t[2], t[3]]);
  });

  test('when every task after the page is deleted, then following next gives an empty page that still links back', async () => {
    const { app, alice, database } = fixture();
    const t = await seed(database, alice, Array.from({ length: 4 }, () => ({})));
    const first = pageOf(await get(app, alice, '/api/tasks/?cursor=&page_size=2'));
    for (const id of [t[2]!, t[3]!]) assert.equal((await remove(id)).statusCode, 204);
    const after = pageOf(await get(app, alice, pathOf(first.next!)));
    assert.deepEqual(after.results, []);
    assert.equal(after.next, null);
    assert.ok(after.previous !== null, 'an empty next page must still link to the tasks before it');
    assert.deepEqual(idsOf(pageOf(await get(app, alice, pathOf(after.previous))).results), [t[0], t[1]]);
  });

  test('when the list is empty, then the first cursor page is empty with no links', async () => {
    const { app, alice } = fixture();
    const response = await get(app, alice, '/api/tasks/?cursor=');
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { next: null, previous: null, results: [] });
  });
});

describe(`[${dialectName}] invalid cursors`, () => {
  let nextByTitle: string;
  let nextByDueDate: string;
  let nextByCreatedAt: string;

  before(async () => {
    const { app, alice, database } = fixture();
    await reset(fixture());
    await seed(database, alice, [{ due_date: '2026-01-01' }, { due_date: '2026-01-02' }, { due_date: '2026-01-03' }]);
    const cursorOf = async (ordering: string) =>
      new URL(pageOf(await get(app, alice, `/api/tasks/?ordering=${ordering}&cursor=&page_size=1`)).next!).searchParams.get('cursor')!;
    nextByTitle = await cursorOf('title');
    nextByDueDate = await cursorOf('due_date');
    nextByCreatedAt = await cursorOf('created_at');
  });

  const reply = (query: string) => get(fixture().app, fixture().alice, `/api/tasks/${query}`);

  for (const cursor of ['garbage', '!!!', '1', 'eyJ9', 'bnVsbA', 'W10', 'eyJvIjoiaWQiLCJ2IjpbIngiXSwiYiI6MH0']) {
    test(`when the cursor is "${cursor}", then it is a 400 Invalid cursor`, async () => {
      const response = await reply(`?cursor=${cursor}`);
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), INVALID_CURSOR);
    });
  }

  test('when a cursor made for one ordering is used with another, then it is a 400 Invalid cursor', async () => {
    for (const query of [`?ordering=-title&cursor=${nextByTitle}`, `?cursor=${nextByTitle}`, `?ordering=due_date&cursor=${nextByTitle}`]) {
      const response = await reply(query);
      assert.equal(response.statusCode, 400, query);
      assert.deepEqual(response.json(), INVALID_CURSOR, query);
    }
  });

  test('when a valid cursor is cut short or changed, then it is a 400 Invalid cursor', async () => {
    for (const cursor of [nextByTitle.slice(0, -6), `${nextByTitle}AAAA`, `x${nextByTitle}`]) {
      const response = await reply(`?ordering=title&cursor=${cursor}`);
      assert.equal(response.statusCode, 400, cursor);
      assert.deepEqual(response.json(), INVALID_CURSOR, cursor);
    }
  });

  /** The issued cursor with each string value that looks like a date or timestamp replaced. */
  function forged(cursor: string, replace: (value: string) => string | undefined): string {
    const payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v: unknown[] };
    let changed = false;
    payload.v = payload.v.map((value) => {
      const replacement = typeof value === 'string' ? replace(value) : undefined;
      if (replacement === undefined) return value;
      changed = true;
      return replacement;
    });
    assert.ok(changed, 'the cursor carries no value to forge');
    return Buffer.from(JSON.stringify(payload)).toString('base64url');
  }

  test('when a cursor carries an impossible due date, then it is a 400 Invalid cursor, not a server error', async () => {
    const cursor = forged(nextByDueDate, (value) => (/^\d{4}-\d\d-\d\d$/.test(value) ? '2026-13-45' : undefined));
    const response = await reply(`?ordering=due_date&cursor=${cursor}`);
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), INVALID_CURSOR);
  });

  test('when a cursor carries an impossible timestamp, then it is a 400 Invalid cursor, not a server error', async () => {
    const cursor = forged(nextByCreatedAt, (value) => (/T/.test(value) ? '2026-99-99T99:99:99.000000Z' : undefined));
    const response = await reply(`?ordering=created_at&cursor=${cursor}`);
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), INVALID_CURSOR);
  });

  test('when an invalid cursor comes with a bad filter, then the filter error is reported', async () => {
    const response = await reply('?cursor=garbage&completed=maybe');
    assert.equal(response.statusCode, 400);
    assert.deepEqual((response.json() as Record<string, unknown>).completed, ['Must be a valid boolean.']);
  });
});
