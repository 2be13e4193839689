import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { hash } from '@node-rs/argon2';
import type { FastifyInstance } from 'fastify';
import { timestampOf } from '../../src/db/clock.js';
import type { Database } from '../../src/db/database.js';
import { usernameKey } from '../../src/accounts/repository.js';

/** A user's session rows as stored, oldest first, for checking what a request did to them. */
export function storedSessions(database: Database, userId: number) {
  return database.db.selectFrom('auth_tokens').selectAll().where('user_id', '=', userId).orderBy('id').execute();
}

/** The user row as stored (password hash included), or undefined once deleted. */
export function storedUser(database: Database, userId: number) {
  return database.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
}

export async function countRows(database: Database, table: 'users' | 'auth_tokens' | 'tasks'): Promise<number> {
  const row = await database.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** A timestamp `seconds` away from now (negative for the past), as the database stores them. */
export function timestampIn(seconds: number): string {
  return timestampOf(Date.now() + seconds * 1000);
}

/** Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`, computed as Django does. */
export function djangoPbkdf2(password: string, iterations = 600_000, salt = randomBytes(16).toString('base64url').slice(0, 22)) {
  const hash = pbkdf2Sync(password, salt, iterations, 32, 'sha256').toString('base64');
  return `pbkdf2_sha256$${iterations}$${salt}$${hash}`;
}

/**
 * Django's Argon2PasswordHasher: `argon2` followed by the standard encoded hash, of a salt of 22
 * letters and digits, with Django's parameters unless a test asks for cheaper ones.
 */
export async function djangoArgon2(password: string, { memoryCost = 102_400, timeCost = 2, parallelism = 8 } = {}) {
  const salt = randomBytes(16).toString('base64').replace(/[^A-Za-z0-9]/g, '').padEnd(22, 'x').slice(0, 22);
  return `argon2${await hash(password, { algorithm: 2, memoryCost, timeCost, parallelism, salt: Buffer.from(salt) })}`;
}

/** Inserts a user row directly, as an import from the original's database would. */
export async function insertUser(
  database: Database,
  user: { username: string; password: string; email?: string; isActive?: boolean },
): Promise<number> {
  const row = await database.db
    .insertInto('users')
    .values({
      username: user.username,
      username_key: usernameKey(user.username),
      email: user.email ?? '',
      password: user.password,
      is_active: user.isActive ?? true,
      date_joined: timestampIn(0),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Creates a session row directly, as one made before an import would be; returns its token. */
export async function insertSession(database: Database, userId: number): Promise<string> {
  const token = randomBytes(20).toString('hex');
  await database.db
    .insertInto('auth_tokens')
    .values({
      user_id: userId,
      digest: createHash('sha256').update(token).digest('hex'),
      created_at: timestampIn(0),
      last_used_at: timestampIn(0),
      expires_at: timestampIn(3600),
      user_agent: '',
    })
    .execute();
  return token;
}

export function postLogin(app: FastifyInstance, username: string, password: string, extra: { remoteAddress?: string; headers?: Record<string, string> } = {}) {
  return app.inject({ method: 'POST', url: '/api/login/', payload: { username, password }, ...extra });
}

export const CREDENTIALS_REFUSED = { non_field_errors: ['Unable to log in with provided credentials.'] };
export const INVALID_TOKEN = { detail: 'Invalid token.' };
