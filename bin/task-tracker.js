#!/usr/bin/env node
// The `task-tracker` command. In a checkout (the TypeScript sources and tsx are there) it runs
// the sources, so it never runs a stale build; in a production install it runs dist/cli.js.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = `${root}src/cli.ts`;
const hasTsx = (() => {
  try {
    createRequire(import.meta.url).resolve('tsx');
    return true;
  } catch {
    return false;
  }
})();

if (existsSync(source) && hasTsx) {
  const child = spawnSync(process.execPath, ['--import', 'tsx', source, ...process.argv.slice(2)], { stdio: 'inherit', cwd: process.cwd() });
  process.exit(child.status ?? 1);
} else if (existsSync(`${root}dist/cli.js`)) {
  await import(`${root}dist/cli.js`);
} else {
  console.error('task-tracker: neither the sources with tsx nor a build (npm run build) were found.');
  process.exit(1);
}
