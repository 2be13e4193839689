/**
 * A sustained mixed workload against a running server: many users reading, creating, changing
 * and deleting their tasks and logging in, over a fixed number of concurrent connections. Each
 * user's requests are made one at a time, so the client knows exactly what the server must
 * hold; afterwards every user's tasks are compared with that. At most `connections` requests
 * are in flight, so fetch's keep-alive pool holds at most that many connections.
 */
import { readFileSync } from 'node:fs';

export interface LoadOptions {
  base: string;
  /** The server's process, whose memory is sampled every second. */
  pid: number;
  users: number;
  connections: number;
  seconds: number;
  password: string;
}

type Operation = 'list' | 'read' | 'create' | 'update' | 'delete' | 'login';

/** How often each operation is chosen, out of 100. */
const MIX: [Operation, number][] = [
  ['list', 30],
  ['read', 25],
  ['create', 18],
  ['update', 15],
  ['delete', 8],
  ['login', 4],
];

interface TaskState {
  title: string;
  completed: boolean;
}

interface User {
  username: string;
  token: string;
  tasks: Map<number, TaskState>;
  busy: boolean;
}

export interface LoadReport {
  requests: number;
  /** Replies other than the expected 2xx, and requests that got no reply. */
  errors: string[];
  serverErrors: number;
  latencies: Record<Operation | 'all', { count: number; p50: number; p99: number; max: number }>;
  /** Resident memory of the server, MiB: once a second. */
  residentMiB: number[];
  /** Differences between what clients were told and what the server holds afterwards. */
  mismatches: string[];
  tasksAtEnd: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const errors: string[] = [];
  let serverErrors = 0;
  let requests = 0;
  const samples = new Map<Operation, number[]>(MIX.map(([operation]) => [operation, []]));

