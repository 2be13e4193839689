import type { FastifyInstance } from 'fastify';
import { corsStep } from './cors.js';
import { detail } from './errors.js';
import { hostCheck, slashRedirect } from './routing.js';

/**
 * Helmet's default headers, adapted to an API that serves JSON: the page-oriented CSP becomes
 * "load nothing, never framed" (the docs page sets its own). Computed once: @fastify/helmet
 * rebuilds its middleware on every request, which measured as the largest single cost of a
 * cached task read.
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

/**
 * What every request meets first, in the original's order: security headers, CORS (a
 * preflight is answered here, on any path, without authentication), the Host check, then the
 * trailing-slash redirect. One synchronous hook, since it runs on every request.
 */
export function registerFrontDoor(app: FastifyInstance, options: { corsAllowedOrigins: string[]; allowedHosts: string[] }): void {
  const cors = corsStep(options.corsAllowedOrigins);
  const hostAllowed = hostCheck(options.allowedHosts);
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(SECURITY_HEADERS);
    if (cors(request, reply)) return;
    if (!hostAllowed(request)) return done(detail(400, 'Invalid host header.'));
    if (slashRedirect(request, reply)) return;
    done();
  });
}
