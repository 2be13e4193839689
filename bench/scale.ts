/**
 * Scale benchmark: the same requests against 10 users x 1,000 tasks and 1,000 users x 1,000
 * tasks, on SQLite and PostgreSQL, through the compiled server in its own process. Reports
 * req/s, p50/p99, the large/small latency ratio, the server's peak resident memory, and the
 * query plans on the large database. `npm run bench:scale`; see bench/README.md.
 *
 * Environment: BENCH_SCALE_DATABASE=sqlite|postgres|both (both), BENCH_SCALE_SIZES=10x1000,1000x1000,
 * BENCH_DURATION=10 and BENCH_WARMUP=2 (seconds per scenario), BENCH_CONNECTIONS=32,
 * BENCH_POSTGRES_URL (postgres://root@127.0.0.1:5432/postgres), BENCH_CPU_PROF=<folder>,
 * BENCH_SERVER_FLAGS (Node flags for the server).
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
import { NOUNS, VERBS, scaleToken, seedScale, type Seeded } from './seed-scale.js';


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
  request(user: number, tasksPerUser: number): Request;
}

const randomInt = (max: number) => 1 + Math.floor(Math.random() * max);
const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!;
const SEARCH_WORDS = ['invoice', 'meeting', 'garden', 'taxes', 'roadmap'];

const SCENARIOS: Scenario[] = [
  { name: 'page by due date', request: () => ({ method: 'GET', path: `/api/tasks/?ordering=due_date&page_size=50&page=${randomInt(5)}` }) },
  { name: 'filtered page', request: () => ({ method: 'GET', path: '/api/tasks/?completed=false&ordering=-due_date&limit=50' }) },
  { name: 'search', request: () => ({ method: 'GET', path: `/api/tasks/?search=${pick(SEARCH_WORDS)}&page_size=50` }) },
  { name: 'detail', request: (user, tasks) => ({ method: 'GET', path: `/api/tasks/${(user - 1) * tasks + randomInt(tasks)}/` }) },
  {
    name: 'create',
    request: () => ({
      method: 'POST',
      path: '/api/tasks/',
      body: JSON.stringify({ title: `${pick(VERBS)} the ${pick(NOUNS)}`, description: 'Made by the scale benchmark.', due_date: '2031-05-17' }),
    }),
  },
];

/** The page scenarios, whose large/small latency ratio has a target. */
const PAGE_SCENARIOS = ['page by due date', 'filtered page'];

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

