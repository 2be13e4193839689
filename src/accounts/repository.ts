import { sql } from 'kysely';
import type { Database } from '../db/database.js';
import { isUniqueViolation } from '../db/errors.js';

export interface AuthenticatedSession {
  sessionId: number;
  userId: number;
  isActive: boolean;
  lastUsedAt: string;
  expiresAt: string;
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

export type AccountsRepository = ReturnType<typeof createAccountsRepository>;

export function createAccountsRepository({ db, prepare }: Database) {
  // Runs on every authenticated request: compiled once, cached by the database.
  // Parameters: token digest, current time.
  const sessionByDigest = prepare(
    db
      .selectFrom('auth_tokens as t')
      .innerJoin('users as u', 'u.id', 't.user_id')
      .select([
        't.id as sessionId',
        't.user_id as userId',
        'u.is_active as isActive',
        't.last_used_at as lastUsedAt',
        't.expires_at as expiresAt',
      ])
      .where('t.digest', '=', '')
      .where('t.expires_at', '>', ''),
  );

  return {
    async findSession(digest: string, now: string): Promise<AuthenticatedSession | undefined> {
      const row = (await sessionByDigest(digest, now))[0];
      return row && { ...row, isActive: Boolean(row.isActive) };
    },

    async touchSession(sessionId: number, lastUsedAt: string, expiresAt: string): Promise<void> {
      await db
        .updateTable('auth_tokens')
        .set({ last_used_at: lastUsedAt, expires_at: expiresAt })
        .where('id', '=', sessionId)
        .execute();
    },

    async createSession(session: {
      userId: number;
      digest: string;
      userAgent: string;
      now: string;
      expiresAt: string;
    }): Promise<number> {
      const row = await db
        .insertInto('auth_tokens')
        .values({
          user_id: session.userId,
          digest: session.digest,
          user_agent: session.userAgent,
          created_at: session.now,
          last_used_at: session.now,
          expires_at: session.expiresAt,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
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

    /** Revokes one of the user's sessions; false when the user has no such session. */
    async deleteSession(userId: number, sessionId: number): Promise<boolean> {
      const result = await db
        .deleteFrom('auth_tokens')
        .where('user_id', '=', userId)
        .where('id', '=', sessionId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async deleteSessions(userId: number, options: { except?: number } = {}): Promise<number> {
      let query = db.deleteFrom('auth_tokens').where('user_id', '=', userId);
      if (options.except !== undefined) query = query.where('id', '!=', options.except);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /** Expired sessions are refused on sight; this keeps the table from growing without bound. */
    async deleteExpiredSessions(now: string): Promise<number> {
      const result = await db.deleteFrom('auth_tokens').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    findCredentials(username: string) {
      return db
        .selectFrom('users')
        .select(['id', 'password', 'is_active'])
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

    /** Creates the user; undefined when the username was taken meanwhile (the unique index decides). */
    async createUser(user: { username: string; email: string; passwordHash: string; now: string }) {
      try {
        const row = await db
          .insertInto('users')
          .values({
            username: user.username,
            username_key: usernameKey(user.username),
            email: user.email,
            password: user.passwordHash,
            date_joined: user.now,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        return row.id;
      } catch (error) {
        if (isUniqueViolation(error)) return undefined;
        throw error;
      }
    },

    async setPasswordHash(userId: number, passwordHash: string): Promise<void> {
      await db.updateTable('users').set({ password: passwordHash }).where('id', '=', userId).execute();
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
      return db.transaction().execute(async (trx) => {
        const user = await trx
          .updateTable('users')
          .set({ is_active: active })
          .where('username_key', '=', usernameKey(username))
          .returning('id')
          .executeTakeFirst();
        if (user === undefined) return false;
        if (!active) await trx.deleteFrom('auth_tokens').where('user_id', '=', user.id).execute();
        return true;
      });
    },

    /** Deletes the user; their sessions and tasks go with them (foreign keys cascade). */
    async deleteUser(userId: number): Promise<void> {
      await db.deleteFrom('users').where('id', '=', userId).execute();
    },
  };
}
