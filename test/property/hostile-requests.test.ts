import { describe, test } from 'node:test';
import fc from 'fast-check';
import { PASSWORD, dialectName } from '../helpers.js';
import { Fixture } from './fixture.js';
import { requestPlan } from './generators.js';
import { problemsOf, watchCrashes } from './property.js';
import { routesOf } from './routes.js';

/**
 * CI runs a fixed seed and a bounded count (about half a minute per database on a two-core
 * machine); FUZZ_SEED and FUZZ_RUNS change them, and `npm run test:fuzz` runs thousands.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

describe(`[${dialectName}] hostile requests to every route`, () => {
  test('when any request, however malformed, reaches any route, then the reply is a 2xx-4xx in the contract\'s shape, the server still answers, and only the caller\'s own successful writes change the database', async (t) => {
    const fixture = await Fixture.build(t);
    const { routes, unlisted } = routesOf(fixture.app.swagger() as Parameters<typeof routesOf>[0]);
    if (unlisted.length > 0) t.diagnostic(`fuzzed with generic values, no entry in test/property/routes.ts: ${unlisted.join(', ')}`);
    const byPath = new Map(routes.map((route) => [route.path, route]));
    const knowledge = { usernames: fixture.usernames(), password: PASSWORD };
    const crashes = watchCrashes(t);

    const property = fc.asyncProperty(requestPlan(routes, knowledge), async (plan) => {
      const route = byPath.get(plan.route)!;
      const problems = await problemsOf(fixture, plan, route, crashes);
      if (problems.length > 0) throw new Error(problems.join('\n'));
    });
    t.diagnostic(`seed ${SEED}, ${RUNS} runs`);
    await fc.assert(property, { seed: SEED, numRuns: RUNS });
  });
});

