import 'dotenv/config';
import cluster from 'node:cluster';
import closeWithGrace from 'close-with-grace';
import { Redis } from 'ioredis';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, productionWarnings, type Config } from './config.js';
import { createDatabase, maintenanceOptions, servingOptions } from './db/database.js';
import { migrateToLatest, pendingMigrations } from './db/migrate.js';
import { scheduleCleanUp } from './maintenance.js';
import { runPrimary } from './cluster.js';

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.webConcurrency > 1 && cluster.isPrimary) return runPrimary(config);
  await prepareSchema(config);
  const database = createDatabase(config.databaseUrl, servingOptions(config));
  const redis = config.redisUrl ? new Redis(config.redisUrl, { maxRetriesPerRequest: 1 }) : undefined;
  const app = await buildApp({ config, database, redis });
  // Without a listener ioredis prints each connection error to stderr outside the JSON log.
  redis?.on('error', (error) => app.log.warn({ err: error }, 'Redis connection error'));
  if (cluster.isPrimary) for (const warning of productionWarnings(config)) app.log.warn(warning);
  // In cluster mode the primary cleans up, once for all workers.
  const stopCleanUp = cluster.isWorker ? () => {} : scheduleCleanUp(database, config, app.log);

  // On SIGTERM or SIGINT (or an error nothing else caught): finish the requests in flight, then
  // release the database and Redis, and exit 0. A request still running at the deadline must
  // not hold the process for ever: it is cut off and the process exits 1.
  const shutdownMs = config.shutdownTimeoutSeconds * 1000;
  closeWithGrace(
    {
      delay: shutdownMs,
      logger: app.log,
      onTimeout: () => app.log.error(`requests still running ${config.shutdownTimeoutSeconds} s after the shutdown began; exiting without them`),
    },
    async ({ signal, err }) => {
      if (err) app.log.fatal({ err }, 'unexpected error; shutting down');
      else app.log.info({ signal }, 'shutting down');
      stopCleanUp();
      // Keep-alive connections that finish a request after this point would hold close() open
      // until the client lets go; close each one as soon as it falls idle.
      const idleSweeper = setInterval(() => app.server.closeIdleConnections(), 100);
      await app.close();
      clearInterval(idleSweeper);
      await database.close();
      redis?.disconnect();
    },
  );

  await app.listen({ port: config.port, host: config.host });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error(error);
  }
  process.exit(1);
});

/**
 * Applies pending migrations (MIGRATE_ON_START) or refuses to serve an unmigrated database,
 * on a connection of its own: a migration's statements are not bound by the serving timeouts.
 */
async function prepareSchema(config: Config): Promise<void> {
  const database = createDatabase(config.databaseUrl, maintenanceOptions(config));
  try {
    if (config.migrateOnStart) {
      await migrateToLatest(database.db);
      return;
    }
    const pending = await pendingMigrations(database.db);
    if (pending.length > 0) {
      throw new ConfigError(`The database is not migrated (pending: ${pending.join(', ')}); run npm run migrate.`);
    }
  } finally {
    await database.close();
  }
}
