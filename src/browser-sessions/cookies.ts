import { fastifyCookie, type CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CookieConfig } from '../config.js';
import { CSRF_COOKIE } from './csrf.js';

/** The paths, below the API's, that alone receive the refresh token. */
export const REFRESH_PATH = 'dj-rest-auth/token/refresh/';
export const LOGOUT_PATH = 'dj-rest-auth/logout/';

export interface SessionCookies {
  access: { token: string; expiresAt: Date };
  refresh: { token: string; expiresAt: Date };
  csrf: string;
}

const parsed = new WeakMap<FastifyRequest, Record<string, string | undefined>>();

/** A cookie the request carries, parsed once per request and only when asked for. */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  let cookies = parsed.get(request);
  if (cookies === undefined) {
    const header = request.headers.cookie;
    cookies = header === undefined ? {} : fastifyCookie.parse(header);
    parsed.set(request, cookies);
  }
  return cookies[name];
}

/**
 * A cookie's Max-Age for a token that expires at `expiresAt`: rounded up, because a token
 * issued late in a second may have less than a second left of its first whole second, and
 * Max-Age 0 would delete a cookie whose token is still valid. The server checks `exp` itself.
 */
export function maxAgeSeconds(expiresAt: Date, now: number): number {
  return Math.max(0, Math.ceil((expiresAt.getTime() - now) / 1000));
}

export type CookieJar = ReturnType<typeof createCookieJar>;

/**
 * The session's cookies as the deployment guide sets them: the access token for the whole API,
 * the refresh token only for the paths that take it (a cookie has one path, so it is set once
 * for each), and the CSRF token, readable by the page's scripts, beside them.
 */
export function createCookieJar(config: CookieConfig) {
  const shared: CookieSerializeOptions = {
    secure: config.secure,
    sameSite: config.sameSite.toLowerCase() as 'none' | 'lax' | 'strict',
    ...(config.domain === undefined ? {} : { domain: config.domain }),
  };
  const access = { ...shared, httpOnly: config.httpOnly, path: config.path };
  const refreshPaths = [REFRESH_PATH, LOGOUT_PATH].map((path) => ({ ...shared, httpOnly: config.httpOnly, path: config.path + path }));
  // The page's scripts read it to send it back in X-CSRFToken.
  const csrf = { ...shared, httpOnly: false, path: config.path };
  const until = (expiresAt: Date) => ({ expires: expiresAt, maxAge: maxAgeSeconds(expiresAt, Date.now()) });

  return {
    accessToken: (request: FastifyRequest) => readCookie(request, config.accessName),
    refreshToken: (request: FastifyRequest) => readCookie(request, config.refreshName),

    set(reply: FastifyReply, cookies: SessionCookies): void {
      reply.setCookie(config.accessName, cookies.access.token, { ...access, ...until(cookies.access.expiresAt) });
      for (const options of refreshPaths) reply.setCookie(config.refreshName, cookies.refresh.token, { ...options, ...until(cookies.refresh.expiresAt) });
      reply.setCookie(CSRF_COOKIE, cookies.csrf, { ...csrf, ...until(cookies.refresh.expiresAt) });
    },

    clear(reply: FastifyReply): void {
      reply.clearCookie(config.accessName, access);
      for (const options of refreshPaths) reply.clearCookie(config.refreshName, options);
      reply.clearCookie(CSRF_COOKIE, csrf);
    },
  };
}
