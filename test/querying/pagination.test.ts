import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import { dialectName } from '../helpers.js';
import { get, idsOf, listIds, pageOf, pathOf, queryFixture, reset, seed, walk, type Page } from './support.js';

const fixture = queryFixture();

/** Absolute http(s) URL to the task list, with these query parameters and no others. */
function assertLink(link: string | null, params: Record<string, string>): void {
  assert.ok(link !== null, 'expected a link');
  assert.match(link, /^https?:\/\/[^/]+\/api\/tasks\/(\?|$)/);
  assert.deepEqual(Object.fromEntries(new URL(link).searchParams), params);
}

describe(`[${dialectName}] page-number pagination`, () => {
  let t: number[];

  before(async () => {
    const f = fixture();
    await reset(f);
    t = await seed(f.database, f.alice, Array.from({ length: 7 }, (_, index) => ({ title: `Task ${index + 1}`, completed: index % 2 === 1 })));
    await seed(f.database, f.bob, Array.from({ length: 4 }, () => ({ title: 'Bob task' })));
  });

  const page = async (query: string) => pageOf(await get(fixture().app, fixture().alice, `/api/tasks/${query}`));

  test('when no pagination parameter is given, then the reply is a plain array', async () => {
    assert.deepEqual(await listIds(fixture().app, fixture().alice, ''), t);
  });

  test('when page_size is given, then the first page comes in the DRF envelope with an absolute next link', async () => {
    const response = await get(fixture().app, fixture().alice, '/api/tasks/?page_size=3');
    assert.equal(response.statusCode, 200);
    const body = response.json() as Page;
    assert.deepEqual(Object.keys(body), ['count', 'next', 'previous', 'results']);
    assert.equal(body.count, 7);
    assert.deepEqual(idsOf(body.results), t.slice(0, 3));
    assertLink(body.next, { page_size: '3', page: '2' });
    assert.equal(body.previous, null);
  });

  test('when asking for a middle page, then it links to the pages on both sides', async () => {
    const body = await page('?page=2&page_size=3');
    assert.equal(body.count, 7);
    assert.deepEqual(idsOf(body.results), t.slice(3, 6));
    assertLink(body.next, { page: '3', page_size: '3' });
    assert.ok(body.previous !== null);
    assert.deepEqual(idsOf((await page(pathOf(body.previous).slice('/api/tasks/'.length))).results), t.slice(0, 3));
  });

  test('when asking for the last page, then it has the remaining tasks and no next link', async () => {
    const body = await page('?page=3&page_size=3');
    assert.deepEqual(idsOf(body.results), t.slice(6));
    assert.equal(body.next, null);
    assertLink(body.previous, { page: '2', page_size: '3' });
  });

  test('when asking for a page past the end, then it is a 404 Invalid page', async () => {
    for (const query of ['?page=4&page_size=3', '?page=2', '?page=99&page_size=7']) {
      const response = await get(fixture().app, fixture().alice, `/api/tasks/${query}`);
      assert.equal(response.statusCode, 404, query);
      assert.deepEqual(response.json(), { detail: 'Invalid page.' }, query);
    }
  });

  test('when following next links from the first page, then every task comes exactly once in order', async () => {
    const pages = await walk(fixture().app, fixture().alice, '/api/tasks/?page_size=2');
    assert.deepEqual(pages.map((p) => p.results.length), [2, 2, 2, 1]);
    assert.deepEqual(pages.flatMap((p) => idsOf(p.results)), t);
    assert.ok(pages.every((p) => p.count === 7));
  });

  test('when following previous links from the last page, then the pages come back in reverse', async () => {
    const pages = await walk(fixture().app, fixture().alice, '/api/tasks/?page=4&page_size=2', 'previous');
    assert.deepEqual(pages.map((p) => idsOf(p.results)), [t.slice(6), t.slice(4, 6), t.slice(2, 4), t.slice(0, 2)]);
  });

  test('when page is given without page_size, then pages hold 50 tasks', async () => {
    const body = await page('?page=1');
    assert.equal(body.count, 7);
    assert.deepEqual(idsOf(body.results), t);
    assert.equal(body.next, null);
    assert.equal(body.previous, null);
  });

  test('when a filter and an ordering come with page numbers, then count, order and links respect them', async () => {
    const open = [t[6]!, t[4]!, t[2]!, t[0]!];
    const first = await page('?completed=false&ordering=-id&page_size=3');
    assert.equal(first.count, 4);
    assert.deepEqual(idsOf(first.results), open.slice(0, 3));
    assertLink(first.next, { completed: 'false', ordering: '-id', page_size: '3', page: '2' });
    const pages = await walk(fixture().app, fixture().alice, '/api/tasks/?completed=false&ordering=-id&page_size=3');
    assert.deepEqual(pages.flatMap((p) => idsOf(p.results)), open);
    const back = await walk(fixture().app, fixture().alice, pathOf(first.next!), 'previous');
    assert.deepEqual(back.map((p) => idsOf(p.results)), [open.slice(3), open.slice(0, 3)]);
  });

  test('when a search matches nothing, then page 1 is an empty page and page 2 is invalid', async () => {
    assert.deepEqual(await page('?search=nothing&page=1'), { count: 0, next: null, previous: null, results: [] });
    const response = await get(fixture().app, fixture().alice, '/api/tasks/?search=nothing&page=2');
    assert.equal(response.statusCode, 404);
    assert.deepEqual(response.json(), { detail: 'Invalid page.' });
  });

  test('when bob pages through his list, then the count and results are his alone', async () => {
    const { app, bob } = fixture();
    const body = pageOf(await get(app, bob, '/api/tasks/?page_size=10'));
    assert.equal(body.count, 4);
    assert.ok(body.results.every((task) => task.owner === bob.id));
  });
});

