import type { FastifyRequest } from 'fastify';
import type { Caller } from '../accounts/authenticate.js';
import { INVALID_CREDENTIALS, type SignedIn } from '../accounts/credentials.js';
import type { AccountsRepository } from '../accounts/repository.js';
import { generateToken, tokenDigest } from '../accounts/tokens.js';
import { millisecondTimestamps, now, timestampOf } from '../db/clock.js';
import { nonFieldError } from '../http/errors.js';
import { tokenRefused } from './access.js';
import { refreshDigest, type BrowserSessionsRepository } from './repository.js';
import { epochSeconds, newRefreshId, type Issued, type TokenSigner } from './tokens.js';

export interface TokenPair {
  access: Issued;
  refresh: Issued;
}

export type SessionIssuer = ReturnType<typeof createSessionIssuer>;

/**
 * Starting a browser session (a row of auth_tokens, listed and revoked as any session), and
 * rotating its refresh token: each use replaces it, and presenting a replaced one ends the
 * session.
 */
export function createSessionIssuer(options: {
  accounts: AccountsRepository;
  sessions: BrowserSessionsRepository;
  signer: TokenSigner;
}) {
  const { accounts, sessions, signer } = options;
  const currentText = millisecondTimestamps();

  return {
    /** A session for credentials just checked; refused as they would be if it was revoked meanwhile. */
    async start(request: FastifyRequest, user: SignedIn): Promise<TokenPair> {
      const jti = newRefreshId();
      const time = now();
      const issuedAt = epochSeconds();
      const sessionId = await accounts.createSession({
        userId: user.id,
        sessionEpoch: user.session_epoch,
        // A browser session has no opaque key: this is the digest of one nobody is ever given.
        digest: tokenDigest(generateToken()),
        refreshDigest: refreshDigest(jti),
        userAgent: (request.headers['user-agent'] ?? '').slice(0, 512),
        now: time,
        // The session lasts as long as its current refresh token.
        expiresAt: timestampOf(signer.refreshExpiry(issuedAt)),
      });
      if (sessionId === undefined) throw nonFieldError(INVALID_CREDENTIALS);
      const [access, refresh] = await Promise.all([
        signer.access({ userId: user.id, sessionId, epoch: user.session_epoch }, issuedAt),
        signer.refresh({ userId: user.id, sessionId, jti }, issuedAt),
      ]);
      return { access, refresh };
    },

    /** New tokens for a refresh token that is its session's current one; 401 otherwise. */
    async rotate(presented: string): Promise<TokenPair> {
      const claims = await signer.verifyRefresh(presented);
      if (claims === undefined) throw tokenRefused();
      const jti = newRefreshId();
      const refresh = await signer.refresh({ userId: claims.userId, sessionId: claims.sessionId, jti });
      const rotation = await sessions.rotateRefresh({
        sessionId: claims.sessionId,
        userId: claims.userId,
        presented: refreshDigest(claims.jti),
        next: refreshDigest(jti),
        now: now(),
        expiresAt: timestampOf(refresh.expiresAt.getTime()),
      });
      if (rotation.outcome !== 'rotated') throw tokenRefused();
      const access = await signer.access({ userId: claims.userId, sessionId: claims.sessionId, epoch: rotation.epoch });
      return { access, refresh };
    },

    /** Whether the token (access or refresh) would be accepted now; nothing changes. */
    async isLive(token: string): Promise<boolean> {
      const time = currentText(Date.now());
      const access = await signer.verifyAccess(token);
      if (access !== undefined) {
        const session = await sessions.findLiveSession(access.sessionId, access.userId, time);
        return session !== undefined && session.isActive && session.epoch === access.epoch;
      }
      const refresh = await signer.verifyRefresh(token);
      return refresh !== undefined && (await sessions.isCurrentRefresh(refresh.sessionId, refresh.userId, refreshDigest(refresh.jti), time));
    },

    /**
     * The session a signed, unexpired token (access or refresh, current or not) belongs to: what
     * a logout ends.
     */
    async sessionOf(token: string): Promise<Caller | undefined> {
      const claims = (await signer.verifyAccess(token)) ?? (await signer.verifyRefresh(token));
      return claims && { userId: claims.userId, sessionId: claims.sessionId };
    },
  };
}
