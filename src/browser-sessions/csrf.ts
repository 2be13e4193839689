import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { detail } from '../http/errors.js';

/** Django's names: the double-submit cookie, and the header that must repeat it. */
export const CSRF_COOKIE = 'csrftoken';
export const CSRF_HEADER = 'x-csrftoken';

/** Methods that change nothing, as Django counts them: no CSRF check. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** DRF's words for a refused request. */
const csrfFailed = (reason: string) => detail(403, `CSRF Failed: ${reason}`);

/** A fresh double-submit token: 256 random bits. */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

export type CsrfCheck = ReturnType<typeof createCsrfCheck>;

/**
 * Protection for requests authenticated by a cookie, which a browser would attach to a request
 * another site makes it send:
 * - the request must come from a trusted origin (the allowed CORS origins, or the API's own):
 *   its Origin header, or without one its Referer's origin, and one of them must be there;
 * - it must repeat the `csrftoken` cookie in an `X-CSRFToken` header, which another site can
 *   neither read nor send (a custom header needs a preflight, which only allowed origins pass).
 */
export function createCsrfCheck(allowedOrigins: readonly string[], readCookie: (request: FastifyRequest, name: string) => string | undefined) {
  const trusted = new Set(allowedOrigins);
  const isTrusted = (request: FastifyRequest, origin: string) => trusted.has(origin) || origin === `${request.protocol}://${request.host}`;

  /** Why the request's origin is not trusted; undefined when it is. `required`: a browser request must name one. */
  const originProblem = (request: FastifyRequest, required: boolean): string | undefined => {
    const origin = request.headers.origin;
    if (origin !== undefined) return isTrusted(request, origin) ? undefined : `Origin checking failed - ${origin} does not match any trusted origins.`;
    const referer = request.headers.referer;
    if (referer === undefined) return required ? 'Referer checking failed - no Referer.' : undefined;
    let refererOrigin: string;
    try {
      refererOrigin = new URL(referer).origin;
    } catch {
      return 'Referer checking failed - Referer is malformed.';
    }
    return isTrusted(request, refererOrigin) ? undefined : `Referer checking failed - ${referer} does not match any trusted origins.`;
  };

  return {
    /**
     * For a request a cookie authenticates: an unsafe one is refused unless it passes both
     * checks. Returns the double-submit token it carried, to be kept.
     */
    cookieRequest(request: FastifyRequest): string | undefined {
      if (SAFE_METHODS.has(request.method)) return undefined;
      const problem = originProblem(request, true);
      if (problem !== undefined) throw csrfFailed(problem);
      const cookie = readCookie(request, CSRF_COOKIE);
      if (cookie === undefined || cookie === '') throw csrfFailed('CSRF cookie not set.');
      const header = request.headers[CSRF_HEADER];
      if (typeof header !== 'string' || header === '') throw csrfFailed('CSRF token missing.');
      if (!sameText(cookie, header)) throw csrfFailed('CSRF token incorrect.');
      return cookie;
    },

    /**
     * For logins and sign-ups in cookie mode, which no cookie authenticates: a browser names the
     * page's origin, and another site's page must not sign the browser in to an account of its
     * choosing. Clients that are not browsers send neither header and are let through.
     */
    browserOrigin(request: FastifyRequest): void {
      const problem = originProblem(request, false);
      if (problem !== undefined) throw csrfFailed(problem);
    },
  };
}

/** Compared in constant time: digests have one length whatever the texts. */
function sameText(a: string, b: string): boolean {
  return timingSafeEqual(hash('sha256', a, 'buffer'), hash('sha256', b, 'buffer'));
}
