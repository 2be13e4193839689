import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';

/**
 * JSON Web Tokens as SimpleJWT makes them (HS256, `token_type`, `user_id`, `jti`, `iat`, `exp`),
 * with the session they belong to (`sid`, a row of auth_tokens) and, in an access token, the
 * user's session epoch when it was issued.
 */
export type TokenType = 'access' | 'refresh';

export interface AccessClaims {
  userId: number;
  sessionId: number;
  epoch: number;
}

export interface RefreshClaims {
  userId: number;
  sessionId: number;
  /** The refresh token's id: what its session stores the digest of. */
  jti: string;
}

export interface Issued {
  token: string;
  expiresAt: Date;
}

/** The current time as JWTs count it: whole seconds. */
export const epochSeconds = () => Math.floor(Date.now() / 1000);

/** Three base64url parts: how a JWT is told from an opaque key in `Authorization: Bearer`. */
const JWT_FORM = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Far above any token issued here; longer text is refused before any work. */
const MAX_TOKEN_LENGTH = 2048;

export function looksLikeJwt(text: string): boolean {
  return text.length <= MAX_TOKEN_LENGTH && JWT_FORM.test(text);
}

/** A fresh refresh token id: 256 random bits. */
export function newRefreshId(): string {
  return randomBytes(32).toString('base64url');
}

export type TokenSigner = ReturnType<typeof createTokenSigner>;

export function createTokenSigner(key: Uint8Array, lifetimes: { accessSeconds: number; refreshSeconds: number }) {
  const sign = async (type: TokenType, claims: Record<string, unknown>, jti: string, seconds: number, issuedAt: number): Promise<Issued> => {
    const expiresAt = issuedAt + seconds;
    const token = await new SignJWT({ token_type: type, ...claims })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .setJti(jti)
      .sign(key);
    return { token, expiresAt: new Date(expiresAt * 1000) };
  };

  /** The payload of a token of this type signed with the key and not expired; undefined otherwise. */
  const verified = async (token: string, type: TokenType): Promise<Record<string, unknown> | undefined> => {
    if (!looksLikeJwt(token)) return undefined;
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'iat', 'jti'] });
      return payload.token_type === type && isId(payload.user_id) && isId(payload.sid) ? payload : undefined;
    } catch {
      return undefined;
    }
  };

  return {
    access: (claims: AccessClaims, issuedAt = epochSeconds()) =>
      sign('access', { user_id: claims.userId, sid: claims.sessionId, epoch: claims.epoch }, randomBytes(16).toString('base64url'), lifetimes.accessSeconds, issuedAt),

    refresh: (claims: RefreshClaims, issuedAt = epochSeconds()) =>
      sign('refresh', { user_id: claims.userId, sid: claims.sessionId }, claims.jti, lifetimes.refreshSeconds, issuedAt),

    /** When a refresh token issued at `issuedAt` expires, in epoch milliseconds. */
    refreshExpiry: (issuedAt: number) => (issuedAt + lifetimes.refreshSeconds) * 1000,

    async verifyAccess(token: string): Promise<AccessClaims | undefined> {
      const payload = await verified(token, 'access');
      if (payload === undefined || !Number.isSafeInteger(payload.epoch)) return undefined;
      return { userId: payload.user_id as number, sessionId: payload.sid as number, epoch: payload.epoch as number };
    },

    async verifyRefresh(token: string): Promise<RefreshClaims | undefined> {
      const payload = await verified(token, 'refresh');
      if (payload === undefined || typeof payload.jti !== 'string') return undefined;
      return { userId: payload.user_id as number, sessionId: payload.sid as number, jti: payload.jti };
    },
  };
}

function isId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}
