import type { FastifyBaseLogger } from 'fastify';
import { createAccountsRepository } from './accounts/repository.js';
import type { Config } from './config.js';
import { now, timestampOf } from './db/clock.js';
import type { Database } from './db/database.js';
import { createPasswordResetRepository } from './password-reset/repository.js';
import { createTasksRepository } from './tasks/repository.js';

/**
 * Removes what is kept only for a while: expired sessions, old deletion tombstones and
 * expired password reset links.
 */
export async function cleanUp(database: Database, config: Config): Promise<{ sessions: number; tombstones: number; resetLinks: number }> {
  const sessions = await createAccountsRepository(database).deleteExpiredSessions(now());
  const keptFrom = timestampOf(Date.now() - config.tombstoneRetentionSeconds * 1000);
  const tombstones = await createTasksRepository(database).purgeTombstones(keptFrom);
  const resetLinks = await createPasswordResetRepository(database).deleteExpired(now());
  return { sessions, tombstones, resetLinks };
}

const HOUR_MS = 3_600_000;

/** Runs cleanUp at start and then hourly; the timer never keeps the process alive. */
export function scheduleCleanUp(database: Database, config: Config, log: FastifyBaseLogger): () => void {
  const run = () =>
    cleanUp(database, config).then(
      (removed) => log.info({ removed }, 'clean-up done'),
      (error: unknown) => log.error({ err: error }, 'clean-up failed'),
    );
  void run();
  const timer = setInterval(run, HOUR_MS);
  timer.unref();
  return () => clearInterval(timer);
}
