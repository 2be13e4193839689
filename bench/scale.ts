/**
 * Scale benchmark: the same requests against 10 users x 1,000 tasks and 1,000 users x 1,000
 * tasks, on SQLite and PostgreSQL, through the compiled server in its own process; each database
 * also holds as many shared lists as it has users with tasks, of 10 members and 150 tasks each
 * (seed-scale.ts, Layout). Reports req/s, p50/p99, the large/small latency ratio, the latency of
 * a member of 5 lists against a user in none, the server's peak resident memory, and the query
 * plans on the large database. `npm run bench:scale`; see bench/README.md.
 *
 * Environment: BENCH_SCALE_DATABASE=sqlite|postgres|both (both), BENCH_SCALE_SIZES=10x1000,1000x1000,
 * BENCH_SCALE_LISTS=1 (0: no lists), BENCH_SCALE_LIST_TASKS=150, BENCH_SCALE_ONLY=<text in the
 * scenario names>, BENCH_DURATION=10 and BENCH_WARMUP=2 (seconds per scenario),
 * BENCH_CONNECTIONS=32, BENCH_POSTGRES_URL (postgres://root@127.0.0.1:5432/postgres),
 * BENCH_CPU_PROF=<folder>, BENCH_SERVER_FLAGS (Node flags for the server).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { createHistogram } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { FastifyRequest } from 'fastify';
import { CompiledQuery, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs } from 'kysely';
import { createAccountsRepository } from '../src/accounts/repository.js';
import { tokenDigest } from '../src/accounts/tokens.js';
import { now } from '../src/db/clock.js';
import { createDatabase, type Database, type Dialect } from '../src/db/database.js';
import { listTasks } from '../src/tasks/listing.js';
import { parseTaskQuery } from '../src/tasks/query.js';
import { createTasksRepository } from '../src/tasks/repository.js';
import { build, onInterrupt, startApi, type Service } from './lib.js';
import { NOUNS, VERBS, layoutOf, listTaskId, listsOf, scaleToken, seedScale, type Layout, type Seeded } from './seed-scale.js';


const env = (name: string, fallback: string) => process.env[name] || fallback;
const DURATION = Number(env('BENCH_DURATION', '10'));
const WARMUP = Number(env('BENCH_WARMUP', '2'));
const CONNECTIONS = Number(env('BENCH_CONNECTIONS', '32'));
const DATABASES: Dialect[] = env('BENCH_SCALE_DATABASE', 'both') === 'both' ? ['sqlite', 'postgres'] : [env('BENCH_SCALE_DATABASE', '') as Dialect];
const SIZES = env('BENCH_SCALE_SIZES', '10x1000,1000x1000').split(',').map((size) => {
  const [users, tasks] = size.split('x').map(Number);
  if (!users || !tasks) throw new Error(`BENCH_SCALE_SIZES: "${size}" is not USERSxTASKS`);
  return { users, tasks };
});
const LISTS = env('BENCH_SCALE_LISTS', '1') !== '0';
const LIST_TASKS = Number(env('BENCH_SCALE_LIST_TASKS', '150'));
const ONLY = env('BENCH_SCALE_ONLY', '');
const RSS_LIMIT_MB = 200;
const RATIO_LIMIT = 2;

// ---------------------------------------------------------------------------------------------
// Scenarios: each request is for a random user, with that user's token.

interface Request {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
}

interface Scenario {
  name: string;
  /**
   * Whose requests: users in no list (personal tasks only), or users in 5 lists (their personal
   * tasks and 750 tasks of their lists with the default layout).
   */
  who: 'personal' | 'member';
  request(user: number, layout: Layout): Request;
}

const randomInt = (max: number) => 1 + Math.floor(Math.random() * max);
const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!;
const SEARCH_WORDS = ['invoice', 'meeting', 'garden', 'taxes', 'roadmap'];

