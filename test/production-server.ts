/**
 * The server as production runs it: compiled by tsc (as `npm run build` does, into a folder of
 * its own under node_modules/.cache, where imports still find the project's packages), started
 * with the heap flags of `npm start` and NODE_ENV=production.
 */
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { PRODUCTION_HEAP_FLAGS, ROOT, baseEnv, freePort, type Running } from './server-process.js';

const BUILD = join(ROOT, 'node_modules', '.cache', `task-tracker-load-${process.pid}`);

/** Every test client comes from this one address, so the address throttles are opened wide. */
const LOAD_THROTTLES = {
  THROTTLE_LOGIN_ADDRESS: '1000000/60',
  THROTTLE_REGISTER_ADDRESS: '1000000/60',
  THROTTLE_LOGIN_USERNAME: '1000000/60',
  THROTTLE_LOGIN_USERNAME_TOTAL: '1000000/60',
};

/** The production server's resident memory must stay under this, whatever the load. */
export const MEMORY_BOUND_MIB = 200;

let built: string | undefined;

/** Builds once per test process. */
export function buildForProduction(): string {
  if (built !== undefined) return built;
  const result = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', BUILD], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`the build failed:\n${result.stdout}${result.stderr}`);
  process.once('exit', () => rmSync(BUILD, { recursive: true, force: true }));
  built = BUILD;
  return BUILD;
}

export async function startProductionServer(t: Pick<TestContext, 'after'>, build: string, databaseUrl: string, settings: Record<string, string> = {}): Promise<Running> {
  const port = await freePort();
  const env = { DATABASE_URL: databaseUrl, NODE_ENV: 'production', ALLOWED_HOSTS: '127.0.0.1', LOG_LEVEL: 'warn', PORT: String(port), ...LOAD_THROTTLES, ...settings };
  const child = spawn(process.execPath, [...PRODUCTION_HEAP_FLAGS, join(build, 'server.js')], { cwd: ROOT, env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const running = { child, exited, output: () => ({ stdout, stderr }) };
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (running.child.exitCode !== null) throw new Error(`the server exited: ${running.output().stderr}`);
    try {
      await fetch(`${base}/healthz`);
      return { ...running, base };
    } catch {
      if (Date.now() > deadline) throw new Error('the server did not answer within 20 s');
      await new Promise((done) => setTimeout(done, 100));
    }
  }
}
