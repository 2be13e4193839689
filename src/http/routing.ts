import type { FastifyInstance } from 'fastify';
import { detail } from './errors.js';

/**
 * Like Django's ALLOWED_HOSTS: a request for another Host is refused, which defeats
 * Host-header poisoning of absolute URLs (pagination links, redirects).
 */
export function registerHostCheck(app: FastifyInstance, allowedHosts: readonly string[]): void {
  if (allowedHosts.includes('*')) return;
  const exact = new Set(allowedHosts.filter((host) => !host.startsWith('.')));
  // `.example.com` allows example.com and every subdomain, as in Django.
  const suffixes = allowedHosts.filter((host) => host.startsWith('.'));
  app.addHook('onRequest', async (request) => {
    const host = hostWithoutPort(request.headers.host ?? '').toLowerCase();
    if (exact.has(host) || suffixes.some((suffix) => host.endsWith(suffix) || host === suffix.slice(1))) return;
    throw detail(400, 'Invalid host header.');
  });
}

function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/**
 * All URLs end with a slash. The router ignores a missing one; a GET or HEAD without it is
 * redirected (as Django's APPEND_SLASH does), while other methods are answered as if it were
 * there, because a redirect would lose their body.
 */
export function registerSlashRedirect(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return;
    const route = request.routeOptions.url;
    // Unknown URLs get their 404; routes declared without a slash (the docs) are left alone.
    if (route === undefined || !route.endsWith('/')) return;
    const [path, query] = splitUrl(request.url);
    if (path.endsWith('/')) return;
    return reply.code(301).header('location', `${path}/${query}`).send();
  });
}

function splitUrl(url: string): [string, string] {
  const index = url.indexOf('?');
  return index === -1 ? [url, ''] : [url.slice(0, index), url.slice(index)];
}
