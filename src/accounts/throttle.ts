import { hash } from 'node:crypto';
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Redis } from 'ioredis';
import ipaddr from 'ipaddr.js';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimit, ThrottleConfig } from '../config.js';
import { ApiError } from '../http/errors.js';
import { emailKey, usernameKey } from './repository.js';

/**
 * Brute-force protection (see "Brute-force protection" in the README). A password guess takes
 * its place in every counter that applies before the password is checked, so no number of
 * requests in parallel gets more guesses evaluated than the limits allow:
 * - per client address, across usernames;
 * - per username and address, so that guesses from elsewhere cannot lock the owner out;
 * - per username across all addresses, a higher ceiling on the total rate of guesses at one
 *   account, which does not apply from an address the owner has recently logged in from.
 * Sign-ups are counted per address, and password reset requests per address and per email
 * address asked for. Counters live in this process, or in Redis so that they hold across
 * processes.
 */
export interface Throttle {
  /** Counts every sign-up attempt from the client's address. */
  registration: onRequestHookHandler;
  /** Refuses a login from an address that has used up its guesses, before any work is done. */
  loginByAddress: onRequestHookHandler;
  /** Reserves a guess at `username`'s password, or refuses it with 429. */
  reserveGuess(request: FastifyRequest, username: string): Promise<Guess>;
  /** Reserves a guess that can match no account: only the address's counter applies. */
  reserveAddressGuess(request: FastifyRequest): Promise<void>;
  /** Counts every password reset request from the client's address. */
  passwordResetByAddress: onRequestHookHandler;
  /**
   * Counts a password reset request for `email`, registered or not, so that nobody's mailbox
   * can be flooded and the answer says nothing about the address.
   */
  passwordResetFor(email: string): Promise<void>;
}

/** A reserved guess stays counted as a failure unless it turns out to be right. */
export interface Guess {
  /** The password was right: the guess is refunded and the address remembered as the owner's. */
  succeeded(): Promise<void>;
}

/** The namespace of the counters in Redis; every key is `<namespace><kind>:<digest>`. */
export const DEFAULT_THROTTLE_NAMESPACE = 'task-tracker:throttle:';

/**
 * How long an address the owner logged in from stays exempt from the ceiling across addresses:
 * three weeks covers the places someone logs in from regularly. (The in-memory store expires
 * a key with a timer, and Node's timers cannot wait longer than 24.8 days.)
 */
const KNOWN_ADDRESS_SECONDS = 21 * 24 * 3600;

/** A place taken in one counter. */
interface Place {
  counter: RateLimiterAbstract;
  key: string;
}

export function createThrottle(limits: ThrottleConfig, redis: Redis | undefined, namespace = DEFAULT_THROTTLE_NAMESPACE): Throttle {
  const counter = (kind: string, limit: RateLimit): RateLimiterAbstract => {
    const options = { keyPrefix: `${namespace}${kind}`, points: limit.max, duration: limit.windowSeconds };
    // Timed keys in a plain map: nothing but the end of its window removes a counter.
    const memory = new RateLimiterMemory(options);
    if (redis === undefined) return memory;
    // While Redis is unreachable each process counts on its own: the limits stay in force
    // (per process) rather than being lifted, and nobody is locked out by the outage.
    return new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: memory });
  };
  const registrations = counter('register-address', limits.registerPerAddress);
  const guessesByAddress = counter('login-address', limits.loginPerAddress);
  const guessesByUsernameAndAddress = counter('login-username-address', limits.loginPerUsername);
  const guessesByUsername = counter('login-username', limits.loginPerUsernameTotal);
  const ownersAddresses = counter('known-address', { max: 1, windowSeconds: KNOWN_ADDRESS_SECONDS });
  const resetsByAddress = counter('password-reset-address', limits.passwordResetPerAddress);
  const resetsByEmail = counter('password-reset-email', limits.passwordResetPerEmail);

  return {
    registration: async (request) => {
      await reserve([{ counter: registrations, key: addressKey(request) }]);
    },

    loginByAddress: async (request) => {
      const state = await guessesByAddress.get(addressKey(request));
      if (state !== null && state.consumedPoints >= limits.loginPerAddress.max && state.msBeforeNext > 0) {
        throw throttled(state.msBeforeNext);
      }
    },

    async reserveGuess(request, username) {
      const address = addressKey(request);
      const pair = digest(JSON.stringify([usernameKey(username), clientAddress(request)]));
      const places = [
        { counter: guessesByAddress, key: address },
        { counter: guessesByUsernameAndAddress, key: pair },
      ];
      if ((await ownersAddresses.get(pair)) === null) {
        places.push({ counter: guessesByUsername, key: digest(usernameKey(username)) });
      }
      await reserve(places);
      return {
        async succeeded() {
          // Successful logins are not counted, and the owner's earlier slips from here are forgiven.
          await Promise.all([
            ...places.filter((place) => place.counter !== guessesByUsernameAndAddress).map(refund),
            guessesByUsernameAndAddress.delete(pair),
            ownersAddresses.set(pair, 1, KNOWN_ADDRESS_SECONDS),
          ]);
        },
      };
    },

    async reserveAddressGuess(request) {
      await reserve([{ counter: guessesByAddress, key: addressKey(request) }]);
    },

    passwordResetByAddress: async (request) => {
      await reserve([{ counter: resetsByAddress, key: addressKey(request) }]);
    },

    async passwordResetFor(email) {
      await reserve([{ counter: resetsByEmail, key: digest(emailKey(email)) }]);
    },
  };
}

/**
 * Takes a place in each counter in turn, the narrowest first. Each step is atomic in its store,
 * so however many requests run at once, no more than a counter's limit ever hold a place in
 * it. A refused request keeps what it took: the counters before the one that refused it are its
 * own client's (its address; its username from its address), and that one is spent already.
 * Nothing is given back, so a burst has no refunds to race for.
 */
async function reserve(places: Place[]): Promise<void> {
  for (const { counter, key } of places) {
    try {
      await counter.consume(key);
    } catch (error) {
      if (error instanceof RateLimiterRes) throw throttled(error.msBeforeNext);
      throw error;
    }
  }
}

/** Gives a place back, unless its window has ended meanwhile (a refund is no credit for the next). */
async function refund({ counter, key }: Place): Promise<void> {
  const state = await counter.get(key);
  if (state !== null && state.consumedPoints > 0) await counter.reward(key);
}

/**
 * The client's address; an IPv6 client is counted by its /64, which one subscriber typically
 * holds whole, so stepping through it gains nothing.
 */
function clientAddress(request: FastifyRequest): string {
  if (!ipaddr.isValid(request.ip)) return request.ip;
  const address = ipaddr.process(request.ip);
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts;
  return `${new ipaddr.IPv6([...parts.slice(0, 4), 0, 0, 0, 0]).toString()}/64`;
}

function addressKey(request: FastifyRequest): string {
  return digest(clientAddress(request));
}

/**
 * Counter keys have a fixed size whatever the username's length, and keep neither usernames
 * nor addresses in clear in Redis.
 */
function digest(text: string): string {
  return hash('sha256', text, 'base64url');
}

/** DRF's throttling reply. */
function throttled(msBeforeNext: number): ApiError {
  const wait = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return new ApiError(
    429,
    { detail: `Request was throttled. Expected available in ${wait} second${wait === 1 ? '' : 's'}.` },
    { 'retry-after': String(wait) },
  );
}
