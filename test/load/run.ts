/**
 * `npm run test:load`: the sustained-load test at full length (LOAD_SECONDS, 60 by default) on
 * SQLite and then on PostgreSQL (LOAD_POSTGRES_URL, by default the local server's `test`
 * database, in which a fresh database is made for the run). It prints the figures the README records.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const seconds = process.env.LOAD_SECONDS ?? '60';
const postgres = process.env.LOAD_POSTGRES_URL ?? 'postgres://root@127.0.0.1:5432/test';

let failed = false;
for (const [name, databaseUrl] of [['SQLite', undefined], ['PostgreSQL', postgres]] as const) {
  console.log(`== ${name}, ${seconds} s`);
  const env: NodeJS.ProcessEnv = { ...process.env, LOAD_SECONDS: seconds };
  if (databaseUrl === undefined) delete env.DATABASE_URL;
  else env.DATABASE_URL = databaseUrl;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/load/load.test.ts'], { cwd: root, env, stdio: 'inherit' });
  failed ||= run.status !== 0;
}
process.exitCode = failed ? 1 : 0;