function load(url: string, scenario: Scenario, users: number, tasksPerUser: number, seconds: number): Promise<Figures> {
  const tokens = Array.from({ length: users }, (_, index) => scaleToken(index + 1));
  const latencies = createHistogram();
  const failures: Record<string, number> = {};
  const instance = autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        setupRequest: (request) => {
          const user = randomInt(users);
          const { method, path, body } = scenario.request(user, tasksPerUser);
          const headers: Record<string, string> = { authorization: `Token ${tokens[user - 1]}` };
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

/** Records every query compiled through the database it is attached to. */
class Recorder implements KyselyPlugin {
  queries: CompiledQuery[] = [];
  constructor(private readonly database: Database) {}
  transformQuery({ node, queryId }: PluginTransformQueryArgs) {
    this.queries.push(this.database.db.getExecutor().compileQuery(node, queryId));
    return node;
  }
  async transformResult({ result }: PluginTransformResultArgs) {
    return result;
  }
  take(): CompiledQuery[] {
    const queries = this.queries;
    this.queries = [];
    return queries;
  }
}

async function queryPlans(databaseUrl: string, user: number, tasksPerUser: number): Promise<string> {
  const database = createDatabase(databaseUrl);
  try {
    const recorder = new Recorder(database);
    const recording: Database = { ...database, db: database.db.withPlugin(recorder) };
    createAccountsRepository(recording);
    const [session] = recorder.take();
    const tasks = createTasksRepository(recording);
    const [byId] = recorder.take();

    const statements: [string, CompiledQuery][] = [
      ['authentication (every request)', { ...session!, parameters: [tokenDigest(scaleToken(user)), now()] }],
      ['detail', { ...byId!, parameters: [user, (user - 1) * tasksPerUser + 17] }],
    ];
    for (const [name, query] of [
      ['page by due date', 'ordering=due_date&page_size=50&page=3'],
      ['filtered page', 'completed=false&ordering=-due_date&limit=50'],
      ['search', 'search=invoice&page_size=50'],
    ] as const) {
      const raw = Object.fromEntries(new URLSearchParams(query));
      const request = { url: `/api/tasks/?${query}`, protocol: 'http', host: 'localhost' } as FastifyRequest;
      await listTasks(request, tasks, { userId: user }, parseTaskQuery(raw));
      for (const compiled of recorder.take()) {
        statements.push([`${name}: ${/count\(\*\)/.test(compiled.sql) ? 'count' : 'rows'}`, compiled]);
      }
    }

    const sections: string[] = [];
    for (const [name, query] of statements) {
      const plan = await explain(database, query);
      sections.push(`-- ${name}\n${query.sql}\n-- parameters: ${JSON.stringify(query.parameters)}\n${plan}`);
    }
    // The create's INSERT, run and rolled back on PostgreSQL (EXPLAIN ANALYZE executes it).
    const insert = database.db
      .insertInto('tasks')
      .values({ owner_id: user, title: 'Plan', description: '', due_date: null, completed: false, created_at: now(), updated_at: now(), title_folded: 'plan' })
      .returning(['id'])
      .compile();
    sections.push(`-- create\n${insert.sql}\n${await explain(database, insert)}`);
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
  users: number;
  tasksPerUser: number;
  seedSeconds: number;
  figures: Map<string, Figures>;
  peakRssMb: number;
  highWaterMb: number;
  plans?: string;
}

async function benchmark(dialect: Dialect, users: number, tasksPerUser: number, withPlans: boolean): Promise<Run> {
  const label = `${dialect}, ${users} users x ${tasksPerUser} tasks`;
  console.log(`\n== ${label}: seeding ...`);
  let seeded: Seeded | undefined;
  let server: Service | undefined;
  let forgetDrop = () => {};
  try {
    seeded = await seedScale(dialect, users, tasksPerUser);
    forgetDrop = onInterrupt(seeded.drop);
    console.log(`seeded in ${seeded.seconds.toFixed(1)} s`);
    server = await startApi(seeded.url, {
      THROTTLE_LOGIN_USERNAME: '1000000/60',
      THROTTLE_LOGIN_ADDRESS: '1000000/60',
    });
    const rss = sampleRss(server.pid);
    const figures = new Map<string, Figures>();
    for (const scenario of SCENARIOS) {
      process.stdout.write(`${scenario.name} ... `);
      if (WARMUP > 0) await load(server.url, scenario, users, tasksPerUser, WARMUP);
      const result = await load(server.url, scenario, users, tasksPerUser, DURATION);
      figures.set(scenario.name, result);
      const failed = Object.entries(result.failures).map(([kind, count]) => `${count} x ${kind}`).join(', ');
      console.log(`${Math.round(result.rps)} req/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms${failed ? `, FAILURES: ${failed}` : ''}`);
    }
    rss.stop();
    const run: Run = {
      dialect,
      users,
      tasksPerUser,
      seedSeconds: seeded.seconds,
      figures,
      peakRssMb: rss.peak(),
      highWaterMb: rss.highWater(),
    };
    console.log(`peak RSS ${run.peakRssMb.toFixed(0)} MB (VmHWM ${run.highWaterMb.toFixed(0)} MB); load average ${loadavg()[0]!.toFixed(1)}`);
    if (withPlans) run.plans = await queryPlans(seeded.url, Math.ceil(users / 2), tasksPerUser);
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
    const size = (run: Run) => `${(run.users * run.tasksPerUser).toLocaleString('en')}`;
    const header = ['scenario', ...mine.flatMap((run) => [`req/s @${size(run)}`, `p50 ms`, `p99 ms`])];
    if (mine.length > 1) header.push('p50 ratio', 'p99 ratio');
    const rows = SCENARIOS.map(({ name }) => {
      const cells = [name];
      for (const run of mine) {
        const figures = run.figures.get(name)!;
        const failures = Object.values(figures.failures).reduce((sum, count) => sum + count, 0);
        if (failures > 0) met = false;
        cells.push(`${Math.round(figures.rps)}${failures ? ` (${failures} failed)` : ''}`, figures.p50.toFixed(2), figures.p99.toFixed(2));
      }
      if (mine.length > 1) {
        const [a, b] = [small.figures.get(name)!, large.figures.get(name)!];
        const ratios = [b.p50 / a.p50, b.p99 / a.p99];
        if (PAGE_SCENARIOS.includes(name) && ratios.some((ratio) => ratio > RATIO_LIMIT)) met = false;
        cells.push(...ratios.map((ratio) => `${ratio.toFixed(2)}x`));
      }
      return cells;
    });
    console.log(`## ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}\n\n${table(header, rows)}\n`);
    for (const run of mine) {
      if (run.peakRssMb >= RSS_LIMIT_MB) met = false;
      console.log(`- ${size(run)} tasks: seeded in ${run.seedSeconds.toFixed(1)} s; server peak RSS ${run.peakRssMb.toFixed(0)} MB (VmHWM ${run.highWaterMb.toFixed(0)} MB)`);
    }
    if (large.plans) console.log(`\n### Query plans, ${size(large)} tasks\n\n\`\`\`\n${large.plans}\n\`\`\`\n`);
  }
  console.log(`Targets (page latency within ${RATIO_LIMIT}x, RSS < ${RSS_LIMIT_MB} MB, no failures): ${met ? 'met' : 'NOT met'}`);
  return met;
}

async function main(): Promise<void> {
  console.log('Building dist/ ...');
  build();
  const runs: Run[] = [];
  for (const dialect of DATABASES) {
    for (const [index, { users, tasks }] of SIZES.entries()) {
      runs.push(await benchmark(dialect, users, tasks, index === SIZES.length - 1));
    }
  }
  if (!report(runs)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