describe(`[${dialectName}] following the previous link back to the first page`, () => {
  let t: number[];

  before(async () => {
    const f = fixture();
    await reset(f);
    t = await seed(f.database, f.alice, Array.from({ length: 55 }, () => ({})));
  });

  test('when page 2 was asked without page_size, then its previous link still gives the first page in the envelope', async () => {
    const { app, alice } = fixture();
    const second = pageOf(await get(app, alice, '/api/tasks/?page=2'));
    assert.deepEqual(idsOf(second.results), t.slice(50));
    assert.ok(second.previous !== null);
    const response = await get(app, alice, pathOf(second.previous));
    assert.equal(response.statusCode, 200);
    const first = response.json() as Page;
    assert.ok(!Array.isArray(first), `the previous link ${second.previous} gave a plain array, not the first page`);
    assert.deepEqual(Object.keys(first), ['count', 'next', 'previous', 'results']);
    assert.equal(first.count, 55);
    assert.equal(first.previous, null);
    assert.deepEqual(idsOf(first.results), t.slice(0, 50));
  });

  test('when the offset was smaller than the limit, then the previous link gives the first tasks in the envelope', async () => {
    const { app, alice } = fixture();
    const body = pageOf(await get(app, alice, '/api/tasks/?offset=2'));
    assert.deepEqual(idsOf(body.results), t.slice(2, 52));
    assertLink(body.previous, { limit: '50' });
    const first = pageOf(await get(app, alice, pathOf(body.previous!)));
    assert.equal(first.count, 55);
    assert.deepEqual(idsOf(first.results), t.slice(0, 50));
  });
});

describe(`[${dialectName}] limit/offset pagination`, () => {
  let t: number[];

  before(async () => {
    const f = fixture();
    await reset(f);
    t = await seed(f.database, f.alice, Array.from({ length: 7 }, (_, index) => ({ title: `Task ${index + 1}`, due_date: index < 4 ? `2026-0${7 - index}-01` : null })));
    await seed(f.database, f.bob, Array.from({ length: 3 }, () => ({})));
  });

  const page = async (query: string) => pageOf(await get(fixture().app, fixture().alice, `/api/tasks/${query}`));

  test('when limit is given, then the first tasks come in the envelope with a next link', async () => {
    const response = await get(fixture().app, fixture().alice, '/api/tasks/?limit=3');
    assert.equal(response.statusCode, 200);
    const body = response.json() as Page;
    assert.deepEqual(Object.keys(body), ['count', 'next', 'previous', 'results']);
    assert.equal(body.count, 7);
    assert.deepEqual(idsOf(body.results), t.slice(0, 3));
    assertLink(body.next, { limit: '3', offset: '3' });
    assert.equal(body.previous, null);
  });

  test('when limit and offset point into the middle, then both links are set', async () => {
    const body = await page('?limit=3&offset=3');
    assert.deepEqual(idsOf(body.results), t.slice(3, 6));
    assertLink(body.next, { limit: '3', offset: '6' });
    assertLink(body.previous, { limit: '3' });
  });

  test('when the offset reaches the last tasks, then there is no next link', async () => {
    const body = await page('?limit=3&offset=6');
    assert.deepEqual(idsOf(body.results), t.slice(6));
    assert.equal(body.next, null);
    assertLink(body.previous, { limit: '3', offset: '3' });
  });

  test('when offset is given without limit, then up to 50 tasks follow the offset', async () => {
    const body = await page('?offset=5');
    assert.equal(body.count, 7);
    assert.deepEqual(idsOf(body.results), t.slice(5));
  });

  test('when following next links, then every task comes exactly once, and previous links walk back', async () => {
    const pages = await walk(fixture().app, fixture().alice, '/api/tasks/?limit=2');
    assert.deepEqual(pages.flatMap((p) => idsOf(p.results)), t);
    const back = await walk(fixture().app, fixture().alice, pathOf(pages.at(-2)!.next!), 'previous');
    assert.deepEqual(back.map((p) => idsOf(p.results)), [t.slice(6), t.slice(4, 6), t.slice(2, 4), t.slice(0, 2)]);
  });

  test('when a filter and an ordering come with limit/offset, then count, order and links respect them', async () => {
    // Dated tasks by due date: t[3] (04-01), t[2] (05-01), t[1] (06-01), t[0] (07-01).
    const body = await page('?has_due_date=true&ordering=due_date&limit=2&offset=1');
    assert.equal(body.count, 4);
    assert.deepEqual(idsOf(body.results), [t[2], t[1]]);
    assertLink(body.next, { has_due_date: 'true', ordering: 'due_date', limit: '2', offset: '3' });
    assertLink(body.previous, { has_due_date: 'true', ordering: 'due_date', limit: '2' });
    const rest = await page(pathOf(body.next!).slice('/api/tasks/'.length));
    assert.deepEqual(idsOf(rest.results), [t[0]]);
  });

  test('when ordering by -due_date with limit/offset, then undated tasks come last across pages', async () => {
    const pages = await walk(fixture().app, fixture().alice, '/api/tasks/?ordering=-due_date&limit=3');
    assert.deepEqual(pages.flatMap((p) => idsOf(p.results)), [t[0], t[1], t[2], t[3], t[6], t[5], t[4]]);
  });

  test('when bob uses limit/offset, then the count and results are his alone', async () => {
    const { app, bob } = fixture();
    const body = pageOf(await get(app, bob, '/api/tasks/?limit=100&offset=0'));
    assert.equal(body.count, 3);
    assert.ok(body.results.every((task) => task.owner === bob.id));
  });
});

