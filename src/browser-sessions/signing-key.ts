import { randomBytes } from 'node:crypto';
import { now } from '../db/clock.js';
import { atomically, type Executor } from '../db/database.js';

const KEY_ROW = 1;

/** 256 random bits, as base64url text. */
const newSecret = () => randomBytes(32).toString('base64url');

/**
 * The key that signs browser sessions' tokens: the configured one, else the one kept in the
 * database, created by whichever process asks first (an insert that does nothing if another
 * process's is there), so every process shares it and a restart keeps sessions.
 */
export async function loadSigningKey(executor: Executor, configured: string | undefined): Promise<Uint8Array> {
  if (configured !== undefined) return new TextEncoder().encode(configured);
  await executor
    .insertInto('jwt_signing_key')
    .values({ id: KEY_ROW, secret: newSecret(), created_at: now() })
    .onConflict((conflict) => conflict.column('id').doNothing())
    .execute();
  const row = await executor.selectFrom('jwt_signing_key').select('secret').where('id', '=', KEY_ROW).executeTakeFirstOrThrow();
  return new TextEncoder().encode(row.secret);
}

/**
 * Replaces the stored key and ends every browser session in the same transaction: tokens signed
 * with the old key are refused at once by every process (their sessions are gone), and
 * processes sign with the new key from their next start. The number of sessions ended.
 */
export async function rotateSigningKey(executor: Executor): Promise<number> {
  return atomically(executor, async (trx) => {
    const replacement = { secret: newSecret(), created_at: now() };
    await trx
      .insertInto('jwt_signing_key')
      .values({ id: KEY_ROW, ...replacement })
      .onConflict((conflict) => conflict.column('id').doUpdateSet(replacement))
      .execute();
    const ended = await trx.deleteFrom('auth_tokens').where('refresh_digest', 'is not', null).executeTakeFirst();
    return Number(ended.numDeletedRows);
  });
}
