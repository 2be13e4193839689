import { sql } from 'kysely';
import { tokenDigest } from '../accounts/tokens.js';
import { usernameKey } from '../accounts/repository.js';
import { isUniqueViolation } from '../db/errors.js';
import { atomically, type Database } from '../db/database.js';

/** A browser session as an access token's check needs it. */
export interface LiveSession {
  isActive: boolean;
  epoch: number;
}

/** What presenting a refresh token did to its session. */
export type Rotation =
  | { outcome: 'rotated'; epoch: number }
  /** An earlier token of a live session: it was stolen, or the client replayed it; the session ended. */
  | { outcome: 'reused' }
  /** The session ended already (logout, revocation, password change, expiry) or the user is inactive. */
  | { outcome: 'gone' };

/** dj-rest-auth's user details. */
export interface UserDetails {
  pk: number;
  username: string;
  email: string;
  first_name: string;
  last_name: string;
}

export type DetailsChange = Partial<Omit<UserDetails, 'pk'>>;

/** A refresh token's id as its session stores it. */
export const refreshDigest = tokenDigest;

export type BrowserSessionsRepository = ReturnType<typeof createBrowserSessionsRepository>;

/**
 * All SQL of browser sessions. Their rows are the accounts' sessions (auth_tokens), created by
 * the accounts' createSession; what is theirs alone is the refresh token's digest and its
 * rotation.
 */
export function createBrowserSessionsRepository({ db, dialect, prepare }: Database) {
  // Runs on every request an access token authenticates: compiled once, cached by the database.
  const sessionById = prepare((p: { sessionId: number; userId: number; now: string }) =>
    db
      .selectFrom('auth_tokens as t')
      .innerJoin('users as u', 'u.id', 't.user_id')
      .select(['u.is_active as isActive', 'u.session_epoch as epoch'])
      .where('t.id', '=', p.sessionId)
      .where('t.user_id', '=', p.userId)
      .where('t.expires_at', '>', p.now),
  );

  return {
    async findLiveSession(sessionId: number, userId: number, now: string): Promise<LiveSession | undefined> {
      const row = (await sessionById({ sessionId, userId, now }))[0];
      return row && { isActive: Boolean(row.isActive), epoch: Number(row.epoch) };
    },

    /** Whether `digest` is the session's current refresh token. */
    async isCurrentRefresh(sessionId: number, userId: number, digest: string, now: string): Promise<boolean> {
      const row = await db
        .selectFrom('auth_tokens')
        .select('id')
        .where('id', '=', sessionId)
        .where('user_id', '=', userId)
        .where('refresh_digest', '=', digest)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return row !== undefined;
    },

    /**
     * Replaces the session's refresh token if `presented` is its current one, extending the
     * session to the new token's expiry. Any other refresh token of the session is an earlier
     * one, already used: the session ends. One conditional update decides, so of two requests
     * presenting the same token only one can rotate it; the other then ends the session. The
     * user's row is read (share-locked on PostgreSQL) first, as everywhere: a revocation in
     * progress is waited for, then seen.
     */
    async rotateRefresh(change: { sessionId: number; userId: number; presented: string; next: string; now: string; expiresAt: string }): Promise<Rotation> {
      return atomically(db, async (trx) => {
        const user = await trx
          .selectFrom('users')
          .select(['is_active', 'session_epoch'])
          .where('id', '=', change.userId)
          .$if(dialect === 'postgres', (query) => query.forShare())
          .executeTakeFirst();
        if (user === undefined || !user.is_active) return { outcome: 'gone' } as const;
        const rotated = await trx
          .updateTable('auth_tokens')
          .set({ refresh_digest: change.next, last_used_at: change.now, expires_at: change.expiresAt })
          .where('id', '=', change.sessionId)
          .where('user_id', '=', change.userId)
          .where('refresh_digest', '=', change.presented)
          .where('expires_at', '>', change.now)
          .executeTakeFirst();
        if (Number(rotated.numUpdatedRows) === 1) return { outcome: 'rotated', epoch: Number(user.session_epoch) } as const;
        const ended = await trx
          .deleteFrom('auth_tokens')
          .where('id', '=', change.sessionId)
          .where('user_id', '=', change.userId)
          .where('refresh_digest', 'is not', null)
          .executeTakeFirst();
        return { outcome: Number(ended.numDeletedRows) > 0 ? 'reused' : 'gone' } as const;
      });
    },

    /** Ends one of the user's browser sessions; false when it was gone already. */
    async endSession(sessionId: number, userId: number): Promise<boolean> {
      const result = await db
        .deleteFrom('auth_tokens')
        .where('id', '=', sessionId)
        .where('user_id', '=', userId)
        .where('refresh_digest', 'is not', null)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    findUserDetails(userId: number): Promise<UserDetails | undefined> {
      return db
        .selectFrom('users')
        .select(['id as pk', 'username', 'email', 'first_name', 'last_name'])
        .where('id', '=', userId)
        .executeTakeFirst();
    },

    /** Whether another account has this username (its case-folded form). */
    async usernameTakenByOther(username: string, userId: number): Promise<boolean> {
      const row = await db
        .selectFrom('users')
        .select(sql<number>`1`.as('taken'))
        .where('username_key', '=', usernameKey(username))
        .where('id', '!=', userId)
        .executeTakeFirst();
      return row !== undefined;
    },

    /** Writes the given details; 'taken' when another account took the username meanwhile. */
    async updateUserDetails(userId: number, change: DetailsChange): Promise<'updated' | 'taken'> {
      if (Object.keys(change).length === 0) return 'updated';
      const username = change.username === undefined ? {} : { username: change.username, username_key: usernameKey(change.username) };
      try {
        await db
          .updateTable('users')
          .set({ ...change, ...username })
          .where('id', '=', userId)
          .execute();
        return 'updated';
      } catch (error) {
        if (isUniqueViolation(error)) return 'taken';
        throw error;
      }
    },
  };
}
