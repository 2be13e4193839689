import { isIPv6 } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';

// Django's host syntax: a DNS name (or IPv4 address) with an optional trailing dot, or an IPv6
// literal in brackets; then an optional port. Nothing else: no user information (`a@b`), no
// empty or non-numeric port, no zone identifier.
const DNS_NAME = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?$/i;
const IPV6_TEXT = /^[0-9a-f:.]+$/i;
const PORT = /^:[1-9]\d{0,4}$/;
// 253 characters of name, a port, and the brackets of an IPv6 literal.
const MAX_HOST_LENGTH = 253 + 6 + 2;

/**
 * The host name (lower case, without a trailing dot) of a Host header value, or undefined when
 * the value is not strictly a host with an optional port 1-65535.
 */
export function hostName(value: string): string | undefined {
  if (value.length > MAX_HOST_LENGTH) return undefined;
  let name: string;
  let portStart: number;
  if (value.startsWith('[')) {
    portStart = value.indexOf(']') + 1;
    const address = value.slice(1, portStart - 1);
    if (portStart === 0 || !IPV6_TEXT.test(address) || !isIPv6(address)) return undefined;
    name = value.slice(0, portStart).toLowerCase();
  } else {
    portStart = value.indexOf(':');
    if (portStart === -1) portStart = value.length;
    name = value.slice(0, portStart);
    if (!DNS_NAME.test(name)) return undefined;
    name = name.toLowerCase();
    if (name.endsWith('.')) name = name.slice(0, -1);
  }
  const port = value.slice(portStart);
  if (port !== '' && !(PORT.test(port) && Number(port.slice(1)) <= 65535)) return undefined;
  return name;
}

/** Whether a name is allowed by a Django-style ALLOWED_HOSTS list. */
function nameMatcher(allowedHosts: readonly string[]): (name: string) => boolean {
  if (allowedHosts.includes('*')) return () => true;
  const exact = new Set(allowedHosts.filter((host) => !host.startsWith('.')).map((host) => host.toLowerCase()));
  // `.example.com` allows example.com and every subdomain, as in Django.
  const suffixes = allowedHosts.filter((host) => host.startsWith('.')).map((host) => host.toLowerCase());
  return (name) => exact.has(name) || suffixes.some((suffix) => name.endsWith(suffix) || name === suffix.slice(1));
}

/** The scheme and authority of an absolute-form request target (`GET http://host/path`). */
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)/i;

/**
 * Like Django's ALLOWED_HOSTS, against Host-header poisoning of the absolute URLs in replies
 * (pagination links, the root's links). The value checked is the one those links are built
 * from, `request.host`: the Host header, or X-Forwarded-Host from a trusted proxy. A request
 * target in absolute form names the host itself (RFC 9112, 3.2.2), so its authority must be
 * allowed too.
 */
export function hostCheck(allowedHosts: readonly string[]): (request: FastifyRequest) => boolean {
  const nameAllowed = nameMatcher(allowedHosts);
  // Nearly every request repeats one of a few Host values: remember the ones accepted.
  const accepted = new Set<string>();
  const allowed = (host: string): boolean => {
    if (accepted.has(host)) return true;
    const name = hostName(host);
    if (name === undefined || !nameAllowed(name)) return false;
    if (accepted.size >= 64) accepted.clear();
    accepted.add(host);
    return true;
  };
  return (request) => {
    if (!allowed(request.host)) return false;
    const url = request.url;
    if (url.charCodeAt(0) === SLASH) return true;
    const authority = ABSOLUTE_FORM.exec(url)?.[1];
    return authority === undefined || allowed(authority);
  };
}

const TRUSTED_SCHEMES = new Set(['http', 'https', 'HTTP', 'HTTPS']);

/** Behind a trusted proxy the scheme of the links comes from X-Forwarded-Proto: it must be one. */
export function schemeCheck(trustProxy: boolean | string[]): ((request: FastifyRequest) => boolean) | undefined {
  if (trustProxy === false) return undefined;
  return (request) => TRUSTED_SCHEMES.has(request.protocol);
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;

/**
 * All URLs end with a slash. The router ignores a missing one; a GET or HEAD without it is
 * redirected (as Django's APPEND_SLASH does), while other methods are answered as if it were
 * there, because a redirect would lose their body. The Location is a path on this host, built
 * from the path and query alone, whatever form the request target had. Returns true when it
 * answered.
 */
export function slashRedirect(request: FastifyRequest, reply: FastifyReply): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const route = request.routeOptions.url;
  // Unknown URLs get their 404; routes declared without a slash (the docs) are left alone.
  if (route === undefined || !route.endsWith('/')) return false;
  const target = originForm(request.url);
  if (target.charCodeAt(0) !== SLASH) return false;
  const queryStart = target.indexOf('?');
  const path = queryStart === -1 ? target : target.slice(0, queryStart);
  if (path.endsWith('/')) return false;
  // `//host/…` or `/\host/…` in a Location would send a browser to another host.
  if (path.charCodeAt(1) === SLASH || path.charCodeAt(1) === BACKSLASH) return false;
  const query = queryStart === -1 ? '' : target.slice(queryStart);
  reply.code(301).header('location', `${path}/${query}`).send();
  return true;
}

/** The path and query of a request target, without the scheme and authority of the absolute form. */
function originForm(url: string): string {
  if (url.charCodeAt(0) === SLASH) return url;
  const prefix = ABSOLUTE_FORM.exec(url)?.[0];
  if (prefix === undefined) return url;
  const rest = url.slice(prefix.length);
  return rest.charCodeAt(0) === SLASH ? rest : `/${rest}`;
}
