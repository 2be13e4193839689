import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dialectName } from '../helpers.js';
import { freePort } from '../server-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** This Node first, so that npm's install scripts build native modules for it. */
const PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH}`;

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  // The whole environment: npm needs the machine's network settings (certificates, proxies).
  const child = spawn(command, args, { cwd, env: { ...process.env, PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

/**
 * The final stage of the Dockerfile, and a Heroku-style release after its dev dependencies are
 * pruned: production dependencies only, the build, `node dist/cli.js migrate`, `npm run serve`.
 */
describe('production install', { skip: dialectName === 'postgres' && 'the same on either database; run with SQLite' }, () => {
  test('when only production dependencies and the build are installed, then the release step migrates and the server serves, warning about development settings', async (t) => {
    const folder = mkdtempSync(join(tmpdir(), 'task-tracker-production-'));
    t.after(() => rmSync(folder, { recursive: true, force: true }));
    const built = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(folder, 'dist')], ROOT);
    assert.equal(built.code, 0, built.output);
    for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, file), join(folder, file));
    const installed = await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], folder);
    assert.equal(installed.code, 0, installed.output);
    for (const devOnly of ['typescript', 'tsx', 'fast-check', 'autocannon']) assert.equal(existsSync(join(folder, 'node_modules', devOnly)), false, devOnly);

    const env = { DATABASE_URL: `sqlite:${join(folder, 'tasks.sqlite3')}`, NODE_ENV: 'production', ALLOWED_HOSTS: '*' };
    const released = await run(process.execPath, ['dist/cli.js', 'migrate'], folder, env);
    assert.equal(released.code, 0, released.output);
    assert.match(released.output, /^Applied: 001_initial/);

    const port = await freePort();
    const server = spawn('npm', ['run', 'serve'], {
      cwd: folder,
      env: { ...process.env, PATH, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    server.stdout.on('data', (chunk) => (output += chunk));
    server.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => server.on('close', resolve));
    t.after(async () => {
      try {
        process.kill(-server.pid!, 'SIGTERM');
      } catch {}
      await exited;
    });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const answer = await fetch(`${base}/healthz`).catch(() => undefined);
      if (answer?.ok) break;
      assert.ok(Date.now() < deadline, `the server did not answer within 20 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const credentials = { username: 'production', password: 'a production passphrase 5' };
    const json = { 'content-type': 'application/json' };
    assert.equal((await fetch(`${base}/api/register/`, { method: 'POST', headers: json, body: JSON.stringify(credentials) })).status, 201);
    const { token } = (await (await fetch(`${base}/api/login/`, { method: 'POST', headers: json, body: JSON.stringify(credentials) })).json()) as { token: string };
    const created = await fetch(`${base}/api/tasks/`, { method: 'POST', headers: { ...json, authorization: `Token ${token}` }, body: JSON.stringify({ title: 'Deployed' }) });
    assert.equal(created.status, 201);
    assert.match(output, /ALLOWED_HOSTS allows any host/);
  });

  test('when the Dockerfile and the Procfile are read, then they take the steps this test takes', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.match(final, /^FROM node:24-/m);
    assert.match(final, /^RUN npm ci --omit=dev /m);
    assert.match(final, /^COPY --from=build \/app\/dist \.\/dist$/m);
    assert.match(final, /^USER node$/m);
    assert.match(final, /^HEALTHCHECK .*\n.*\/healthz/m);
    assert.match(final, /^CMD \["npm", "run", "serve"\]$/m);
    const procfile = readFileSync(join(ROOT, 'Procfile'), 'utf8');
    assert.match(procfile, /^release: node dist\/cli\.js migrate$/m);
    assert.match(procfile, /^web: HOST=0\.0\.0\.0 npm run serve$/m);
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    assert.equal(scripts.serve, scripts.start, 'serve starts the build as start does, without building first');
  });
});
