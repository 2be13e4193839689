import { hash } from 'node:crypto';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Redis } from 'ioredis';
import type { ThrottleConfig } from '../config.js';
import { ApiError } from '../http/errors.js';
import { usernameKey } from './repository.js';

/**
 * Brute-force protection, counted by @fastify/rate-limit (in memory, or in Redis so that the
 * limits hold across processes): failed logins per username and per client address, and
 * sign-ups per address. Successful logins are not counted.
 */
export interface LoginThrottle {
  /** Counts every sign-up attempt from the client's address. */
  registration: onRequestHookHandler;
  /** Refuses a login from an address that has failed too often, before any work is done. */
  loginByAddress: onRequestHookHandler;
  /** Refuses a login for a username that has failed too often. */
  checkUsername(request: FastifyRequest, username: string): Promise<void>;
  recordFailure(request: FastifyRequest, username: string): Promise<void>;
}

export async function createThrottle(
  app: FastifyInstance,
  limits: ThrottleConfig,
  redis: Redis | undefined,
  nameSpace = 'task-tracker:throttle:',
): Promise<LoginThrottle> {
  await app.register(rateLimit, {
    global: false,
    redis,
    nameSpace,
    // A broken Redis must not lock everyone out of their accounts.
    skipOnError: true,
    errorResponseBuilder: (_request, context) => throttled(Math.ceil(context.ttl / 1000)),
  });

  const usernames = new WeakMap<FastifyRequest, string>();
  const limiter = (name: string, limit: { max: number; windowSeconds: number }, key: (r: FastifyRequest) => string) =>
    app.createRateLimit({
      max: limit.max,
      timeWindow: limit.windowSeconds * 1000,
      keyGenerator: (request) => `${name}:${key(request)}`,
      skipOnError: true,
    });
  const failuresByAddress = limiter('login-address', limits.loginPerAddress, clientAddress);
  const failuresByUsername = limiter('login-username', limits.loginPerUsername, (request) => usernames.get(request)!);

  async function refuseWhenSpent(check: typeof failuresByAddress, request: FastifyRequest): Promise<void> {
    const state = await check(request, { increment: false });
    if (!state.isAllowed && state.remaining <= 0 && state.ttl > 0) {
      throw throttled(state.ttlInSeconds);
    }
  }

  return {
    registration: app.rateLimit({
      max: limits.registerPerAddress.max,
      timeWindow: limits.registerPerAddress.windowSeconds * 1000,
      keyGenerator: (request) => `register-address:${clientAddress(request)}`,
    }) as onRequestHookHandler,

    loginByAddress: async (request) => refuseWhenSpent(failuresByAddress, request),

    async checkUsername(request, username) {
      usernames.set(request, counterKey(username));
      await refuseWhenSpent(failuresByUsername, request);
    },

    async recordFailure(request, username) {
      usernames.set(request, counterKey(username));
      await Promise.all([failuresByAddress(request), failuresByUsername(request)]);
    },
  };
}

/**
 * The client's address as the library's default key has it: an IPv6 client is counted by its
 * /64, which one subscriber typically holds whole, so stepping through it gains nothing.
 */
function clientAddress(request: FastifyRequest): string {
  return normalizeIP(request.ip);
}

/**
 * Counts attempts on `Alice` and `alice` together (one account), under a fixed-size key: the
 * login form takes usernames of any length, and a megabyte-long one must not become a
 * megabyte-long counter key. Usernames are not kept in clear in Redis either.
 */
function counterKey(username: string): string {
  return hash('sha256', usernameKey(username), 'base64url');
}

/** DRF's throttling reply. */
export function throttled(seconds: number): ApiError {
  const wait = Math.max(1, seconds);
  return new ApiError(
    429,
    { detail: `Request was throttled. Expected available in ${wait} second${wait === 1 ? '' : 's'}.` },
    { 'retry-after': String(wait) },
  );
}
