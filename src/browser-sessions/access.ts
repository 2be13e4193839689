import type { AccessTokens } from '../accounts/authenticate.js';
import { accountGone } from '../accounts/authenticate.js';
import { millisecondTimestamps } from '../db/clock.js';
import { ApiError } from '../http/errors.js';
import type { CookieJar } from './cookies.js';
import type { CsrfCheck } from './csrf.js';
import type { BrowserSessionsRepository } from './repository.js';
import { looksLikeJwt, type TokenSigner } from './tokens.js';

const TOKEN_INVALID = 'Token is invalid or expired';

/** SimpleJWT's refusal of an access token; every 401 keeps the contract's WWW-Authenticate. */
export const accessTokenRefused = () =>
  new ApiError(
    401,
    {
      detail: 'Given token not valid for any token type',
      code: 'token_not_valid',
      messages: [{ token_class: 'AccessToken', token_type: 'access', message: TOKEN_INVALID }],
    },
    { 'www-authenticate': 'Token' },
  );

/** SimpleJWT's refusal of the token given to the refresh or verify endpoint. */
export const tokenRefused = (message = TOKEN_INVALID) => new ApiError(401, { detail: message, code: 'token_not_valid' }, { 'www-authenticate': 'Token' });

/**
 * Access tokens as credentials on every authenticated endpoint. A valid signature is not
 * enough: the session must still exist and the user be active, read in one prepared statement
 * as for an opaque key, so that a logout, a revocation, a password change or a deactivation
 * through any process refuses the token at once.
 */
export function createAccessTokens(options: {
  signer: TokenSigner;
  sessions: BrowserSessionsRepository;
  cookies: CookieJar | undefined;
  csrf: CsrfCheck;
}): AccessTokens {
  const { signer, sessions, cookies, csrf } = options;
  const currentText = millisecondTimestamps();
  return {
    isAccessToken: looksLikeJwt,

    async authenticate(token) {
      const claims = await signer.verifyAccess(token);
      if (claims === undefined) throw accessTokenRefused();
      const session = await sessions.findLiveSession(claims.sessionId, claims.userId, currentText(Date.now()));
      // The epoch moves whenever all the user's sessions are revoked.
      if (session === undefined || session.epoch !== claims.epoch) throw accessTokenRefused();
      if (!session.isActive) throw accountGone();
      return { userId: claims.userId, sessionId: claims.sessionId };
    },

    fromCookie: (request) => cookies?.accessToken(request),

    checkCsrf(request) {
      csrf.cookieRequest(request);
    },
  };
}
