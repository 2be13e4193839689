/**
 * Login latency (Argon2id on libuv's thread pool) at low concurrency, and whether logins hold
 * up other requests: an authenticated GET /api/tasks/<id>/ is hammered alone, then while logins
 * run. `npm run bench:login`; see bench/README.md.
 */
import { ARGON2_OPTIONS } from '../src/accounts/passwords.js';
import {
  USER,
  build,
  call,
  createBenchDatabase,
  expectOk,
  fixed,
  load,
  machine,
  registerAndLogin,
  settings,
  startApi,
  table,
  whole,
  type Figures,
  type Service,
  type Target,
} from './lib.js';

const LOGIN_CONNECTIONS = [1, 4];
const PROBE_CONNECTIONS = Number(process.env.BENCH_PROBE_CONNECTIONS ?? 8);
const UNLIMITED = '1000000/60';

async function main(): Promise<void> {
  console.log('Building dist/ ...');
  build();
  const database = await createBenchDatabase();
  let api: Service | undefined;
  try {
    api = await startApi(database.url, {
      THROTTLE_LOGIN_USERNAME: UNLIMITED,
      THROTTLE_LOGIN_ADDRESS: UNLIMITED,
      THROTTLE_REGISTER_ADDRESS: UNLIMITED,
    });
    const token = await registerAndLogin(api.url);
    const task = await expectOk(call(api.url, 'POST', '/api/tasks/', { title: 'Probe' }, token), 'create a task');
    const probe: Target = {
      method: 'GET',
      path: `/api/tasks/${(JSON.parse(task.text) as { id: number }).id}/`,
      headers: { authorization: `Token ${token}` },
    };
    const login: Target = {
      method: 'POST',
      path: '/api/login/',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: USER.username, password: USER.password }),
    };

    const { memoryCost, timeCost, parallelism } = ARGON2_OPTIONS;
    console.log(
      `\n${machine()}\nDatabase: ${database.label}; Argon2id m=${memoryCost} KiB, t=${timeCost}, p=${parallelism}; ` +
        `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}; ${settings.warmup} s warm-up + ${settings.duration} s per run\n`,
    );
    const run = (target: Target, connections: number) => load(api!.url, target, connections, settings.duration);
    await load(api.url, login, 1, settings.warmup);
    await load(api.url, probe, PROBE_CONNECTIONS, settings.warmup);

    const loginRows: string[][] = [];
    const probeRows: string[][] = [];
    const probeAlone = await run(probe, PROBE_CONNECTIONS);
    probeRows.push(row('no logins', probeAlone));
    for (const connections of LOGIN_CONNECTIONS) {
      loginRows.push(row(`${connections}, alone`, await run(login, connections)));
    }
    for (const connections of LOGIN_CONNECTIONS) {
      const [logins, probed] = await Promise.all([run(login, connections), run(probe, PROBE_CONNECTIONS)]);
      loginRows.push(row(`${connections}, with the probe`, logins));
      probeRows.push(row(`${connections} login connections`, probed));
    }

    console.log(table(['POST /api/login/ connections', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'failed'], loginRows));
    console.log(
      `\nProbe: GET /api/tasks/<id>/ with ${PROBE_CONNECTIONS} connections\n` +
        table(['while', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'failed'], probeRows),
    );
  } finally {
    await api?.stop();
    await database.drop();
  }
}

function row(label: string, figures: Figures): string[] {
  return [label, whole(figures.rps), fixed(figures.p50), fixed(figures.p99), fixed(figures.max), String(figures.failures)];
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
