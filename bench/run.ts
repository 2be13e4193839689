/**
 * Throughput and latency of the main endpoints over real HTTP, each next to a bare node:http
 * server giving the same responses. `npm run bench`; see bench/README.md.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CannedResponse } from './bare-server.js';
import {
  build,
  call,
  createBenchDatabase,
  expectOk,
  fixed,
  machine,
  measure,
  registerAndLogin,
  settings,
  startApi,
  startService,
  table,
  whole,
  type BenchDatabase,
  type Figures,
  type Reply,
  type Service,
  type Target,
} from './lib.js';

const TASKS = 20;
const NEW_TASK = { title: 'Write the quarterly report', description: 'Numbers from the three teams.', due_date: '2030-01-15' };
const CHANGE = { title: 'Write the yearly report', completed: true };
const READS_DURING_WRITES = 'GET /api/tasks/<id>/ during POSTs';

/**
 * BENCH_BASELINE=<folder>: another checkout of the project (say, `git worktree add /tmp/base
 * main`, with its dependencies installed), built and run beside this one on a database of its
 * own, each round measuring this build, that build and the bare server one after another.
 */
const baselineRoot = process.env.BENCH_BASELINE;

/**
 * BENCH_WORKERS=<n>: this build once more, as a cluster of n worker processes
 * (WEB_CONCURRENCY=n) on a database of its own, measured in each round beside the others.
 */
const workers = process.env.BENCH_WORKERS;

/** A server measured in each round, with its own seeded targets and the runs so far. */
interface Contender {
  label: string;
  service: Service;
  /** The postmaster of its PostgreSQL database, when on this machine. */
  databasePid?: number;
  targets: Map<string, Target>;
  runs: Figures[];
}

async function main(): Promise<void> {
  console.log('Building dist/ ...');
  build();
  if (baselineRoot) build(baselineRoot);
  const databases: BenchDatabase[] = [];
  const services: Service[] = [];
  const cannedFile = join(tmpdir(), `task-tracker-bare-responses-${process.pid}.json`);
  /** Starts a server on a fresh database and seeds it: one user with TASKS tasks. */
  const contender = async (label: string, env: Record<string, string> = {}, root?: string) => {
    const database = await createBenchDatabase();
    databases.push(database);
    const service = await startApi(database.url, env, root);
    services.push(service);
    const seeded = await seed(service.url);
    const contender: Contender = { label, service, databasePid: database.serverPid, targets: new Map(seeded.targets), runs: [] };
    return { contender, seeded, database };
  };
  try {
    const { contender: ours, seeded, database } = await contender('ours');
    const others: Contender[] = [];
    if (baselineRoot) others.push((await contender('baseline', {}, baselineRoot)).contender);
    if (workers) others.push((await contender(`${workers} workers`, { WEB_CONCURRENCY: workers })).contender);

    writeFileSync(cannedFile, JSON.stringify(seeded.canned));
    const bareService = await startService('the bare server', ['bench/bare-server.ts', cannedFile], {});
    services.push(bareService);
    const bare: Contender = { label: 'bare', service: bareService, targets: ours.targets, runs: [] };
    const contenders = [ours, ...others, bare];
    const labels = contenders.map((each) => each.label).join('/');

    console.log(
      `\n${machine()}\nDatabase: ${database.label}; ${settings.connections} connections, ` +
        `${settings.warmup} s warm-up + ${settings.duration} s per run, ${settings.rounds} alternating runs ` +
        'per server and endpoint; the table shows each server\'s median run and the median of the rounds\' ratios\n',
    );
    const rows: string[][] = [];
    // BENCH_ONLY=<text>: run only the endpoints whose name contains it, e.g. BENCH_ONLY=GET.
    const only = process.env.BENCH_ONLY ?? '';
    for (const [name] of seeded.targets.filter(([name]) => name.includes(only))) {
      process.stdout.write(`${name}:`);
      for (const each of contenders) each.runs = [];
      // Alternating the servers spreads the machine's drifts over all of them.
      for (let round = 0; round < settings.rounds; round += 1) {
        for (const each of contenders) each.runs.push(await measure({ ...each.service, databasePid: each.databasePid }, each.targets.get(name)!));
        process.stdout.write(` ${contenders.map((each) => whole(each.runs.at(-1)!.rps)).join('/')}`);
      }
      console.log(` req/s (${labels})`);
      const cpuOf = (index: number) => contenders.map((each) => cpu(each.runs[index]!)).join('/');
      console.log(`  CPU µs per response (${labels}): ${ours.runs.map((_run, index) => cpuOf(index)).join(' ')}`);
      if (ours.runs[0]!.databaseCpuMicroseconds !== undefined) {
        const measured = contenders.filter((each) => each.databasePid !== undefined);
        const ofDatabase = (index: number) => measured.map((each) => cpu(each.runs[index]!, 'databaseCpuMicroseconds')).join('/');
        const names = measured.map((each) => each.label).join('/');
        console.log(`  PostgreSQL's CPU µs per response (${names}): ${ours.runs.map((_run, index) => ofDatabase(index)).join(' ')}`);
      }
      if (ours.runs[0]!.during !== undefined) {
        const writes = (index: number) => contenders.map((each) => whole(each.runs[index]!.during!.rps)).join('/');
        console.log(`  POST req/s at the same time (${labels}): ${ours.runs.map((_run, index) => writes(index)).join(' ')}`);
      }
      const generator = (index: number) => contenders.map((each) => fixed(each.runs[index]!.loadGeneratorCores ?? 0, 1)).join('/');
      console.log(`  cores used by the load generator (${labels}): ${ours.runs.map((_run, index) => generator(index)).join(' ')}`);
      for (const other of others) {
        const median = medianRun(other.runs);
        console.log(
          `  ${other.label}: median ${whole(median.rps)} req/s, p99 ${fixed(median.p99)} ms, CPU ${medianCpu(other.runs)} µs per response, ` +
            `${whole(medianRatio(other.runs, ours.runs) * 100)}% of ours`,
        );
      }
      for (const each of contenders) warnOnFailures(name, each);
      const [median, bareMedian] = [medianRun(ours.runs), medianRun(bare.runs)];
      rows.push([
        name,
        whole(median.rps),
        fixed(median.p50),
        fixed(median.p99),
        whole(bareMedian.rps),
        fixed(bareMedian.p50),
        fixed(bareMedian.p99),
        `${whole(medianRatio(ours.runs, bare.runs) * 100)}%`,
        medianCpu(ours.runs),
        medianCpu(bare.runs),
      ]);
    }
    console.log(
      '\n' +
        table(
          ['endpoint', 'req/s', 'p50 ms', 'p99 ms', 'bare req/s', 'bare p50', 'bare p99', 'ours/bare', 'CPU µs', 'bare CPU µs'],
          rows,
        ),
    );
  } finally {
    for (const service of services.reverse()) await service.stop();
    for (const database of databases) await database.drop();
    rmSync(cannedFile, { force: true });
  }
}

