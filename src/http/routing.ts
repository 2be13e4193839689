import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Like Django's ALLOWED_HOSTS: a request for another Host is refused, which defeats
 * Host-header poisoning of absolute URLs (pagination links, the root's links).
 */
export function hostCheck(allowedHosts: readonly string[]): (request: FastifyRequest) => boolean {
  if (allowedHosts.includes('*')) return () => true;
  const exact = new Set(allowedHosts.filter((host) => !host.startsWith('.')));
  // `.example.com` allows example.com and every subdomain, as in Django.
  const suffixes = allowedHosts.filter((host) => host.startsWith('.'));
  return (request) => {
    const host = hostWithoutPort(request.headers.host ?? '').toLowerCase();
    return exact.has(host) || suffixes.some((suffix) => host.endsWith(suffix) || host === suffix.slice(1));
  };
}

function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/**
 * All URLs end with a slash. The router ignores a missing one; a GET or HEAD without it is
 * redirected (as Django's APPEND_SLASH does), while other methods are answered as if it were
 * there, because a redirect would lose their body. Returns true when it answered.
 */
export function slashRedirect(request: FastifyRequest, reply: FastifyReply): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const route = request.routeOptions.url;
  // Unknown URLs get their 404; routes declared without a slash (the docs) are left alone.
  if (route === undefined || !route.endsWith('/')) return false;
  const queryStart = request.url.indexOf('?');
  const path = queryStart === -1 ? request.url : request.url.slice(0, queryStart);
  if (path.endsWith('/')) return false;
  const query = queryStart === -1 ? '' : request.url.slice(queryStart);
  reply.code(301).header('location', `${path}/${query}`).send();
  return true;
}
