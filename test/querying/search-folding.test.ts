import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createTask, dialectName } from '../helpers.js';
import { get, listIds, queryFixture, reset } from './support.js';

const fixture = queryFixture();

/**
 * Letters whose case mappings differ between JavaScript, the C library and Unicode's tables.
 * The expectations are the same on both databases, whatever PostgreSQL's locale: searches
 * compare text folded by the application, never by the database.
 */
describe(`[${dialectName}] search folds letter case the same way on both databases`, () => {
  const titles = {
    istanbulCapital: 'İstanbul trip',
    istanbulSmall: 'istanbul hotel',
    strasse: 'Straße fegen',
    strasseCapitals: 'GROSSE STRASSE',
    capitalSharpS: 'ẞ is a capital',
    odosCapitals: 'ΟΔΟΣ',
    odosFinal: 'οδος και',
    sisyphus: 'Σίσυφος',
    ligature: 'eﬀort',
    effortCapitals: 'EFFORT plan',
    moscow: 'Москва',
    moscowCapitals: 'МОСКВА-река',
    athens: 'Αθήνα',
    rocket: '🚀 Launch',
    cafeComposed: 'café',
    cafeDecomposed: 'cafe\u0301 noir',
    plain: 'plain',
  };
  type Name = keyof typeof titles;
  let ids: Record<Name, number>;

  before(async () => {
    const f = fixture();
    await reset(f);
    ids = {} as Record<Name, number>;
    // Created through the API, so the text is folded exactly as the server writes it.
    for (const [name, title] of Object.entries(titles) as [Name, string][]) {
      const description = name === 'plain' ? 'Meet in İZMİR' : '';
      ids[name] = (await createTask(f.app, f.alice, { title, description })).id;
    }
    await createTask(f.app, f.bob, { title: 'İstanbul for bob' });
  });

  const found = async (term: string) => listIds(fixture().app, fixture().alice, `?search=${encodeURIComponent(term)}`);
  const expect = (...names: Name[]) => names.map((name) => ids[name]).sort((a, b) => a - b);

  const cases: [string, Name[]][] = [
    ['istanbul', ['istanbulCapital', 'istanbulSmall']],
    ['İSTANBUL', ['istanbulCapital', 'istanbulSmall']],
    ['İstanbul', ['istanbulCapital', 'istanbulSmall']],
    ['straße', ['strasse', 'strasseCapitals']],
    ['STRASSE', ['strasse', 'strasseCapitals']],
    ['ß', ['strasse', 'strasseCapitals', 'capitalSharpS']],
    ['ẞ', ['strasse', 'strasseCapitals', 'capitalSharpS']],
    ['οδος', ['odosCapitals', 'odosFinal']],
    ['ΟΔΟΣ', ['odosCapitals', 'odosFinal']],
    ['οδοσ', ['odosCapitals', 'odosFinal']],
    ['ς', ['odosCapitals', 'odosFinal', 'sisyphus']],
    ['Σ', ['odosCapitals', 'odosFinal', 'sisyphus']],
    ['ΣΊΣΥΦΟΣ', ['sisyphus']],
    ['ﬀ', ['ligature', 'effortCapitals']],
    ['effort', ['ligature', 'effortCapitals']],
    ['москва', ['moscow', 'moscowCapitals']],
    ['МОСКВ', ['moscow', 'moscowCapitals']],
    ['ΑΘΉΝΑ', ['athens']],
    ['🚀', ['rocket']],
    ['LAUNCH', ['rocket']],
    ['café', ['cafeComposed', 'cafeDecomposed']],
    ['CAFÉ', ['cafeComposed', 'cafeDecomposed']],
    ['cafe\u0301', ['cafeComposed', 'cafeDecomposed']],
    ['izmir', ['plain']],
    ['İzmir', ['plain']],
  ];
  for (const [term, names] of cases) {
    test(`when searching for ${JSON.stringify(term)}, then exactly ${names.join(', ')} come back`, async () => {
      assert.deepEqual(await found(term), expect(...names));
    });
  }

  test('when the same search is asked for in pages, then the count and the results are the same tasks', async () => {
    const reply = await get(fixture().app, fixture().alice, `/api/tasks/?search=${encodeURIComponent('İSTANBUL')}&page_size=1`);
    assert.equal(reply.statusCode, 200);
    assert.equal(reply.json().count, 2);
    assert.deepEqual(reply.json().results.map((task: { id: number }) => task.id), [ids.istanbulCapital]);
  });

  test('when a title or description is changed, then searches find the new text and no longer the old', async () => {
    const { app, alice } = fixture();
    const task = await createTask(app, alice, { title: 'Temporary ΣΟΦΙΑ' });
    assert.deepEqual(await found('σοφια'), [task.id]);
    const patched = await app.inject({ method: 'PATCH', url: `/api/tasks/${task.id}/`, headers: alice.auth, payload: { title: 'Renamed' } });
    assert.equal(patched.statusCode, 200);
    assert.deepEqual(await found('σοφια'), []);
    const replaced = await app.inject({ method: 'PUT', url: `/api/tasks/${task.id}/`, headers: alice.auth, payload: { title: 'Renamed', description: 'GROẞE Pläne' } });
    assert.equal(replaced.statusCode, 200);
    assert.deepEqual(await found('grosse pläne'), [task.id]);
    assert.deepEqual(await found('Renamed'), [task.id]);
    await app.inject({ method: 'DELETE', url: `/api/tasks/${task.id}/`, headers: alice.auth });
  });

  test('when the search term holds LIKE or escape characters, then they match only themselves', async () => {
    const { app, alice } = fixture();
    const percent = await createTask(app, alice, { title: '100% done_now \\ really' });
    for (const term of ['%', '_', '\\', '% done_', '0% D']) assert.deepEqual(await found(term), [percent.id], term);
    assert.deepEqual(await found('%%'), []);
    await app.inject({ method: 'DELETE', url: `/api/tasks/${percent.id}/`, headers: alice.auth });
  });
});
