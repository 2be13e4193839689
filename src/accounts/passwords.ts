import { pbkdf2, timingSafeEqual } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { hash, verify, type Options } from '@node-rs/argon2';
import pLimit from 'p-limit';

const pbkdf2Async = promisify(pbkdf2);

/** OWASP's first recommended Argon2id configuration: 19 MiB of memory, 2 passes, 1 lane. */
export const ARGON2_OPTIONS: Options = {
  algorithm: 2, // Argon2id (the package's const enum cannot be imported under isolated modules)
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
};

/**
 * Hashing runs on libuv's thread pool, so the event loop keeps serving other requests; and at
 * most one hash per core but one runs at a time, so a burst of logins cannot take every core
 * from the requests being served (the rest wait their turn).
 */
const hashing = pLimit(Math.max(1, availableParallelism() - 1));

export function hashPassword(password: string): Promise<string> {
  return hashing(() => hash(password, ARGON2_OPTIONS));
}

const argon2Verify = (stored: string, password: string) =>
  hashing(() => verify(stored, password)).catch(() => false);

export interface Verification {
  valid: boolean;
  /** The stored hash is of an older kind or weaker parameters: store a fresh one. */
  needsRehash: boolean;
}

export async function verifyPassword(stored: string, password: string): Promise<Verification> {
  if (stored.startsWith('pbkdf2_sha256$')) {
    return { valid: await verifyDjangoPbkdf2(stored, password), needsRehash: true };
  }
  if (stored.startsWith(DJANGO_ARGON2_PREFIX)) {
    const valid = await argon2Verify(stored.slice(DJANGO_ARGON2.length), password);
    return { valid, needsRehash: valid };
  }
  if (stored.startsWith('$argon2')) {
    const valid = await argon2Verify(stored, password);
    return { valid, needsRehash: valid && !stored.startsWith(CURRENT_PREFIX) };
  }
  // Django's unusable passwords ("!...") and anything unknown never match.
  return { valid: false, needsRehash: false };
}

const CURRENT_PREFIX = `$argon2id$v=19$m=${ARGON2_OPTIONS.memoryCost},t=${ARGON2_OPTIONS.timeCost},p=${ARGON2_OPTIONS.parallelism}$`;

/**
 * Django's Argon2PasswordHasher stores its name, `argon2`, followed by the standard encoded hash
 * (`argon2$argon2id$v=19$m=102400,t=2,p=8$<salt>$<hash>`); without the name it verifies as ours.
 */
const DJANGO_ARGON2 = 'argon2';
const DJANGO_ARGON2_PREFIX = `${DJANGO_ARGON2}$argon2`;

/** An encoded Argon2 hash of version 1.3, the only version verify() reads correctly. */
const ARGON2_ENCODED = /^\$argon2(?:id|i|d)\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/**
 * Whether some password can match the stored hash here: false for Django's unusable passwords
 * (`!...`) and for the kinds of hash not verified here (`bcrypt_sha256$...`, `pbkdf2_sha1$...`),
 * whose accounts need a new password set for them.
 */
export function isVerifiableHash(stored: string): boolean {
  if (stored.startsWith('pbkdf2_sha256$')) return djangoPbkdf2Parts(stored) !== undefined;
  const encoded = stored.startsWith(DJANGO_ARGON2_PREFIX) ? stored.slice(DJANGO_ARGON2.length) : stored;
  return ARGON2_ENCODED.test(encoded);
}

/**
 * Accounts imported from the original keep Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`;
 * they are upgraded to Argon2id at their next successful login.
 */
async function verifyDjangoPbkdf2(stored: string, password: string): Promise<boolean> {
  const parts = djangoPbkdf2Parts(stored);
  if (parts === undefined) return false;
  const { iterations, salt, expected } = parts;
  const actual = await hashing(() => pbkdf2Async(password, salt, iterations, expected.length, 'sha256'));
  return timingSafeEqual(actual, expected);
}

function djangoPbkdf2Parts(stored: string): { iterations: number; salt: string; expected: Buffer } | undefined {
  const [, iterationsText, salt, expectedText] = stored.split('$');
  const iterations = Number(iterationsText);
  if (!salt || !expectedText || !Number.isSafeInteger(iterations) || iterations < 1 || iterations > 10_000_000) {
    return undefined;
  }
  const expected = Buffer.from(expectedText, 'base64');
  return expected.length === 0 ? undefined : { iterations, salt, expected };
}

let dummyHash: Promise<string> | undefined;

/**
 * Computes the hash that verifyAgainstDummy checks against. Called at start-up, so that the
 * first login for a missing username does not take twice as long as the others.
 */
export function prepareDummyHash(): Promise<string> {
  dummyHash ??= hashPassword('a password that no account has');
  return dummyHash;
}

/**
 * Spends the same time as checking a real password, for usernames that do not exist, so that
 * response times do not tell which usernames are registered.
 */
export async function verifyAgainstDummy(password: string): Promise<void> {
  await argon2Verify(await prepareDummyHash(), password);
}
