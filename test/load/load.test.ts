import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PASSWORD, dialectName } from '../helpers.js';
import { tempDatabaseUrl } from '../server-process.js';
import { MEMORY_BOUND_MIB, buildForProduction, startProductionServer } from '../production-server.js';
import { memoryGrowth, runLoad } from './workload.js';

/** The suite's short run; `npm run test:load` runs 60 s (LOAD_SECONDS) and prints the figures. */
const SECONDS = Number(process.env.LOAD_SECONDS ?? 9);

describe(`[${dialectName}] sustained load`, () => {
  test(`when 100 users read, write and log in over 64 connections for ${SECONDS} s, then nothing fails, memory stays bounded and the database holds exactly what clients were told`, async (t) => {
    const build = buildForProduction();
    const server = await startProductionServer(t, build, await tempDatabaseUrl(t));
    const report = await runLoad({ base: server.base, pid: server.child.pid!, users: 100, connections: 64, seconds: SECONDS, password: PASSWORD });
    const memory = memoryGrowth(report.residentMiB);
    const { all } = report.latencies;
    t.diagnostic(
      `${report.requests} requests (${(all.count / SECONDS).toFixed(0)}/s), p50 ${all.p50.toFixed(1)} ms, p99 ${all.p99.toFixed(1)} ms; ` +
        `resident memory peak ${Math.max(...report.residentMiB).toFixed(0)} MiB, growth over the last third ${memory.growth.toFixed(1)} MiB; ${report.tasksAtEnd} tasks at the end`,
    );
    for (const [operation, figures] of Object.entries(report.latencies)) {
      t.diagnostic(`${operation}: ${figures.count}, p50 ${figures.p50.toFixed(1)} ms, p99 ${figures.p99.toFixed(1)} ms, max ${figures.max.toFixed(1)} ms`);
    }
    assert.deepEqual(report.errors.slice(0, 10), []);
    assert.equal(report.serverErrors, 0);
    assert.deepEqual(report.mismatches.slice(0, 5), []);
    assert.ok(Math.max(...report.residentMiB) < MEMORY_BOUND_MIB, `resident memory reached ${Math.max(...report.residentMiB)} MiB`);
    assert.equal(server.child.exitCode, null);
  });
});