const FIRST_PAGE = '/api/tasks/?page_size=50';
const FIRST_PAGE_BY_DUE_DATE = '/api/tasks/?ordering=due_date&page_size=50';
/** A member's request for one of the tasks of their lists. */
const listTask = (user: number, layout: Layout) => listTaskId(layout, pick(listsOf(layout, user)), randomInt(layout.listTasks) - 1);

const SCENARIOS: Scenario[] = [
  { name: 'page by due date', who: 'personal', request: () => ({ method: 'GET', path: `/api/tasks/?ordering=due_date&page_size=50&page=${randomInt(5)}` }) },
  { name: 'filtered page', who: 'personal', request: () => ({ method: 'GET', path: '/api/tasks/?completed=false&ordering=-due_date&limit=50' }) },
  { name: 'search', who: 'personal', request: () => ({ method: 'GET', path: `/api/tasks/?search=${pick(SEARCH_WORDS)}&page_size=50` }) },
  {
    name: 'detail',
    who: 'personal',
    request: (user, { tasksPerUser }) => ({ method: 'GET', path: `/api/tasks/${(user - 1) * tasksPerUser + randomInt(tasksPerUser)}/` }),
  },
  { name: 'first page', who: 'personal', request: () => ({ method: 'GET', path: FIRST_PAGE }) },
  { name: 'first page by due date', who: 'personal', request: () => ({ method: 'GET', path: FIRST_PAGE_BY_DUE_DATE }) },
  { name: 'first page, member of 5 lists', who: 'member', request: () => ({ method: 'GET', path: FIRST_PAGE }) },
  { name: 'first page by due date, member of 5 lists', who: 'member', request: () => ({ method: 'GET', path: FIRST_PAGE_BY_DUE_DATE }) },
  { name: 'detail of a list task, member of 5 lists', who: 'member', request: (user, layout) => ({ method: 'GET', path: `/api/tasks/${listTask(user, layout)}/` }) },
  {
    name: 'create',
    who: 'personal',
    request: () => ({
      method: 'POST',
      path: '/api/tasks/',
      body: JSON.stringify({ title: `${pick(VERBS)} the ${pick(NOUNS)}`, description: 'Made by the scale benchmark.', due_date: '2031-05-17' }),
    }),
  },
];

/** The page scenarios, whose large/small latency ratio has a target. */
const PAGE_SCENARIOS = ['page by due date', 'filtered page'];

/**
 * A member of 5 lists against a user in none, the same request at the same size: [member,
 * personal, whether the ratio has a target (at the largest size)].
 */
const MEMBER_PAIRS: [string, string, boolean][] = [
  ['first page, member of 5 lists', 'first page', true],
  ['first page by due date, member of 5 lists', 'first page by due date', true],
  ['detail of a list task, member of 5 lists', 'detail', false],
];

/** The scenarios a database with this layout can run, as BENCH_SCALE_ONLY narrows them. */
const scenariosFor = (layout: Layout) =>
  SCENARIOS.filter((scenario) => (scenario.who === 'personal' || layout.lists > 0) && scenario.name.includes(ONLY));

/** The users a scenario's requests are for: members 1..members, users in no list after them. */
const usersOf = (scenario: Scenario, layout: Layout): [number, number] =>
  scenario.who === 'member' ? [1, layout.members] : [layout.members + 1, layout.users];

// ---------------------------------------------------------------------------------------------
// The server's memory.

/** Samples VmRSS of a process every 200 ms; peak() is the largest sample, in MB. */
function sampleRss(pid: number) {
  const read = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  };
  let peak = 0;
  const sample = () => {
    try {
      peak = Math.max(peak, read('VmRSS'));
    } catch {
      // The process has exited.
    }
  };
  sample();
  const timer = setInterval(sample, 200);
  return {
    peak: () => peak,
    /** The kernel's own high-water mark, as a check on the sampling. */
    highWater: () => read('VmHWM'),
    stop: () => clearInterval(timer),
  };
}

