/**
 * The security headers OWASP's REST Security Cheat Sheet asks of an API: the replies are
 * JSON, so the browser is told to load nothing from them, never sniff their type, never frame
 * them, and never leak the URL onwards (the docs page sets its own policy). Computed once:
 * @fastify/helmet rebuilds its middleware on every request, which measured as the largest
 * single cost of a cached task read, and most of its headers concern HTML pages.
 */
export const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};
