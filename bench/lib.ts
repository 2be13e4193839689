/**
 * Shared pieces of the benchmarks: building and starting the server in its own process, a
 * throw-away database, seeding over HTTP, and running autocannon with sub-millisecond latencies.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not ${raw}`);
  return value;
}

export const settings = {
  /** Seconds each measured run lasts. */
  duration: envNumber('BENCH_DURATION', 10),
  connections: envNumber('BENCH_CONNECTIONS', 32),
  /** Alternating runs of each server per endpoint; the median run is reported (shared VMs vary). */
  rounds: envNumber('BENCH_ROUNDS', 3),
  /** Seconds of unmeasured load before each measured run, so the JIT has settled. */
  warmup: envNumber('BENCH_WARMUP', 2),
};

// ---------------------------------------------------------------------------------------------
// Child processes: every one started here is ended on exit, also after an error or Ctrl-C.

const children = new Set<ChildProcess>();

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
const interruptCleanups = new Set<() => Promise<void>>();

/** Registers work to finish on Ctrl-C or SIGTERM (dropping a database, say); returns its remover. */
export function onInterrupt(cleanup: () => Promise<void>): () => void {
  interruptCleanups.add(cleanup);
  return () => interruptCleanups.delete(cleanup);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping`);
    for (const child of children) child.kill('SIGKILL');
    void Promise.allSettled([...interruptCleanups].map((cleanup) => cleanup())).then(() => process.exit(130));
  });
}

export interface Service {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `node <args>` with PORT set, and resolves once it answers HTTP. */
export async function startService(name: string, args: string[], env: Record<string, string>, cwd = ROOT): Promise<Service> {
  const port = await freePort();
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    process.stderr.write(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.once('exit', () => children.delete(child));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before listening:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${url} within 20 s`);
    try {
      await fetch(`${url}/`);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  return {
    url,
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Compiles src/ to dist/, as `npm run build` does for production. */
export function build(root = ROOT): void {
  const result = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error('the build failed');
}

/**
 * The Node flags the server runs with: those of `npm start` (the heap limits), unless
 * BENCH_SERVER_FLAGS gives others; plus a CPU profile with BENCH_CPU_PROF=<folder>.
 */
export function serverNodeFlags(): string[] {
  const start: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start;
  const fromStart = start.replace(/^node\s+/, '').replace(/\s*dist\/server\.js$/, '');
  const flags = (process.env.BENCH_SERVER_FLAGS ?? fromStart).split(' ').filter(Boolean);
  const profile = process.env.BENCH_CPU_PROF;
  if (profile) flags.push('--cpu-prof', `--cpu-prof-dir=${profile}`);
  return flags;
}

/** The production server from dist/ (of this checkout, or of `root`), on the given database. */
export function startApi(databaseUrl: string, extraEnv: Record<string, string> = {}, root = ROOT): Promise<Service> {
  return startService(root === ROOT ? 'the API server' : `the API server of ${root}`, [...serverNodeFlags(), 'dist/server.js'], {
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
    MIGRATE_ON_START: 'true',
    // One registration and (in the login benchmark) many logins come from one address.
    THROTTLE_REGISTER_ADDRESS: '1000000/60',
    ...extraEnv,
  }, root);
}

// ---------------------------------------------------------------------------------------------
// A fresh database: a SQLite file in a temporary folder, or a new PostgreSQL database when
// BENCH_DATABASE_URL=postgres://... names a server.

export interface BenchDatabase {
  url: string;
  label: string;
  /** A PostgreSQL server's postmaster on this machine, whose processes' CPU time is counted too. */
  serverPid?: number;
  drop(): Promise<void>;
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const server = process.env.BENCH_DATABASE_URL;
  if (server === undefined || server === '' || server.startsWith('sqlite:')) {
    const folder = mkdtempSync(join(tmpdir(), 'task-tracker-bench-'));
    return {
      url: `sqlite:${join(folder, 'bench.sqlite3')}`,
      label: 'SQLite (WAL, synchronous=FULL)',
      drop: async () => rmSync(folder, { recursive: true, force: true }),
    };
  }
  if (!/^postgres(ql)?:\/\//.test(server)) throw new Error('BENCH_DATABASE_URL must be postgres://... or sqlite:...');

  const admin = new URL(server);
  if (admin.pathname === '' || admin.pathname === '/') admin.pathname = '/postgres';
  const name = `task_tracker_bench_${process.pid}_${Date.now()}`;
  await adminQuery(admin.href, `CREATE DATABASE ${name}`);
  const target = new URL(admin.href);
  target.pathname = `/${name}`;
  return {
    url: target.href,
    label: `PostgreSQL (${target.host})`,
    serverPid: await postmasterPid(target.href),
    drop: () => adminQuery(admin.href, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/**
 * The postmaster of a server running on this machine: the parent of the backend that answers
 * a connection. Undefined for a remote server (its backend is no process here).
 */
async function postmasterPid(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    return Number(statFields(rows[0]!.pid)(4));
  } catch {
    return undefined;
  } finally {
    await client.end();
  }
}

export async function adminQuery(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Requests for seeding.

export interface Reply {
  status: number;
  /** The reply's headers, without those node:http writes itself (date, connection, length). */
  headers: Record<string, string>;
  text: string;
}

const WRITTEN_BY_NODE = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

export async function call(base: string, method: string, path: string, body?: unknown, token?: string): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== undefined) headers.authorization = `Token ${token}`;
  const response = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const replyHeaders = Object.fromEntries([...response.headers].filter(([name]) => !WRITTEN_BY_NODE.has(name)));
  return { status: response.status, headers: replyHeaders, text: await response.text() };
}

export async function expectOk(reply: Promise<Reply>, what: string): Promise<Reply> {
  const result = await reply;
  if (result.status < 200 || result.status > 299) throw new Error(`${what}: HTTP ${result.status} ${result.text}`);
  return result;
}

export const USER = { username: 'bench', email: 'bench@example.com', password: 'correct horse battery staple 42' };

/** Registers the benchmark user and logs in; returns the token. */
export async function registerAndLogin(base: string): Promise<string> {
  await expectOk(call(base, 'POST', '/api/register/', USER), 'register');
  const login = await expectOk(call(base, 'POST', '/api/login/', { username: USER.username, password: USER.password }), 'login');
  return (JSON.parse(login.text) as { token: string }).token;
}

// ---------------------------------------------------------------------------------------------
// Load.

export interface Target {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Connections for this target; settings.connections otherwise. */
  connections?: number;
  /** Load run at the same time, unmeasured but for its req/s (reads during a write flood). */
  during?: Target;
}

export interface Figures {
  /** 2xx responses per second. */
  rps: number;
  p50: number;
  p99: number;
  max: number;
  responses: number;
  /** Responses outside 2xx, plus connection errors and timeouts. */
  failures: number;
  /**
   * CPU time the server's process spent per 2xx response, in microseconds (all its threads,
   * user and kernel); undefined without /proc. It varies far less than req/s on a shared VM.
   */
  cpuMicroseconds?: number;
  /**
   * CPU time of the PostgreSQL server's processes per 2xx response, when it runs on this
   * machine: with the server's own, what a response costs the machine (other users of that
   * PostgreSQL server count too).
   */
  databaseCpuMicroseconds?: number;
  /** Cores the load generator (this process) kept busy during the run: its share of the machine. */
  loadGeneratorCores?: number;
  /** The figures of the target's `during` load, run at the same time. */
  during?: Figures;
}

/**
 * Runs autocannon against base + target. Latencies are taken from each response event in
 * microseconds, since autocannon's own histogram keeps whole milliseconds.
 */
export async function load(base: string, target: Target, connections: number, seconds: number): Promise<Figures> {
  const latencies = createHistogram();
  let failures = 0;
  const instance = autocannon(
    {
      url: base + target.path,
      method: target.method,
      headers: target.headers,
      body: target.body,
      connections,
      duration: seconds,
    },
    () => {},
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.record(Math.max(1, Math.round(responseTime * 1000)));
    else failures += 1;
  });
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance.on('done', resolve);
    instance.on('error', reject);
  });
  const ms = (microseconds: number) => microseconds / 1000;
  return {
    rps: latencies.count / result.duration,
    p50: ms(latencies.percentile(50)),
    p99: ms(latencies.percentile(99)),
    max: ms(latencies.max),
    responses: latencies.count,
    failures: failures + result.errors + result.timeouts,
  };
}

/** An unmeasured warm-up run, then the measured one, with the server's CPU time per response. */
export async function measure(
  server: Pick<Service, 'url' | 'pid'> & { databasePid?: number },
  target: Target,
  connections = target.connections ?? settings.connections,
): Promise<Figures> {
  /** The target's load, and its `during` load beside it. */
  const both = async (seconds: number) => {
    const { during } = target;
    const [figures, beside] = await Promise.all([
      load(server.url, target, connections, seconds),
      during && load(server.url, during, during.connections ?? settings.connections, seconds),
    ]);
    return { ...figures, during: beside };
  };
  await both(settings.warmup);
  const cpuBefore = cpuSeconds(server.pid);
  const databaseBefore = server.databasePid === undefined ? undefined : cpuSeconds(server.databasePid);
  const [ownBefore, startedAt] = [process.cpuUsage(), performance.now()];
  const figures = await both(settings.duration);
  const cpuAfter = cpuSeconds(server.pid);
  const databaseAfter = server.databasePid === undefined ? undefined : cpuSeconds(server.databasePid);
  const own = process.cpuUsage(ownBefore);
  figures.loadGeneratorCores = (own.user + own.system) / 1000 / (performance.now() - startedAt);
  // Per response of either load when there are two.
  const responses = figures.responses + (figures.during?.responses ?? 0);
  if (cpuBefore !== undefined && cpuAfter !== undefined && responses > 0) {
    figures.cpuMicroseconds = ((cpuAfter - cpuBefore) / responses) * 1e6;
  }
  if (databaseBefore !== undefined && databaseAfter !== undefined && responses > 0) {
    figures.databaseCpuMicroseconds = ((databaseAfter - databaseBefore) / responses) * 1e6;
  }
  return figures;
}

let clockTicks: number | undefined;

/** /proc/<pid>/stat, read once, as a lookup of its fields by their number in proc(5). */
function statFields(pid: number): (number: number) => string {
  // The command name (field 2) may hold spaces; the fields after it start with field 3.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)!.split(' ');
  return (number) => fields[number - 3]!;
}

/**
 * User plus system CPU seconds so far of a process and all its descendants (a cluster's
 * workers, PostgreSQL's backends), from /proc/<pid>/stat and /proc/<pid>/task/<tid>/children
 * (see proc(5)): the living ones' own times, and those of the ones that have exited, which
 * their parent's cutime and cstime hold once it has waited for them. Without the latter, a
 * backend that exits during a run (the pool closing an idle connection) took its whole CPU
 * time with it, and PostgreSQL's share of a run could come out negative.
 */
function cpuSeconds(pid: number): number | undefined {
  try {
    clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
    const field = statFields(pid);
    const [utime, stime, exitedChildren] = [Number(field(14)), Number(field(15)), Number(field(16)) + Number(field(17))];
    const children = readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
    return (utime + stime + exitedChildren) / clockTicks + children.reduce((sum, child) => sum + (cpuSeconds(child) ?? 0), 0);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Output.

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

export const fixed = (value: number, digits = 2) => value.toFixed(digits);
export const whole = (value: number) => Math.round(value).toString();

export function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${availableParallelism()} cores (${cpu})`;
}
