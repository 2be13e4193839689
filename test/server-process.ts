import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { PASSWORD, TEST_DATABASE_URL } from './helpers.js';

/** Starting the real server (or the command line) as its own process, for tests that need one. */
export const ROOT = resolve(import.meta.dirname, '..');

/** The heap flags of `npm start` and the README's production command. */
export const PRODUCTION_HEAP_FLAGS = ['--max-semi-space-size=16', '--max-old-space-size=192'];

/** Only what the processes need: nothing from the test run's own settings (DATABASE_URL) leaks in. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

export function tempSqliteUrl(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tt-server-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return `sqlite:${join(dir, 'tasks.sqlite3')}`;
}

/** A fresh PostgreSQL database of its own (the server works in the public schema), dropped afterwards. */
export async function tempPostgresUrl(t: TestContext, postgresUrl: string): Promise<string> {
  const name = `tt_srv_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  t.after(async () => {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A database of the dialect the test run is on. */
export function tempDatabaseUrl(t: TestContext): Promise<string> {
  return TEST_DATABASE_URL ? tempPostgresUrl(t, TEST_DATABASE_URL) : Promise.resolve(tempSqliteUrl(t));
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

export interface Started {
  child: ChildProcess;
  output: () => { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

export interface Running extends Started {
  base: string;
}

export function start(t: TestContext, script: string, args: string[], env: Record<string, string>, nodeFlags: string[] = []): Started {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  // 'close', not 'exit': it waits for the pipes to drain, so the output is complete when the code arrives.
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, exited, output: () => ({ stdout, stderr }) };
}

/** Starts the server; resolves once it answers, or with its exit code if it exits first. */
export async function launchServer(t: TestContext, env: Record<string, string>, nodeFlags: string[] = []): Promise<Running | number | null> {
  const port = await freePort();
  const running = start(t, 'src/server.ts', [], { PORT: String(port), LOG_LEVEL: 'warn', ...env }, nodeFlags);
  const base = `http://127.0.0.1:${port}`;
  let exitCode: number | null | undefined;
  void running.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) return exitCode;
    try {
      await fetch(`${base}/`);
      return { ...running, base };
    } catch {
      await new Promise((done) => setTimeout(done, 100));
    }
  }
  assert.fail(`the server did not answer within 20 s: ${running.output().stderr}`);
}

export async function startServer(t: TestContext, env: Record<string, string>, nodeFlags: string[] = []): Promise<Running> {
  const running = await launchServer(t, env, nodeFlags);
  if (typeof running !== 'object' || running === null) assert.fail(`the server exited with ${running}`);
  return running;
}

export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => (timer = setTimeout(() => fail(new Error(`${what} took over ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runCli(t: TestContext, args: string[], databaseUrl: string) {
  const running = start(t, 'src/cli.ts', args, { DATABASE_URL: databaseUrl });
  const code = await within(running.exited, 20_000, `cli ${args.join(' ')}`);
  return { code, ...running.output() };
}

export async function register(base: string, username: string) {
  return fetch(`${base}/api/register/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
}

/** Registers and logs in over HTTP; the new user's token. */
export async function signIn(base: string, username: string): Promise<string> {
  assert.equal((await register(base, username)).status, 201);
  const login = await fetch(`${base}/api/login/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.equal(login.status, 200);
  return ((await login.json()) as { token: string }).token;
}

/** The most memory the process has had resident, in bytes (Linux). */
export function peakResidentBytes(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}
