/**
 * Lists every distinct way the hostile-request property fails, with one shrunk request each,
 * instead of stopping at the first: each failure found is shrunk, its kind (its problems with
 * the numbers taken out) is remembered and tolerated from then on, and the search goes on.
 *
 *   node --import tsx test/property/survey.ts [runs per search] [seed]
 *
 * with DATABASE_URL for PostgreSQL, as for the tests.
 */
import { test } from 'node:test';
import fc from 'fast-check';
import { PASSWORD, dialectName } from '../helpers.js';
import { Fixture } from './fixture.js';
import { requestPlan } from './generators.js';
import type { RequestPlan } from './plan.js';
import { routesOf } from './routes.js';
import { problemsOf, watchCrashes } from './property.js';

const runs = Number(process.argv[2] ?? 2000);
const firstSeed = Number(process.argv[3] ?? 1);

/**
 * The kinds of the problems in a failure, each with its particulars (numbers, quoted text)
 * left out; server errors, crashes and dropped connections are told apart by route and method.
 */
function kindsOf(problems: string[], plan: RequestPlan): string[] {
  const end = problems.findIndex((problem) => problem.startsWith('request:'));
  return (end === -1 ? problems : problems.slice(0, end))
    .filter((line) => !/^\s/.test(line))
    .map((problem) => {
      if (problem.startsWith('404 for ')) return `404 for a method on a URL that exists [${plan.route}]`;
      const shape = /not in the contract's shape: .*"(?:code|error)":"([^"]+)"/.exec(problem);
      if (shape) return `an error not in the contract's shape (${shape[1]})`;
      const kind = problem.replace(/\d+/g, '#').replace(/"[^"]*"/g, '"…"').replace(/: (.{0,40}).*$/s, ': $1');
      return /server error|unhandled|without a reply|no reply|failed|cut short|incomplete/.test(kind) ? `${kind} [${plan.method} ${plan.route}]` : kind;
    });
}

test(`[${dialectName}] survey of hostile-request failures`, async (t) => {
  const fixture = await Fixture.build(t);
  const { routes } = routesOf(fixture.app.swagger() as Parameters<typeof routesOf>[0]);
  const byPath = new Map(routes.map((route) => [route.path, route]));
  const crashes = watchCrashes(t);
  const known = new Set<string>();
  const arbitrary = requestPlan(routes, { usernames: fixture.usernames(), password: PASSWORD });
  let total = 0;
  for (let seed = firstSeed; ; seed++) {
    const result = await fc.check(
      fc.asyncProperty(arbitrary, async (plan) => {
        const problems = await problemsOf(fixture, plan, byPath.get(plan.route)!, crashes);
        const fresh = kindsOf(problems, plan).filter((kind) => !known.has(kind));
        if (fresh.length > 0) throw new Error(problems.join('\n'));
      }),
      { seed, numRuns: runs },
    );
    total += result.numRuns;
    if (!result.failed) break;
    const error = result.errorInstance as Error;
    const kinds = kindsOf(error.message.split('\n'), (result.counterexample as [RequestPlan])[0]).filter((kind) => !known.has(kind));
    for (const kind of kinds) known.add(kind);
    console.log(`\n=== new kind after ${total} runs (seed ${seed}, path ${result.counterexamplePath}): ${kinds.join(' | ')}`);
    console.log(`counterexample: ${fc.stringify(result.counterexample)}`);
    console.log(error.message);
  }
  console.log(`\n${known.size} kinds of problem in ${total} runs`);
});
