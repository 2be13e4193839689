import type { FastifyRequest } from 'fastify';
import { nonFieldError, notFound, validation } from '../http/errors.js';
import { hashPassword, verifyAgainstDummy, verifyPassword } from './passwords.js';
import type { AccountsRepository } from './repository.js';
import type { Throttle } from './throttle.js';
import { USERNAME_TAKEN, type Registration } from './validation.js';

export const INVALID_CREDENTIALS = 'Unable to log in with provided credentials.';
/**
 * Usernames have at most 150 characters. A login name of more UTF-16 units than this (room for
 * every character typed in its longest decomposed form) cannot normalize to any of them.
 */
const LONGEST_LOGIN_USERNAME = 150 * 4 * 2;

/** The account whose password was just checked, as a session of it must be started. */
export interface SignedIn {
  id: number;
  session_epoch: number;
}

/** What checking a user's current password gives: the hash checked, and the policy's context. */
export interface CheckedAccount {
  username: string;
  email: string;
  password: string;
}

/** Creates the account of a checked registration (both APIs' sign-up); its new id. */
export async function createAccount(accounts: AccountsRepository, registration: Registration, now: string): Promise<number> {
  const userId = await accounts.createUser({
    username: registration.username,
    email: registration.email,
    passwordHash: await hashPassword(registration.password),
    now,
  });
  // Two sign-ups racing for one name: the unique index decides.
  if (userId === undefined) throw validation({ username: [USERNAME_TAKEN] });
  return userId;
}

export type PasswordChecks = ReturnType<typeof createPasswordChecks>;

/**
 * Every check of a password, wherever it is typed (a login through either API, a password
 * change, an account deletion), under the same throttle and with the same timing whether the
 * account exists or not.
 */
export function createPasswordChecks(accounts: AccountsRepository, throttle: Throttle) {
  return {
    /** The account the credentials sign in to; refused with the original's words otherwise. */
    async signIn(request: FastifyRequest, username: string, password: string): Promise<SignedIn> {
      if (username.length > LONGEST_LOGIN_USERNAME) {
        // No account has such a name: refuse it without normalizing, hashing or looking it up.
        await throttle.reserveAddressGuess(request);
        throw nonFieldError(INVALID_CREDENTIALS);
      }
      const guess = await throttle.reserveGuess(request, username);
      const user = await accounts.findCredentials(username);
      if (user === undefined) {
        // Same work as a real check, so timing does not reveal which usernames exist.
        await verifyAgainstDummy(password);
        throw nonFieldError(INVALID_CREDENTIALS);
      }
      const verification = await verifyPassword(user.password, password);
      if (!verification.valid || !user.is_active) throw nonFieldError(INVALID_CREDENTIALS);
      await guess.succeeded();
      if (verification.needsRehash) await accounts.upgradePasswordHash(user.id, user.password, await hashPassword(password));
      return { id: user.id, session_epoch: user.session_epoch };
    },

    /**
     * The signed-in user's account if `password` is their current password, else undefined.
     * Guesses at it (with a stolen token, say) count as failed logins of the account, under
     * the same throttle.
     */
    async currentPassword(request: FastifyRequest, userId: number, password: string): Promise<CheckedAccount | undefined> {
      const account = await accounts.findCredentialsById(userId);
      if (account === undefined) throw notFound();
      const guess = await throttle.reserveGuess(request, account.username);
      const verification = await verifyPassword(account.password, password);
      if (!verification.valid) return undefined;
      await guess.succeeded();
      return account;
    },
  };
}
