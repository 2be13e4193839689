import type { FastifyInstance } from 'fastify';
import { corsStep } from './cors.js';
import { detail } from './errors.js';
import { hostCheck, slashRedirect } from './routing.js';

/**
 * The security headers OWASP's REST Security Cheat Sheet asks of an API: the replies are
 * JSON, so the browser is told to load nothing from them, never sniff their type, never frame
 * them, and never leak the URL onwards (the docs page sets its own policy). Computed once:
 * @fastify/helmet rebuilds its middleware on every request, which measured as the largest
 * single cost of a cached task read, and most of its headers concern HTML pages.
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
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
