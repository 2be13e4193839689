import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, type TestContext } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../src/app.js';
import { loadConfig, type ThrottleConfig } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { openTestDatabase } from '../helpers.js';
import { CREDENTIALS_REFUSED } from './support.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';
const GENEROUS = { max: 1000, windowSeconds: 60 };

/** Where the counters live: in the process, or in Redis shared by every process. */
export type Store = 'memory' | 'redis';
export const STORES: Store[] = ['memory', 'redis'];

/** Generous limits but for the ones a test sets. */
export function limits(overrides: Partial<ThrottleConfig>): ThrottleConfig {
  return {
    loginPerUsername: GENEROUS,
    loginPerUsernameTotal: GENEROUS,
    loginPerAddress: GENEROUS,
    registerPerAddress: GENEROUS,
    passwordResetPerAddress: GENEROUS,
    passwordResetPerEmail: GENEROUS,
    ...overrides,
  };
}

/**
 * One database for a whole file, so that its tests can run side by side; each test builds its
 * own apps, with their own counters, and its own users.
 */
export function sharedDatabase(): () => Database {
  let database: Database | undefined;
  const cleanups: (() => unknown)[] = [];
  before(async () => {
    database = await openTestDatabase({ after: (cleanup: () => unknown) => void cleanups.push(cleanup) } as unknown as TestContext);
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  return () => {
    if (!database) throw new Error('the shared database is opened in before()');
    return database;
  };
}

export function uniqueNamespace(): string {
  return `tt-test:${randomBytes(6).toString('hex')}:`;
}

export async function dropNamespace(namespace: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${namespace}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}

/**
 * `count` apps (server processes) on one database, whose counters live in `store`: with Redis
 * they share one namespace of their own, removed when the test ends.
 */
export async function buildThrottledApps(
  t: TestContext,
  database: Database,
  store: Store,
  throttle: ThrottleConfig,
  count = 1,
  env: Record<string, string> = {},
): Promise<{ apps: FastifyInstance[]; namespace: string | undefined }> {
  const config = { ...loadConfig({ LOG_LEVEL: 'silent', ...env }), throttle };
  const namespace = store === 'redis' ? uniqueNamespace() : undefined;
  const apps: FastifyInstance[] = [];
  for (let i = 0; i < count; i++) {
    let redis: Redis | undefined;
    if (store === 'redis') {
      redis = new Redis(REDIS_URL, { lazyConnect: true });
      await redis.connect();
    }
    const app = await buildApp({ config, database, redis, throttleNamespace: namespace });
    t.after(async () => {
      await app.close();
      redis?.disconnect();
    });
    apps.push(app);
  }
  // After-hooks run in the order they were added: the apps are closed first.
  if (namespace !== undefined) t.after(() => dropNamespace(namespace));
  return { apps, namespace };
}

export async function buildThrottledApp(
  t: TestContext,
  database: Database,
  store: Store,
  throttle: ThrottleConfig,
  env: Record<string, string> = {},
): Promise<FastifyInstance> {
  return (await buildThrottledApps(t, database, store, throttle, 1, env)).apps[0]!;
}

/** The reply is DRF's throttling answer, and its Retry-After agrees with the body. */
export function assertThrottled(reply: LightMyRequestResponse, windowSeconds: number): void {
  assert.equal(reply.statusCode, 429, reply.body);
  const wait = Number(reply.headers['retry-after']);
  assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= windowSeconds, `Retry-After ${reply.headers['retry-after']}`);
  assert.deepEqual(reply.json(), {
    detail: `Request was throttled. Expected available in ${wait} second${wait === 1 ? '' : 's'}.`,
  });
}

/**
 * Splits a burst's replies into those that were evaluated (400 with `refusal`) and those that
 * were throttled, checking each is exactly one or the other.
 */
export function tally(replies: LightMyRequestResponse[], windowSeconds: number, refusal: unknown = CREDENTIALS_REFUSED) {
  let evaluated = 0;
  let throttled = 0;
  for (const reply of replies) {
    if (reply.statusCode === 429) {
      assertThrottled(reply, windowSeconds);
      throttled++;
    } else {
      assert.equal(reply.statusCode, 400, reply.body);
      assert.deepEqual(reply.json(), refusal);
      evaluated++;
    }
  }
  return { evaluated, throttled };
}
