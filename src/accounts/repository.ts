import { sql, type Transaction } from 'kysely';
import { atomically, type Database, type Db, type Executor } from '../db/database.js';
import { handOverLists } from '../lists/repository.js';
import type { Tables } from '../db/tables.js';
import { isUniqueViolation } from '../db/errors.js';

export interface AuthenticatedSession {
  sessionId: number;
  userId: number;
  isActive: boolean;
  lastUsedAt: string;
  expiresAt: string;
  /** Whether the user was a member of any list when the session was read. */
  inLists: boolean;
}

export interface Account {
  id: number;
  username: string;
  email: string;
  date_joined: string;
}

export interface SessionSummary {
  id: number;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  user_agent: string;
}

/** Case-folded form under which usernames are unique: `Alice` and `alice` are one account. */
export function usernameKey(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}

/**
 * Case-folded form under which an email address finds its accounts (a password reset for
 * `Ada@Example.com` reaches `ada@example.com`), as Django compares them.
 */
export function emailKey(email: string): string {
  return email.normalize('NFKC').toLowerCase();
}

export type AccountsRepository = ReturnType<typeof createAccountsRepository>;

export function createAccountsRepository({ db, dialect, prepare }: Database) {
  // Runs on every authenticated request: compiled once, cached by the database.
  const sessionByDigest = prepare((p: { digest: string; now: string }) =>
    db
      .selectFrom('auth_tokens as t')
      .innerJoin('users as u', 'u.id', 't.user_id')
      .select([
        't.id as sessionId',
        't.user_id as userId',
        'u.is_active as isActive',
        't.last_used_at as lastUsedAt',
        't.expires_at as expiresAt',
        // A caller in no list has an empty shared view: the first page then reads one part (tasks/).
        (eb) => eb.exists(eb.selectFrom('list_members as m').select('m.list_id').whereRef('m.user_id', '=', 't.user_id')).as('inLists'),
      ])
      .where('t.digest', '=', p.digest)
      .where('t.expires_at', '>', p.now),
  );

  return {
    async findSession(digest: string, now: string): Promise<AuthenticatedSession | undefined> {
      const row = (await sessionByDigest({ digest, now }))[0];
      return row && { ...row, isActive: Boolean(row.isActive), inLists: Boolean(row.inLists) };
    },

    async touchSession(sessionId: number, lastUsedAt: string, expiresAt: string): Promise<void> {
      await db
        .updateTable('auth_tokens')
        .set({ last_used_at: lastUsedAt, expires_at: expiresAt })
        .where('id', '=', sessionId)
        .execute();
    },

    /**
     * Starts a session for credentials checked at `sessionEpoch`; undefined when, meanwhile,
     * the user's sessions were revoked (password change, log out everywhere), the user was
     * deactivated or deleted. The check and the insert are one statement, and on PostgreSQL
     * the user's row is share-locked: a revocation in progress, which holds the row, is waited
     * for and then seen, so a session is never created behind its back.
     */
    async createSession(session: {
      userId: number;
      sessionEpoch: number;
      digest: string;
      /** A browser session's first refresh token (its id's digest). */
      refreshDigest?: string;
      userAgent: string;
      now: string;
      expiresAt: string;
    }): Promise<number | undefined> {
      const row = await db
        .insertInto('auth_tokens')
        .columns(['user_id', 'digest', 'refresh_digest', 'user_agent', 'created_at', 'last_used_at', 'expires_at'])
        .expression(
          db
            .selectFrom('users')
            .select((eb) => [
              'id',
              eb.val(session.digest).as('digest'),
              eb.val(session.refreshDigest ?? null).as('refresh_digest'),
              // Informational, so never a reason to refuse a login: PostgreSQL cannot store NUL
              // (Node's HTTP parser refuses it, but not every way in is Node's parser).
              eb.val(session.userAgent.replaceAll('\0', '')).as('user_agent'),
              eb.val(session.now).as('created_at'),
              eb.val(session.now).as('last_used_at'),
              eb.val(session.expiresAt).as('expires_at'),
            ])
            .where('id', '=', session.userId)
            .where('session_epoch', '=', session.sessionEpoch)
            .where('is_active', '=', true)
            .$if(dialect === 'postgres', (query) => query.forShare()),
        )
        .returning('id')
        .executeTakeFirst();
      return row?.id;
    },

    listSessions(userId: number, now: string): Promise<SessionSummary[]> {
      return db
        .selectFrom('auth_tokens')
        .select(['id', 'created_at', 'last_used_at', 'expires_at', 'user_agent'])
        .where('user_id', '=', userId)
        .where('expires_at', '>', now)
        .orderBy('last_used_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
    },

    /** Whether the user has this session. */
    async hasSession(userId: number, sessionId: number): Promise<boolean> {
      const row = await db.selectFrom('auth_tokens').select('id').where('user_id', '=', userId).where('id', '=', sessionId).executeTakeFirst();
      return row !== undefined;
    },

    /** Revokes one of the user's sessions; false when the user has no such session. */
    async deleteSession(userId: number, sessionId: number): Promise<boolean> {
      const result = await db
        .deleteFrom('auth_tokens')
        .where('user_id', '=', userId)
        .where('id', '=', sessionId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    /**
     * Logs the user out everywhere: every session ends, and logins still checking a password
     * cannot start one (the epoch moves). The user's row is locked first, as everywhere.
     */
    async revokeSessions(userId: number): Promise<void> {
      await atomically(db, (trx) => endSessions(trx, userId));
    },

    /** Expired sessions are refused on sight; this keeps the table from growing without bound. */
    async deleteExpiredSessions(now: string): Promise<number> {
      const result = await db.deleteFrom('auth_tokens').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    findCredentials(username: string) {
      return db
        .selectFrom('users')
        .select(['id', 'password', 'is_active', 'session_epoch'])
        .where('username_key', '=', usernameKey(username))
        .executeTakeFirst();
    },

    /** What checking the user's current password needs: the hash, and the policy's context. */
    findCredentialsById(userId: number) {
      return db.selectFrom('users').select(['username', 'email', 'password']).where('id', '=', userId).executeTakeFirst();
    },

    usernameTaken(username: string): Promise<boolean> {
      return db
        .selectFrom('users')
        .select(sql<number>`1`.as('taken'))
        .where('username_key', '=', usernameKey(username))
        .executeTakeFirst()
        .then((row) => row !== undefined);
    },

    /**
     * Creates the user (a superuser, staff too, for the command line's createsuperuser); undefined
     * when the username was taken meanwhile (the unique index decides).
     */
    async createUser(user: { username: string; email: string; passwordHash: string; now: string; superuser?: boolean }) {
      try {
        const row = await db
          .insertInto('users')
          .values({
            username: user.username,
            username_key: usernameKey(user.username),
            email: user.email,
            password: user.passwordHash,
            date_joined: user.now,
            ...(user.superuser ? { is_staff: true, is_superuser: true } : {}),
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        return row.id;
      } catch (error) {
        if (isUniqueViolation(error)) return undefined;
        throw error;
      }
    },

    /**
     * Replaces a hash of an older kind with a fresh one of the same password, only if the
     * stored hash is still `verifiedHash`: a password changed meanwhile is never overwritten
     * with the old one. The epoch stays, so other logins in flight are not disturbed.
     */
    async upgradePasswordHash(userId: number, verifiedHash: string, passwordHash: string): Promise<void> {
      await db
        .updateTable('users')
        .set({ password: passwordHash })
        .where('id', '=', userId)
        .where('password', '=', verifiedHash)
        .execute();
    },

    /**
     * Sets a new password if the stored hash is still the one the current password was checked
     * against, and ends every other session, in one transaction that starts by locking the
     * user's row; logins in flight cannot start a session afterwards (the epoch moves).
     */
    async changePassword(change: {
      userId: number;
      verifiedHash: string;
      passwordHash: string;
      keepSessionId: number;
    }): Promise<'changed' | CredentialsLost> {
      return db.transaction().execute(async (trx) => {
        const changed = await trx
          .updateTable('users')
          .set({ ...nextEpoch, password: change.passwordHash })
          .where('id', '=', change.userId)
          .where('password', '=', change.verifiedHash)
          .executeTakeFirst();
        if (Number(changed.numUpdatedRows) === 0) return credentialsLost(trx, change.userId);
        await trx
          .deleteFrom('auth_tokens')
          .where('user_id', '=', change.userId)
          .where('id', '!=', change.keepSessionId)
          .execute();
        return 'changed';
      });
    },

    async recordLogin(userId: number, now: string): Promise<void> {
      await db.updateTable('users').set({ last_login: now }).where('id', '=', userId).execute();
    },

    findAccount(userId: number): Promise<Account | undefined> {
      return db
        .selectFrom('users')
        .select(['id', 'username', 'email', 'date_joined'])
        .where('id', '=', userId)
        .executeTakeFirst();
    },

    async setEmail(userId: number, email: string): Promise<void> {
      await db.updateTable('users').set({ email }).where('id', '=', userId).execute();
    },

    /**
     * Blocks or unblocks a user; false when there is no such user. Blocking also ends their
     * sessions, which would otherwise work again if the user were unblocked.
     */
    async setActive(username: string, active: boolean): Promise<boolean> {
      return atomically(db, async (trx) => {
        const user = await trx.selectFrom('users').select('id').where('username_key', '=', usernameKey(username)).executeTakeFirst();
        if (user === undefined) return false;
        await setActiveById(trx, user.id, active);
        return true;
      });
    },

    /**
     * Deletes the user if the stored hash is still the one the password was checked against,
     * in one transaction: their lists are handed over first (lists/repository.ts), then their
     * sessions, personal tasks and deletion records go with the user's row (foreign keys cascade).
     */
    async deleteUser(userId: number, verifiedHash: string, now: string): Promise<'deleted' | CredentialsLost> {
      return atomically(db, async (trx) => {
        // A write first, of nothing: it takes the user's row before anything is read, only if
        // the checked password is still the user's.
        const held = await trx
          .updateTable('users')
          .set({ password: sql<string>`password` })
          .where('id', '=', userId)
          .where('password', '=', verifiedHash)
          .executeTakeFirst();
        if (Number(held.numUpdatedRows) === 0) return credentialsLost(trx, userId);
        await handOverLists(trx, userId, now);
        await trx.deleteFrom('users').where('id', '=', userId).execute();
        return 'deleted' as const;
      });
    },
  };
}

/**
 * Why a change conditional on checked credentials did nothing: the password was changed
 * meanwhile (`stale`), or the account was deleted (`missing`).
 */
export type CredentialsLost = 'stale' | 'missing';

async function credentialsLost(db: Db | Transaction<Tables>, userId: number): Promise<CredentialsLost> {
  const user = await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
  return user === undefined ? 'missing' : 'stale';
}

/** Moves a user's session epoch: sessions of credentials checked before cannot be created. */
const nextEpoch = { session_epoch: sql<number>`session_epoch + 1` };

/**
 * Ends every session of the user, and those of logins still checking a password (the epoch
 * moves), on the executor given: the user's row is written first, as everywhere. The number
 * of sessions ended.
 */
export async function endSessions(executor: Executor, userId: number): Promise<number> {
  await executor.updateTable('users').set(nextEpoch).where('id', '=', userId).execute();
  const result = await executor.deleteFrom('auth_tokens').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Blocks or unblocks the user. Blocking also ends their sessions, which would otherwise work
 * again if the user were unblocked.
 */
export async function setActiveById(executor: Executor, userId: number, active: boolean): Promise<void> {
  await executor.updateTable('users').set({ is_active: active }).where('id', '=', userId).execute();
  if (!active) await endSessions(executor, userId);
}
