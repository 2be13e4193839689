import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { SignJWT } from 'jose';
import { buildTestApp, createUser, type TestApp, type TestUser } from '../helpers.js';

/** The allowed origin the tests' pages come from, and one that is not allowed. */
export const PAGE = 'http://localhost:3000';
export const FOREIGN = 'http://evil.example';

/** An app listening on a loopback port: every request of these tests goes over real HTTP. */
export interface Served extends TestApp {
  base: string;
}

export async function serve(t: TestContext, options: Parameters<typeof buildTestApp>[1] = {}): Promise<Served> {
  const testApp = await buildTestApp(t, options);
  await testApp.app.listen({ port: 0, host: '127.0.0.1' });
  return { ...testApp, base: `http://127.0.0.1:${(testApp.app.server.address() as AddressInfo).port}` };
}

export interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
  /** The Set-Cookie headers as sent, one per cookie. */
  setCookies: string[];
}

export async function call(base: string, method: string, path: string, options: { headers?: Record<string, string>; body?: unknown } = {}): Promise<Reply> {
  const headers = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(base + path, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text), setCookies: response.headers.getSetCookie() };
}

/** One Set-Cookie header, its attributes by lower-case name (valueless ones as `true`). */
export interface SetCookie {
  name: string;
  value: string;
  attributes: Record<string, string | true>;
}

export function parseSetCookie(header: string): SetCookie {
  const [pair, ...attributes] = header.split(';').map((part) => part.trim());
  const equals = pair!.indexOf('=');
  return {
    name: pair!.slice(0, equals),
    value: pair!.slice(equals + 1),
    attributes: Object.fromEntries(
      attributes.map((attribute) => {
        const at = attribute.indexOf('=');
        return at === -1 ? [attribute.toLowerCase(), true] : [attribute.slice(0, at).toLowerCase(), attribute.slice(at + 1)];
      }),
    ),
  };
}

/** The cookies a browser would keep from a reply, by name and path. */
export function cookiesOf(reply: Reply): SetCookie[] {
  return reply.setCookies.map(parseSetCookie);
}

/** What a browser holds after a cookie-mode login, and what its page learned from the reply. */
export interface BrowserSession {
  access: string;
  refresh: string;
  csrf: string;
  user: TestUser;
}

/** The value of the named cookie (at the path, when given) that the reply set. */
export function cookieValue(reply: Reply, name: string, path?: string): string {
  const cookie = cookiesOf(reply).find((each) => each.name === name && (path === undefined || each.attributes.path === path));
  assert.ok(cookie, `no ${name} cookie${path ? ` at ${path}` : ''} in ${reply.setCookies.join(' | ')}`);
  return cookie.value;
}

export async function browserLogin(base: string, user: TestUser, headers: Record<string, string> = { origin: PAGE }): Promise<BrowserSession> {
  const reply = await call(base, 'POST', '/dj-rest-auth/login/', { headers, body: { username: user.username, password: user.password } });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return {
    access: cookieValue(reply, 'my-app-auth'),
    refresh: cookieValue(reply, 'my-refresh-token', '/dj-rest-auth/token/refresh/'),
    csrf: reply.headers.get('x-csrftoken')!,
    user,
  };
}

/** The headers a page on PAGE sends with credentials: its cookies, its origin and the CSRF token. */
export function fromPage(session: BrowserSession, cookies: 'access' | 'refresh' = 'access', extra: Record<string, string> = {}): Record<string, string> {
  const token = cookies === 'access' ? `my-app-auth=${session.access}` : `my-refresh-token=${session.refresh}`;
  return { cookie: `${token}; csrftoken=${session.csrf}`, origin: PAGE, 'x-csrftoken': session.csrf, ...extra };
}

export async function newUser(served: Served): Promise<TestUser> {
  return createUser(served.app);
}

/** A token signed with the app's own key, with whatever claims a test needs (an expired one, say). */
export async function forgeToken(served: Served, claims: Record<string, unknown>, key?: Uint8Array): Promise<string> {
  const secret = key ?? (await storedKey(served));
  const issuedAt = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: issuedAt, exp: issuedAt + 300, jti: 'forged', ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret);
}

export async function storedKey({ database }: Pick<Served, 'database'>): Promise<Uint8Array> {
  const row = await database.db.selectFrom('jwt_signing_key').select('secret').executeTakeFirstOrThrow();
  return new TextEncoder().encode(row.secret);
}

/** The claims of a token, as the server wrote them. */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export async function browserSessions({ database }: Pick<Served, 'database'>, userId: number) {
  return database.db.selectFrom('auth_tokens').selectAll().where('user_id', '=', userId).where('refresh_digest', 'is not', null).orderBy('id').execute();
}

/** SimpleJWT's refusal of an access token. */
export const ACCESS_REFUSED = {
  detail: 'Given token not valid for any token type',
  code: 'token_not_valid',
  messages: [{ token_class: 'AccessToken', token_type: 'access', message: 'Token is invalid or expired' }],
};

export const TOKEN_REFUSED = { detail: 'Token is invalid or expired', code: 'token_not_valid' };
