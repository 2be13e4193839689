import { sql } from 'kysely';
import { emailKey, endSessions } from '../accounts/repository.js';
import { tokenDigest } from '../accounts/tokens.js';
import { atomically, type Database, type Executor } from '../db/database.js';
import { accountFingerprint, generateResetToken } from './tokens.js';

/** The account a reset link names, as the confirmation checks it. */
export interface ResetAccount {
  id: number;
  username: string;
  email: string;
  password: string;
  isActive: boolean;
}

/** A link issued to an account: its token, and where and to whom it goes. */
export type Issued =
  | { issued: true; userId: number; token: string; username: string; email: string }
  | { issued: false; reason: 'account changed' | 'too many outstanding links' };

export type PasswordResetRepository = ReturnType<typeof createPasswordResetRepository>;

export function createPasswordResetRepository({ db, dialect }: Database) {
  /**
   * The account's row, locked against other writers of it on PostgreSQL (and every security
   * change, which writes the row first); SQLite's transaction holds the write lock already.
   */
  const lockAccount = (trx: Executor, userId: number) =>
    trx
      .selectFrom('users')
      .select(['username', 'email', 'password', 'is_active'])
      .where('id', '=', userId)
      .$if(dialect === 'postgres', (query) => query.forNoKeyUpdate())
      .executeTakeFirst();

  return {
    /**
     * The active accounts with this email address, regardless of letter case, that have a
     * usable password (Django's unusable `!…` hashes get no link, as in its reset form).
     * The index on `lower(email)` finds the candidates (both databases fold ASCII alike);
     * emailKey decides.
     */
    async accountsWithEmail(email: string): Promise<number[]> {
      const rows = await db
        .selectFrom('users')
        .select(['id', 'email'])
        .where(sql`lower(email)`, '=', sql`lower(${email})`)
        .where('is_active', '=', true)
        .where('password', 'not like', '!%')
        .orderBy('id')
        .execute();
      return rows.filter((row) => emailKey(row.email) === emailKey(email)).map((row) => row.id);
    },

    /**
     * Issues a link to the account if it still has this address and is active, and has fewer
     * than `maxOutstanding` links that still work; dead links (expired, or of an earlier
     * password or address) are removed first. The account's row is locked, so requests in
     * parallel cannot pass the cap together.
     */
    async issue(userId: number, email: string, limits: { now: string; expiresAt: string; maxOutstanding: number }): Promise<Issued> {
      return atomically(db, async (trx) => {
        const account = await lockAccount(trx, userId);
        if (account === undefined || !account.is_active || emailKey(account.email) !== emailKey(email)) {
          return { issued: false, reason: 'account changed' };
        }
        const fingerprint = accountFingerprint(account);
        await trx
          .deleteFrom('password_reset_tokens')
          .where('user_id', '=', userId)
          .where((eb) => eb.or([eb('expires_at', '<=', limits.now), eb('account_fingerprint', '!=', fingerprint)]))
          .execute();
        const { count } = await trx
          .selectFrom('password_reset_tokens')
          .select((eb) => eb.fn.countAll<number | string>().as('count'))
          .where('user_id', '=', userId)
          .executeTakeFirstOrThrow();
        if (Number(count) >= limits.maxOutstanding) return { issued: false, reason: 'too many outstanding links' };
        const token = generateResetToken();
        await trx
          .insertInto('password_reset_tokens')
          .values({
            user_id: userId,
            digest: tokenDigest(token),
            account_fingerprint: fingerprint,
            created_at: limits.now,
            expires_at: limits.expiresAt,
          })
          .execute();
        return { issued: true, userId, token, username: account.username, email: account.email };
      });
    },

    async findAccount(userId: number): Promise<ResetAccount | undefined> {
      const row = await db
        .selectFrom('users')
        .select(['id', 'username', 'email', 'password', 'is_active'])
        .where('id', '=', userId)
        .executeTakeFirst();
      return row && { id: row.id, username: row.username, email: row.email, password: row.password, isActive: Boolean(row.is_active) };
    },

    /** Whether the link works for the account as read: issued to it as it is now, not expired. */
    async isOutstanding(account: ResetAccount, digest: string, now: string): Promise<boolean> {
      if (!account.isActive) return false;
      const row = await db
        .selectFrom('password_reset_tokens')
        .select('id')
        .where('user_id', '=', account.id)
        .where('digest', '=', digest)
        .where('account_fingerprint', '=', accountFingerprint(account))
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return row !== undefined;
    },

    /**
     * Uses the link up and sets the new password, if the link still works for the account as
     * it is now; ends every session of the account (endSessions, as a password change does).
     * One transaction, the account's row first: of two confirmations of one link in
     * parallel, the second sees the new password and finds no link. False when the link did
     * not work.
     */
    async resetPassword(reset: { userId: number; digest: string; passwordHash: string; now: string }): Promise<boolean> {
      return atomically(db, async (trx) => {
        const account = await lockAccount(trx, reset.userId);
        if (account === undefined || !account.is_active) return false;
        const used = await trx
          .deleteFrom('password_reset_tokens')
          .where('user_id', '=', reset.userId)
          .where('digest', '=', reset.digest)
          .where('account_fingerprint', '=', accountFingerprint(account))
          .where('expires_at', '>', reset.now)
          .executeTakeFirst();
        if (Number(used.numDeletedRows) === 0) return false;
        await trx.updateTable('users').set({ password: reset.passwordHash }).where('id', '=', reset.userId).execute();
        await endSessions(trx, reset.userId);
        // The account's other links died with its password; they go now rather than at expiry.
        await trx.deleteFrom('password_reset_tokens').where('user_id', '=', reset.userId).execute();
        return true;
      });
    },

    async deleteExpired(now: string): Promise<number> {
      const result = await db.deleteFrom('password_reset_tokens').where('expires_at', '<=', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