describe(`[${dialectName}] the page size cap`, () => {
  let t: number[];

  before(async () => {
    const f = fixture();
    await reset(f);
    t = await seed(f.database, f.alice, Array.from({ length: 1003 }, () => ({})));
  });

  test('when page_size asks for more than 1000, then pages of 1000 are served', async () => {
    const { app, alice } = fixture();
    const first = pageOf(await get(app, alice, '/api/tasks/?page_size=5000'));
    assert.equal(first.count, 1003);
    assert.deepEqual(idsOf(first.results), t.slice(0, 1000));
    assert.ok(first.next !== null);
    const second = pageOf(await get(app, alice, pathOf(first.next)));
    assert.deepEqual(idsOf(second.results), t.slice(1000));
  });

  test('when limit asks for more than 1000, then 1000 tasks are served', async () => {
    const { app, alice } = fixture();
    const body = pageOf(await get(app, alice, '/api/tasks/?limit=1001'));
    assert.equal(body.count, 1003);
    assert.equal(body.results.length, 1000);
    assertLink(body.next, { limit: '1000', offset: '1000' });
  });

  test('when a cursor page asks for more than 1000, then 1000 tasks are served', async () => {
    const { app, alice } = fixture();
    const pages = await walk(app, alice, '/api/tasks/?cursor=&page_size=999999');
    assert.deepEqual(pages.map((p) => p.results.length), [1000, 3]);
    assert.deepEqual(pages.flatMap((p) => idsOf(p.results)), t);
  });

  test('when exactly 1000 is asked, then exactly 1000 are served', async () => {
    const { app, alice } = fixture();
    assert.equal(pageOf(await get(app, alice, '/api/tasks/?page_size=1000')).results.length, 1000);
  });
});

describe(`[${dialectName}] bad pagination values`, () => {
  beforeEach(async () => {
    await reset(fixture());
    await seed(fixture().database, fixture().alice, [{}, {}]);
  });
  const reply = (query: string) => get(fixture().app, fixture().alice, `/api/tasks/${query}`);

  for (const [name, query] of [
    ['page', '?page=0'],
    ['page', '?page=-1'],
    ['page', '?page=abc'],
    ['page', '?page=1.5'],
    ['page', '?page='],
    ['page_size', '?page_size=0'],
    ['page_size', '?page_size=-5'],
    ['page_size', '?page_size=ten'],
    ['page_size', '?page=1&page_size='],
    ['page_size', '?cursor=&page_size=0'],
    ['page_size', '?cursor=&page_size=x'],
    ['limit', '?limit=0'],
    ['limit', '?limit=abc'],
    ['limit', '?limit=-1'],
    ['offset', '?offset=-1'],
    ['offset', '?limit=5&offset=x'],
    ['offset', '?limit=5&offset=99999999999999999999'],
  ] as const) {
    test(`when asking for ${query}, then it is a 400 naming ${name}`, async () => {
      const response = await reply(query);
      assert.equal(response.statusCode, 400);
      const body = response.json() as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), [name]);
      assert.ok(Array.isArray(body[name]) && (body[name] as unknown[]).every((m) => typeof m === 'string'));
    });
  }

  for (const query of [
    '?page=1&limit=5',
    '?page=1&offset=5',
    '?page_size=5&limit=5',
    '?page=1&cursor=',
    '?limit=5&cursor=',
    '?offset=0&cursor=',
  ]) {
    test(`when mixing kinds of pagination (${query}), then it is a 400`, async () => {
      const response = await reply(query);
      assert.equal(response.statusCode, 400);
      const body = response.json() as Record<string, unknown>;
      assert.ok(!('results' in body));
      assert.equal(typeof body.detail, 'string');
    });
  }
});
