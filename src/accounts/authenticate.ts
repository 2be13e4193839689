import type { FastifyRequest } from 'fastify';
import { millisecondTimestamps, now, secondsFromNow } from '../db/clock.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { unauthorized } from '../http/errors.js';
import type { AccountsRepository } from './repository.js';
import { tokenDigest } from './tokens.js';

export interface Caller {
  userId: number;
  sessionId: number;
  /** True when the user was in no list as the request was authenticated; unknown otherwise. */
  inNoList?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authenticate hook on routes that require a logged-in user. */
    caller: Caller | null;
  }
}

/**
 * Writing last_used_at at most this often keeps authenticated reads to a single query: once a
 * minute, or every tenth of the lifetime when that is shorter. A session in use is then always
 * extended well before it expires, and one left unused ends between nine tenths of its
 * lifetime and its whole lifetime after its last use.
 */
export function touchIntervalMs(tokenLifetimeSeconds: number): number {
  return Math.min(60_000, tokenLifetimeSeconds * 100);
}

/** For a request whose account was deleted after it was authenticated; DRF's words. */
export const accountGone = () => unauthorized('User inactive or deleted.');

const NOT_PROVIDED = 'Authentication credentials were not provided.';

/** Credentials beside opaque keys: the access tokens of browser sessions (browser-sessions/). */
export interface AccessTokens {
  /** Whether a Bearer credential is an access token (by its form) rather than an opaque key. */
  isAccessToken(credential: string): boolean;
  /** The caller an access token authenticates; refused with 401 otherwise. */
  authenticate(token: string): Promise<Caller>;
  /** In cookie mode, the access token cookie of the request. */
  fromCookie(request: FastifyRequest): string | undefined;
  /** The CSRF check of a request a cookie authenticated; refused with 403. */
  checkCsrf(request: FastifyRequest): void;
}

/**
 * `Authorization: Token <key>` as DRF's TokenAuthentication parses it (keyword in any letter
 * case), plus `Bearer <key>` and `Bearer <access token>`; without such a header, the access
 * token cookie in cookie mode, followed by the CSRF check. The messages are DRF's, so existing
 * clients can show them.
 */
export function createAuthenticate(accounts: AccountsRepository, tokenLifetimeSeconds: number, accessTokens?: AccessTokens) {
  const currentText = millisecondTimestamps();
  const touchDueText = millisecondTimestamps();
  const touchInterval = touchIntervalMs(tokenLifetimeSeconds);

  const byKey = async (key: string, request: FastifyRequest): Promise<Caller> => {
    const epochMs = Date.now();
    const session = await accounts.findSession(tokenDigest(key), currentText(epochMs));
    if (session === undefined) throw unauthorized('Invalid token.');
    if (!session.isActive) throw accountGone();

    // Stored timestamps compare as text on both databases.
    if (session.lastUsedAt <= touchDueText(epochMs - touchInterval)) {
      // Sliding expiry: a session in use keeps living; an idle one ends after its lifetime.
      // A database that cannot be written now (locked, full, read-only) must not refuse a
      // read: the session is extended at a later request instead.
      await accounts.touchSession(session.sessionId, now(), secondsFromNow(tokenLifetimeSeconds)).catch((error: unknown) => {
        if (!isDatabaseUnavailable(error)) throw error;
        request.log.warn({ err: error }, 'session not extended: the database cannot be written now');
      });
    }
    return { userId: session.userId, sessionId: session.sessionId, inNoList: !session.inLists };
  };

  return async function authenticate(request: FastifyRequest): Promise<void> {
    const presented = headerCredential(request.headers.authorization);
    if (presented !== undefined) {
      const { scheme, credential } = presented;
      const byToken = accessTokens !== undefined && scheme === 'bearer' && accessTokens.isAccessToken(credential);
      request.caller = byToken ? await accessTokens.authenticate(credential) : await byKey(credential, request);
      return;
    }
    // Cookies only when the header brings no credentials, and never without the CSRF check.
    const cookie = accessTokens?.fromCookie(request);
    if (cookie === undefined || cookie === '') throw unauthorized(NOT_PROVIDED);
    request.caller = await accessTokens!.authenticate(cookie);
    accessTokens!.checkCsrf(request);
  };
}

/** The scheme and credential of a `Token` or `Bearer` header; undefined for no header or another scheme. */
export function headerCredential(header: string | undefined): { scheme: 'token' | 'bearer'; credential: string } | undefined {
  const parts = header?.trim().split(/\s+/) ?? [];
  const scheme = parts[0]?.toLowerCase();
  if (scheme !== 'token' && scheme !== 'bearer') return undefined;
  if (parts.length === 1) throw unauthorized('Invalid token header. No credentials provided.');
  if (parts.length > 2) throw unauthorized('Invalid token header. Token string should not contain spaces.');
  return { scheme, credential: parts[1]! };
}