  async function call(operation: Operation | 'setup', method: string, path: string, token: string | undefined, body: unknown, expected: number) {
    const started = performance.now();
    try {
      const response = await fetch(options.base + path, {
        method,
        headers: { ...(token ? { authorization: `Token ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      requests += 1;
      if (operation !== 'setup') samples.get(operation)!.push(performance.now() - started);
      if (response.status >= 500) serverErrors += 1;
      if (response.status !== expected) {
        errors.push(`${method} ${path}: ${response.status} ${text.slice(0, 120)}`);
        return undefined;
      }
      return text === '' ? null : (JSON.parse(text) as unknown);
    } catch (error) {
      errors.push(`${method} ${path}: ${(error as Error).message}`);
      return undefined;
    }
  }

  const users: User[] = [];
  const stamp = Date.now().toString(36);
  await Promise.all(
    Array.from({ length: options.users }, async (_, index) => {
      const username = `load_${stamp}_${index}`;
      await call('setup', 'POST', '/api/register/', undefined, { username, password: options.password }, 201);
      const login = (await call('setup', 'POST', '/api/login/', undefined, { username, password: options.password }, 200)) as { token: string } | undefined;
      if (login) users.push({ username, token: login.token, tasks: new Map(), busy: false });
    }),
  );
  if (users.length !== options.users) throw new Error(`setting up the users failed: ${errors.slice(0, 5).join('; ')}`);

  const residentMiB: number[] = [];
  const sampler = setInterval(() => residentMiB.push(residentOf(options.pid)), 1000);
  const deadline = Date.now() + options.seconds * 1000;
  let sequence = 0;

  async function step(user: User): Promise<void> {
    const ids = [...user.tasks.keys()];
    const someId = ids[Math.floor(Math.random() * ids.length)];
    let operation = pick();
    // Without tasks, reads and changes of one task become creations.
    if (someId === undefined && (operation === 'read' || operation === 'update' || operation === 'delete')) operation = 'create';
    // Keep each user's list short enough that listing stays a fair read.
    if (operation === 'create' && ids.length >= 40) operation = 'delete';
    sequence += 1;
    switch (operation) {
      case 'list': {
        const listed = (await call(operation, 'GET', '/api/tasks/', user.token, undefined, 200)) as unknown[] | undefined;
        if (listed && listed.length !== user.tasks.size) errors.push(`${user.username}: listed ${listed.length} tasks, expected ${user.tasks.size}`);
        return;
      }
      case 'read': {
        const task = (await call(operation, 'GET', `/api/tasks/${someId}/`, user.token, undefined, 200)) as TaskState | undefined;
        const known = user.tasks.get(someId!)!;
        if (task && (task.title !== known.title || task.completed !== known.completed)) errors.push(`${user.username}: task ${someId} read back changed`);
        return;
      }
      case 'create': {
        const title = `Task ${sequence}`;
        const created = (await call(operation, 'POST', '/api/tasks/', user.token, { title, description: 'Made under load.', due_date: '2030-01-01' }, 201)) as { id: number } | undefined;
        if (created) user.tasks.set(created.id, { title, completed: false });
        return;
      }
      case 'update': {
        const change = { title: `Task ${sequence} (changed)`, completed: sequence % 2 === 0 };
        if (await call(operation, 'PATCH', `/api/tasks/${someId}/`, user.token, change, 200)) user.tasks.set(someId!, change);
        return;
      }
      case 'delete': {
        if ((await call(operation, 'DELETE', `/api/tasks/${someId}/`, user.token, undefined, 204)) === null) user.tasks.delete(someId!);
        return;
      }
      case 'login': {
        await call(operation, 'POST', '/api/login/', undefined, { username: user.username, password: options.password }, 200);
        return;
      }
    }
  }

  /** One connection's loop: take a user nobody is using, make one request as them, repeat. */
  async function worker(): Promise<void> {
    while (Date.now() < deadline) {
      const free = users.filter((user) => !user.busy);
      const user = free[Math.floor(Math.random() * free.length)];
      if (user === undefined) {
        await new Promise((done) => setImmediate(done));
        continue;
      }
      user.busy = true;
      try {
        await step(user);
      } finally {
        user.busy = false;
      }
    }
  }
  await Promise.all(Array.from({ length: options.connections }, worker));
  clearInterval(sampler);

  const mismatches: string[] = [];
  let tasksAtEnd = 0;
  for (const user of users) {
    const stored = ((await call('setup', 'GET', '/api/tasks/', user.token, undefined, 200)) ?? []) as ({ id: number } & TaskState)[];
    tasksAtEnd += stored.length;
    const told = [...user.tasks].map(([id, task]) => ({ id, ...task })).sort((a, b) => a.id - b.id);
    const held = stored.map(({ id, title, completed }) => ({ id, title, completed }));
    if (JSON.stringify(held) !== JSON.stringify(told)) mismatches.push(`${user.username}: the server holds ${JSON.stringify(held).slice(0, 200)}, the client was told ${JSON.stringify(told).slice(0, 200)}`);
  }

  const summary = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
    return { count: sorted.length, p50: at(50), p99: at(99), max: sorted.at(-1) ?? 0 };
  };
  const latencies = Object.fromEntries([...samples].map(([operation, values]) => [operation, summary(values)])) as LoadReport['latencies'];
  latencies.all = summary([...samples.values()].flat());
  return { requests, errors, serverErrors, latencies, residentMiB, mismatches, tasksAtEnd };

  function pick(): Operation {
    let roll = Math.random() * 100;
    for (const [operation, weight] of MIX) {
      roll -= weight;
      if (roll < 0) return operation;
    }
    return 'list';
  }
}

function residentOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

/**
 * Whether memory stopped growing: the peak of the last third of the run is within `slackMiB`
 * of the peak of the middle third (the first third includes the warm-up).
 */
export function memoryGrowth(residentMiB: number[]): { middlePeak: number; lastPeak: number; growth: number } {
  const third = Math.floor(residentMiB.length / 3);
  const middlePeak = Math.max(...residentMiB.slice(third, 2 * third));
  const lastPeak = Math.max(...residentMiB.slice(2 * third));
  return { middlePeak, lastPeak, growth: lastPeak - middlePeak };
}
