import cluster, { type Worker } from 'node:cluster';
import pino from 'pino';
import type { Config } from './config.js';
import { createDatabase, maintenanceOptions } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { scheduleCleanUp } from './maintenance.js';

/** A worker that dies this soon after it started is not restarted at once, but after a pause. */
const QUICK_DEATH_MS = 5_000;
const RESTART_PAUSE_MS = 1_000;

/**
 * The primary process of cluster mode (`WEB_CONCURRENCY` > 1): it migrates the database once,
 * runs the hourly clean-up, and keeps `WEB_CONCURRENCY` worker processes serving on the one
 * port (Node's cluster module shares it), starting a new one whenever one dies. On SIGTERM or
 * SIGINT it passes the signal on, waits for the workers to finish their requests, and exits.
 */
export async function runPrimary(config: Config): Promise<void> {
  const log = pino({ level: config.logLevel === 'silent' ? 'silent' : config.logLevel });
  const database = createDatabase(config.databaseUrl, maintenanceOptions(config));
  if (config.migrateOnStart) await migrateToLatest(database.db);
  const stopCleanUp = scheduleCleanUp(database, config, log);
  // The workers find the database migrated, and leave clean-up to the primary (server.ts).
  cluster.setupPrimary({ execArgv: process.execArgv });
  const workerEnv = { MIGRATE_ON_START: 'false' };

  let stopping = false;
  const started = new Map<number, number>();
  const fork = (): Worker => {
    const worker = cluster.fork(workerEnv);
    started.set(worker.id, Date.now());
    return worker;
  };
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (started.get(worker.id) ?? 0);
    started.delete(worker.id);
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, 'worker exited; starting another');
    setTimeout(fork, lived < QUICK_DEATH_MS ? RESTART_PAUSE_MS : 0);
  });
  for (let index = 0; index < config.webConcurrency; index += 1) fork();
  log.info({ workers: config.webConcurrency, port: config.port }, 'cluster started');

  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down the workers');
    stopCleanUp();
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.once('exit', () => resolve());
            worker.process.kill(signal);
          }),
      ),
    );
    await database.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
