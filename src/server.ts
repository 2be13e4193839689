import 'dotenv/config';
import { Redis } from 'ioredis';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createDatabase } from './db/database.js';
import { migrateToLatest, pendingMigrations } from './db/migrate.js';
import { scheduleCleanUp } from './maintenance.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const database = createDatabase(config.databaseUrl);
  if (config.migrateOnStart) {
    await migrateToLatest(database.db);
  } else {
    const pending = await pendingMigrations(database.db);
    if (pending.length > 0) {
      throw new ConfigError(`The database is not migrated (pending: ${pending.join(', ')}); run npm run migrate.`);
    }
  }
  const redis = config.redisUrl ? new Redis(config.redisUrl, { maxRetriesPerRequest: 1 }) : undefined;
  const app = await buildApp({ config, database, redis });
  const stopCleanUp = scheduleCleanUp(database, config, app.log);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    // Finish requests in flight, then release the database and Redis.
    stopCleanUp();
    // Keep-alive connections that finish a request after this point would hold close() open
    // until the client lets go; close each one as soon as it falls idle.
    const idleSweeper = setInterval(() => app.server.closeIdleConnections(), 100);
    await app.close();
    clearInterval(idleSweeper);
    await database.close();
    redis?.disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

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