// ---------------------------------------------------------------------------------------------
// Load.

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  responses: number;
  /** Non-2xx responses by status, plus connection errors and timeouts. */
  failures: Record<string, number>;
}

function load(url: string, scenario: Scenario, layout: Layout, seconds: number): Promise<Figures> {
  const [first, last] = usersOf(scenario, layout);
  const tokens = Array.from({ length: last - first + 1 }, (_, index) => scaleToken(first + index));
  const latencies = createHistogram();
  const failures: Record<string, number> = {};
  const instance = autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        setupRequest: (request) => {
          const user = first - 1 + randomInt(tokens.length);
          const { method, path, body } = scenario.request(user, layout);
          const headers: Record<string, string> = { authorization: `Token ${tokens[user - first]}` };
          if (body !== undefined) headers['content-type'] = 'application/json';
          return { ...request, method, path, headers, body: body ?? '' };
        },
      },
    ],
  }, () => {});
  instance.on('response', (_client, status, _bytes, milliseconds) => {
    if (status >= 200 && status < 300) latencies.record(Math.max(1, Math.round(milliseconds * 1000)));
    else failures[status] = (failures[status] ?? 0) + 1;
  });
  return new Promise((resolve, reject) => {
    instance.on('error', reject);
    instance.on('done', (result) => {
      if (result.errors) failures.errors = result.errors;
      if (result.timeouts) failures.timeouts = result.timeouts;
      resolve({
        rps: latencies.count / result.duration,
        p50: latencies.percentile(50) / 1000,
        p99: latencies.percentile(99) / 1000,
        responses: latencies.count,
        failures,
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Query plans, of the SQL the server's own code builds for each scenario.

/**
 * Records the statements executed through the database it is attached to: every query builder
 * passes through transformQuery (the parts of a UNION too, as they are composed), but only a
 * statement that runs comes back through transformResult, with its query id.
 */
class Recorder implements KyselyPlugin {
  private compiled = new Map<string, CompiledQuery>();
  private executed: CompiledQuery[] = [];
  constructor(private readonly database: Database) {}
  transformQuery({ node, queryId }: PluginTransformQueryArgs) {
    this.compiled.set(queryId.queryId, this.database.db.getExecutor().compileQuery(node, queryId));
    return node;
  }
  async transformResult({ result, queryId }: PluginTransformResultArgs) {
    const query = this.compiled.get(queryId.queryId);
    if (query) this.executed.push(query);
    return result;
  }
  take(): CompiledQuery[] {
    const queries = this.executed;
    this.executed = [];
    this.compiled.clear();
    return queries;
  }
}

/**
 * The values of a statement compiled by prepare(): its parameters are stand-ins that carry the
 * name they were declared with (database.ts, Parameter), each given its value by that name.
 */
function withValues(query: CompiledQuery, values: Record<string, unknown>): CompiledQuery {
  const parameters = query.parameters.map((parameter) => {
    if (typeof parameter !== 'object' || parameter === null || !('name' in parameter)) return parameter;
    const name = (parameter as { name: string }).name;
    if (!(name in values)) throw new Error(`no value for the parameter ${name} of ${query.sql}`);
    return values[name];
  });
  return { ...query, parameters };
}

class Rollback extends Error {}

async function queryPlans(databaseUrl: string, layout: Layout): Promise<string> {
  const { members, users, tasksPerUser, lists } = layout;
  // A user in no list, and a member of 5 lists (when there are lists).
  const user = Math.ceil((members + 1 + users) / 2);
  const member = Math.ceil(members / 2);
  const database = createDatabase(databaseUrl);
  try {
    const recorder = new Recorder(database);
    // The hot statements as prepare() compiles them, with its stand-ins for their parameters.
    const prepared: CompiledQuery[] = [];
    const recording: Database = {
      ...database,
      db: database.db.withPlugin(recorder),
      prepare: (build) =>
        database.prepare((parameters) => {
          const query = build(parameters);
          prepared.push(query.compile());
          return query;
        }),
    };
    createAccountsRepository(recording);
    const [session] = prepared.splice(0);
    const tasks = createTasksRepository(recording);
    const [byId] = prepared.splice(0);
    recorder.take();

    const statements: [string, CompiledQuery][] = [
      ['authentication (every request)', withValues(session!, { digest: tokenDigest(scaleToken(user)), now: now() })],
      [`detail (user ${user})`, withValues(byId!, { userId: user, id: (user - 1) * tasksPerUser + 17 })],
    ];
    if (lists > 0) {
      const id = listTaskId(layout, listsOf(layout, member)[2]!, 17);
      statements.push([`detail of a list task (member ${member})`, withValues(byId!, { userId: member, id })]);
    }
    const pages: [string, number, string][] = [
      ['page by due date', user, 'ordering=due_date&page_size=50&page=3'],
      ['filtered page', user, 'completed=false&ordering=-due_date&limit=50'],
      ['search', user, 'search=invoice&page_size=50'],
      ['first page', user, 'page_size=50'],
    ];
    if (lists > 0) {
      pages.push(['first page, member of 5 lists', member, 'page_size=50'], ['first page by due date, member of 5 lists', member, 'ordering=due_date&page_size=50']);
    }
    for (const [name, userId, query] of pages) {
      const raw = Object.fromEntries(new URLSearchParams(query));
      const request = { url: `/api/tasks/?${query}`, protocol: 'http', host: 'localhost' } as FastifyRequest;
      await listTasks(request, tasks, { userId }, parseTaskQuery(raw));
      // The count and the rows run at once (they may end in either order): the count first.
      const isCount = (query: CompiledQuery) => /count\(\*\)/.test(query.sql);
      for (const compiled of recorder.take().sort((a, b) => Number(isCount(b)) - Number(isCount(a)))) {
        statements.push([`${name} (${userId === user ? 'user' : 'member'} ${userId}): ${isCount(compiled) ? 'count' : 'rows'}`, compiled]);
      }
    }
    // The create's INSERT as the repository builds it, recorded in a transaction that is rolled back.
    try {
      await recording.db.transaction().execute(async (trx) => {
        await tasks.create(trx, { userId: user }, { title: 'Plan', description: 'Made by the scale benchmark.', due_date: '2031-05-17' }, now());
        throw new Rollback();
      });
    } catch (error) {
      if (!(error instanceof Rollback)) throw error;
    }
    const insert = recorder.take().find((query) => /^insert/.test(query.sql));
    if (insert) statements.push([`create (user ${user}; run and rolled back on PostgreSQL, whose EXPLAIN ANALYZE executes it)`, insert]);

    const sections: string[] = [];
    for (const [name, query] of statements) {
      const plan = await explain(database, query);
      sections.push(`-- ${name}\n${query.sql}\n-- parameters: ${JSON.stringify(query.parameters)}\n${plan}`);
    }
    return sections.join('\n\n');
  } finally {
    await database.close();
  }
}

async function explain(database: Database, query: CompiledQuery): Promise<string> {
  if (database.dialect === 'sqlite') {
    const result = await database.db.executeQuery<{ id: number; parent: number; detail: string }>(
      CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]),
    );
    const depth = new Map<number, number>([[0, -1]]);
    return result.rows
      .map((row) => {
        depth.set(row.id, (depth.get(row.parent) ?? -1) + 1);
        return `${'  '.repeat(depth.get(row.id)!)}${row.detail}`;
      })
      .join('\n');
  }
  return database.db.connection().execute(async (connection) => {
    await connection.executeQuery(CompiledQuery.raw('begin'));
    try {
      const result = await connection.executeQuery<{ 'QUERY PLAN': string }>(
        CompiledQuery.raw(`explain (analyze, buffers, costs off) ${query.sql}`, [...query.parameters]),
      );
      return result.rows.map((row) => row['QUERY PLAN']).join('\n');
    } finally {
      await connection.executeQuery(CompiledQuery.raw('rollback'));
    }
  });
}

// ---------------------------------------------------------------------------------------------

interface Run {
  dialect: Dialect;
  layout: Layout;
  seedSeconds: number;
  figures: Map<string, Figures>;
  peakRssMb: number;
  highWaterMb: number;
  /** The machine's load average (1, 5, 15 minutes) when the run's last scenario ended. */
  loadAverage: number[];
  plans?: string;
}

const describe = ({ users, tasksPerUser, lists, listTasks, totalUsers }: Layout) =>
  `${users} users x ${tasksPerUser} tasks` + (lists > 0 ? ` + ${lists} lists x ${listTasks} tasks (${totalUsers} users)` : '');

async function benchmark(dialect: Dialect, layout: Layout, withPlans: boolean): Promise<Run> {
  console.log(`\n== ${dialect}, ${describe(layout)}: seeding ...`);
  let seeded: Seeded | undefined;
  let server: Service | undefined;
  let forgetDrop = () => {};
  try {
    seeded = await seedScale(dialect, layout);
    forgetDrop = onInterrupt(seeded.drop);
    console.log(`seeded in ${seeded.seconds.toFixed(1)} s`);
    server = await startApi(seeded.url, {
      THROTTLE_LOGIN_USERNAME: '1000000/60',
      THROTTLE_LOGIN_ADDRESS: '1000000/60',
    });
    const rss = sampleRss(server.pid);
    const figures = new Map<string, Figures>();
    for (const scenario of scenariosFor(layout)) {
      const [first, last] = usersOf(scenario, layout);
      process.stdout.write(`${scenario.name} (users ${first}-${last}) ... `);
      if (WARMUP > 0) await load(server.url, scenario, layout, WARMUP);
      const result = await load(server.url, scenario, layout, DURATION);
      figures.set(scenario.name, result);
      const failed = Object.entries(result.failures).map(([kind, count]) => `${count} x ${kind}`).join(', ');
      console.log(`${Math.round(result.rps)} req/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms${failed ? `, FAILURES: ${failed}` : ''}`);
    }
    rss.stop();
    const run: Run = {
      dialect,
      layout,
      seedSeconds: seeded.seconds,
      figures,
      peakRssMb: rss.peak(),
      highWaterMb: rss.highWater(),
      loadAverage: loadavg(),
    };
    console.log(`peak RSS ${run.peakRssMb.toFixed(0)} MB (VmHWM ${run.highWaterMb.toFixed(0)} MB); load average ${run.loadAverage.map((value) => value.toFixed(1)).join(' ')}`);
    if (withPlans) run.plans = await queryPlans(seeded.url, layout);
    return run;
  } finally {
    await server?.stop();
    if (seeded) {
      await seeded.drop();
      forgetDrop();
    }
  }
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const size = ({ layout }: Run) => (layout.users * layout.tasksPerUser).toLocaleString('en');

function report(runs: Run[]): boolean {
  let met = true;
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  console.log(`\n# Scale benchmark\n\n${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${availableParallelism()} cores (${cpu}); ` +
    `${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s per scenario; ` +
    `load average at the end ${loadavg().map((value) => value.toFixed(1)).join(' ')}\n`);
  for (const dialect of DATABASES) {
    const mine = runs.filter((run) => run.dialect === dialect);
    const small = mine[0]!;
    const large = mine.at(-1)!;
    const header = ['scenario', ...mine.flatMap((run) => [`req/s @${size(run)}`, `p50 ms`, `p99 ms`])];
    if (mine.length > 1) header.push('p50 ratio', 'p99 ratio');
    const names = SCENARIOS.map(({ name }) => name).filter((name) => mine.some((run) => run.figures.has(name)));
    const rows = names.map((name) => {
      const cells = [name];
      for (const run of mine) {
        const figures = run.figures.get(name);
        if (figures === undefined) {
          cells.push('-', '-', '-');
          continue;
        }
        const failures = Object.values(figures.failures).reduce((sum, count) => sum + count, 0);
        if (failures > 0) met = false;
        cells.push(`${Math.round(figures.rps)}${failures ? ` (${failures} failed)` : ''}`, figures.p50.toFixed(2), figures.p99.toFixed(2));
      }
      if (mine.length > 1) {
        const [a, b] = [small.figures.get(name), large.figures.get(name)];
        if (a && b) {
          const ratios = [b.p50 / a.p50, b.p99 / a.p99];
          if (PAGE_SCENARIOS.includes(name) && ratios.some((ratio) => ratio > RATIO_LIMIT)) met = false;
          cells.push(...ratios.map((ratio) => `${ratio.toFixed(2)}x`));
        } else {
          cells.push('-', '-');
        }
      }
      return cells;
    });
    console.log(`## ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}\n\n${table(header, rows)}\n`);

    // A member of 5 lists against a user in none, at each size.
    const pairs = MEMBER_PAIRS.filter(([member, personal]) => mine.some((run) => run.figures.has(member) && run.figures.has(personal)));
    if (pairs.length > 0) {
      const pairRows = pairs.map(([member, personal, target]) => {
        const cells = [`${member} / ${personal}`];
        for (const run of mine) {
          const [m, p] = [run.figures.get(member), run.figures.get(personal)];
          if (!m || !p) {
            cells.push('-', '-');
            continue;
          }
          const ratios = [m.p50 / p.p50, m.p99 / p.p99];
          if (target && run === large && ratios.some((ratio) => ratio > RATIO_LIMIT)) met = false;
          cells.push(...ratios.map((ratio) => `${ratio.toFixed(2)}x`));
        }
        return cells;
      });
      const pairHeader = ['member / personal', ...mine.flatMap((run) => [`p50 @${size(run)}`, `p99 @${size(run)}`])];
      console.log(`${table(pairHeader, pairRows)}\n`);
    }
    for (const run of mine) {
      if (run.peakRssMb >= RSS_LIMIT_MB) met = false;
      console.log(`- ${describe(run.layout)}: seeded in ${run.seedSeconds.toFixed(1)} s; server peak RSS ${run.peakRssMb.toFixed(0)} MB ` +
        `(VmHWM ${run.highWaterMb.toFixed(0)} MB); load average after its last scenario ${run.loadAverage.map((value) => value.toFixed(1)).join(' ')}`);
    }
    if (large.plans) console.log(`\n### Query plans, ${size(large)} tasks\n\n\`\`\`\n${large.plans}\n\`\`\`\n`);
  }
  if (runs.every((run) => run.figures.size === 0)) {
    console.log('No scenario was run (BENCH_SCALE_ONLY): no targets checked.');
    return true;
  }
  console.log(`Targets (page latency within ${RATIO_LIMIT}x from the smallest to the largest size and for a member of 5 lists ` +
    `against a user in none, RSS < ${RSS_LIMIT_MB} MB, no failures): ${met ? 'met' : 'NOT met'}`);
  return met;
}

async function main(): Promise<void> {
  console.log('Building dist/ ...');
  build();
  const runs: Run[] = [];
  for (const dialect of DATABASES) {
    for (const [index, { users, tasks }] of SIZES.entries()) {
      // As many lists as users with tasks: a member of 5 lists sees 5 x BENCH_SCALE_LIST_TASKS shared tasks at every size.
      const layout = layoutOf(users, tasks, LISTS ? users : 0, LIST_TASKS);
      runs.push(await benchmark(dialect, layout, index === SIZES.length - 1));
    }
  }
  if (!report(runs)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
