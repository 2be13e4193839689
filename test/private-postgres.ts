/**
 * A PostgreSQL server of a test's own, in a temporary folder (initdb and pg_ctl run as the
 * `postgres` user), for tests that stop, pause or crash their database: the shared server on
 * port 5432 is never touched.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from './server-process.js';

function binaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  const bin = version && join(root, version, 'bin');
  return bin && existsSync(join(bin, 'initdb')) ? bin : undefined;
}

/** Why a private server cannot run here, or undefined when it can. */
export function privatePostgresUnavailable(): string | undefined {
  if (binaries() === undefined) return 'PostgreSQL server binaries are not installed';
  if (process.getuid?.() !== 0) return 'starting a private PostgreSQL needs root (to run it as the postgres user)';
  return undefined;
}

export interface PrivatePostgres {
  /** A database URL for user `root` on the private server. */
  url: string;
  stop(mode?: 'fast' | 'immediate'): void;
  start(): void;
  /** Freezes the server and all its processes (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  resume(): void;
}

export function startPrivatePostgres(t: TestContext, port: number, settings: string[] = ['fsync=off']): PrivatePostgres {
  const bin = binaries()!;
  const folder = mkdtempSync(join(tmpdir(), 'task-tracker-pg-'));
  chmodSync(folder, 0o777);
  const data = join(folder, 'data');
  const asPostgres = (command: string, args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  asPostgres('initdb', ['-D', data, '--auth=trust', '--username=root', '--no-sync', '-E', 'UTF8']);
  const options = ['-p', String(port), '-k', folder, '-c', 'listen_addresses=127.0.0.1', ...settings.flatMap((setting) => ['-c', setting])].join(' ');
  const server: PrivatePostgres = {
    url: `postgres://root@127.0.0.1:${port}/postgres`,
    start: () => void asPostgres('pg_ctl', ['-D', data, '-o', options, '-l', join(folder, 'log'), '-w', 'start']),
    stop: (mode = 'fast') => void asPostgres('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']),
    pause: () => signalAll('STOP'),
    resume: () => signalAll('CONT'),
  };
  const processes = () => {
    const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    return [postmaster, ...children];
  };
  const signalAll = (signal: 'STOP' | 'CONT') => {
    for (const pid of processes()) process.kill(pid, `SIG${signal}`);
  };
  server.start();
  t.after(() => {
    try {
      signalAll('CONT');
      server.stop('immediate');
    } catch {
      // Already stopped.
    }
    rmSync(folder, { recursive: true, force: true });
  });
  return server;
}

