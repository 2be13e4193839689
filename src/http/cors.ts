import type { FastifyReply, FastifyRequest } from 'fastify';

const ALLOW_METHODS = 'DELETE, GET, OPTIONS, PATCH, POST, PUT';
// django-cors-headers' fixed default list, which the original's clients rely on.
const ALLOW_HEADERS = 'accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with';
const PREFLIGHT_HEADERS = {
  'access-control-allow-methods': ALLOW_METHODS,
  'access-control-allow-headers': ALLOW_HEADERS,
  'access-control-max-age': '86400',
};

/**
 * CORS exactly as the original's django-cors-headers answers: every reply varies by Origin;
 * allowed origins are echoed on replies of any status; a preflight (on any path, before
 * routing and authentication) answers 200 with an empty body, and carries the Access-Control
 * headers only for an allowed origin. @fastify/cors treats every OPTIONS request as a preflight
 * and sends preflight headers to disallowed origins, so this small step is used instead.
 *
 * Returns true when it answered the request (a preflight).
 */
export function corsStep(allowedOrigins: readonly string[]) {
  const allowed = new Set(allowedOrigins);
  return (request: FastifyRequest, reply: FastifyReply): boolean => {
    reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    const originAllowed = origin !== undefined && allowed.has(origin);
    if (originAllowed) reply.header('access-control-allow-origin', origin);

    if (request.method !== 'OPTIONS' || request.headers['access-control-request-method'] === undefined) return false;
    if (originAllowed) reply.headers(PREFLIGHT_HEADERS);
    reply.code(200).header('content-length', '0').send();
    return true;
  };
}