/**
 * One user with TASKS tasks. Returns the benchmarked requests in the order they run (creation
 * last, so the list keeps TASKS tasks) and, for the bare server, the API's reply to each.
 */
async function seed(base: string): Promise<{ targets: [string, Target][]; canned: CannedResponse[] }> {
  const token = await registerAndLogin(base);
  let created;
  for (let index = 1; index <= TASKS; index += 1) {
    const body = { ...NEW_TASK, title: `Task ${index}` };
    created = await expectOk(call(base, 'POST', '/api/tasks/', body, token), 'create a task');
  }
  const id = (JSON.parse(created!.text) as { id: number }).id;
  const detailPath = `/api/tasks/${id}/`;
  const patched = await expectOk(call(base, 'PATCH', detailPath, CHANGE, token), 'change a task');
  const list = await expectOk(call(base, 'GET', '/api/tasks/', undefined, token), 'list tasks');
  const detail = await expectOk(call(base, 'GET', detailPath, undefined, token), 'read a task');
  const createdOne = await expectOk(call(base, 'POST', '/api/tasks/', NEW_TASK, token), 'create a task');
  // That last creation was only to record its reply; remove it so the list stays at TASKS.
  const extraId = (JSON.parse(createdOne.text) as { id: number }).id;
  await expectOk(call(base, 'DELETE', `/api/tasks/${extraId}/`, undefined, token), 'delete a task');

  const auth = { authorization: `Token ${token}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const targets: [string, Target][] = [
    ['GET /api/tasks/ (20 tasks)', { method: 'GET', path: '/api/tasks/', headers: auth }],
    ['GET /api/tasks/<id>/', { method: 'GET', path: detailPath, headers: auth }],
    ['PATCH /api/tasks/<id>/', { method: 'PATCH', path: detailPath, headers: json, body: JSON.stringify(CHANGE) }],
    ['POST /api/tasks/', { method: 'POST', path: '/api/tasks/', headers: json, body: JSON.stringify(NEW_TASK) }],
  ];
  // Reads at 8 connections while 32 others create tasks as fast as the server takes them.
  const [, detailRead] = targets[1]!;
  const [, creation] = targets[3]!;
  targets.push([READS_DURING_WRITES, { ...detailRead, connections: 8, during: creation }]);
  const reply = (method: string, path: string, { status, headers, text }: Reply): CannedResponse =>
    ({ method, path, status, headers, body: text });
  const canned = [
    reply('GET', '/api/tasks/', list),
    reply('GET', detailPath, detail),
    reply('PATCH', detailPath, patched),
    reply('POST', '/api/tasks/', createdOne),
  ];
  return { targets, canned };
}

/** The run with the median requests/s (the upper one of an even count). */
function medianRun(runs: Figures[]): Figures {
  return [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]!;
}

/**
 * The median of each round's ours/bare ratio: a round's two runs follow each other, so they
 * share the machine's conditions, which the two median runs need not.
 */
function medianRatio(ours: Figures[], reference: Figures[]): number {
  const ratios = ours.map((run, index) => run.rps / reference[index]!.rps).sort((a, b) => a - b);
  return ratios[Math.floor(ratios.length / 2)]!;
}

const cpu = (run: Figures, figure: 'cpuMicroseconds' | 'databaseCpuMicroseconds' = 'cpuMicroseconds') =>
  run[figure] === undefined ? '-' : whole(run[figure]);

/** The median of the runs' server CPU time per response, which is steadier than their req/s. */
function medianCpu(runs: Figures[]): string {
  const values = runs.flatMap((run) => (run.cpuMicroseconds === undefined ? [] : [run.cpuMicroseconds])).sort((a, b) => a - b);
  return values.length === 0 ? '-' : whole(values[Math.floor(values.length / 2)]!);
}

function warnOnFailures(name: string, { label, runs }: Contender): void {
  const failed = runs.reduce((sum, run) => sum + run.failures, 0);
  if (failed > 0) console.warn(`  warning: ${name}: ${failed} failed requests on ${label}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
