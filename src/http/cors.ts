import type { FastifyReply, FastifyRequest } from 'fastify';

const ALLOW_METHODS = 'DELETE, GET, OPTIONS, PATCH, POST, PUT';
// django-cors-headers' fixed default list, which the original's clients rely on, and the two
// conditional-request headers, so browser clients can send what ETags are for.
const ALLOW_HEADERS = 'accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with, if-match, if-none-match';
const PREFLIGHT_HEADERS = {
  'access-control-allow-methods': ALLOW_METHODS,
  'access-control-allow-headers': ALLOW_HEADERS,
  'access-control-max-age': '86400',
};
// Browsers hide every response header but a few safe ones from scripts unless told otherwise.
const EXPOSED_HEADERS = { 'access-control-expose-headers': 'ETag' };
// Cookie mode: browsers send cookies to allowed origins' credentialed requests and let their
// scripts read the replies, and the CSRF token a login sets is readable there.
const CREDENTIALED = { 'access-control-allow-credentials': 'true' };
const CREDENTIALED_PREFLIGHT_HEADERS = { ...PREFLIGHT_HEADERS, ...CREDENTIALED };
const CREDENTIALED_EXPOSED_HEADERS = { 'access-control-expose-headers': 'ETag, X-CSRFToken', ...CREDENTIALED };

/**
 * CORS exactly as the original's django-cors-headers answers: every reply varies by Origin;
 * allowed origins are echoed on replies of any status; a preflight (on any path, before
 * routing and authentication) answers 200 with an empty body, and carries the Access-Control
 * headers only for an allowed origin. @fastify/cors treats every OPTIONS request as a preflight
 * and sends preflight headers to disallowed origins, so this small step is used instead.
 *
 * With `credentials` (cookie mode), allowed origins, and only they, may send credentialed requests.
 *
 * Returns true when it answered the request (a preflight).
 */
export function corsStep(allowedOrigins: readonly string[], { credentials }: { credentials: boolean }) {
  const allowed = new Set(allowedOrigins);
  const preflightHeaders = credentials ? CREDENTIALED_PREFLIGHT_HEADERS : PREFLIGHT_HEADERS;
  const exposedHeaders = credentials ? CREDENTIALED_EXPOSED_HEADERS : EXPOSED_HEADERS;
  return (request: FastifyRequest, reply: FastifyReply): boolean => {
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
    if (origin !== undefined && allowed.has(origin)) {
      reply.header('access-control-allow-origin', origin);
      reply.headers(preflight ? preflightHeaders : exposedHeaders);
    }
    if (!preflight) return false;
    reply.code(200).header('content-length', '0').send();
    return true;
  };
}
