import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { tokenRefused } from './access.js';
import { accountGone, headerCredential } from '../accounts/authenticate.js';
import { createAccount, type PasswordChecks } from '../accounts/credentials.js';
import { passwordProblems } from '../accounts/password-policy.js';
import { hashPassword } from '../accounts/passwords.js';
import type { AccountsRepository } from '../accounts/repository.js';
import type { Throttle } from '../accounts/throttle.js';
import { USERNAME_TAKEN, parseCredentials, parseEmail, parsePassword, parseRegistration, parseUsername, requiredFields } from '../accounts/validation.js';
import type { JwtConfig } from '../config.js';
import { now, timestampOf } from '../db/clock.js';
import { readBody, type BodyData } from '../http/body.js';
import { FieldErrorCollector, notFound, validation } from '../http/errors.js';
import { REQUIRED, parseString, type Parsed } from '../http/fields.js';
import { completeResource } from '../http/methods.js';
import { fastifyCookie } from '@fastify/cookie';
import type { CookieJar } from './cookies.js';
import { newCsrfToken, type CsrfCheck } from './csrf.js';
import type { BrowserSessionsRepository, DetailsChange } from './repository.js';
import * as schemas from './schemas.js';
import type { SessionIssuer, TokenPair } from './sessions.js';

export interface BrowserSessionRoutesOptions {
  accounts: AccountsRepository;
  sessions: BrowserSessionsRepository;
  issuer: SessionIssuer;
  passwords: PasswordChecks;
  throttle: Throttle;
  /** The API's authentication (accounts/authenticate.ts): header credentials, else the access cookie. */
  authenticate: (request: FastifyRequest) => Promise<void>;
  csrf: CsrfCheck;
  /** Cookie mode; undefined when JWT_AUTH_COOKIE_USE is off. */
  cookies: CookieJar | undefined;
  config: JwtConfig;
}

const TAG = { tags: ['browser sessions'] };
const CSRF_REFUSED =
  '`CSRF Failed: <reason>`: a cookie-authenticated unsafe request from an untrusted origin or without the matching X-CSRFToken header; or a login or sign-up from an untrusted origin in cookie mode.';
const TOKEN_REFUSED = { ...schemas.TokenNotValid, description: 'Missing, malformed, expired or revoked credentials (with `WWW-Authenticate: Token`).' };
const THROTTLED = 'Too many password guesses or sign-ups from this address or for this account (THROTTLE_*).';
const SECURED = { ...TAG, security: [{ token: [] }, { cookie: [] }] as Record<string, string[]>[] };
const OLD_PASSWORD_WRONG = 'Your old password was entered incorrectly. Please enter it again.';
// Django's SetPasswordForm, with its typographic apostrophe.
const NEW_PASSWORDS_DIFFER = 'The two password fields didn’t match.';
const MAX_NAME_LENGTH = 150;
/** Far longer than any token issued here; a longer one is a field error, not work. */
const MAX_TOKEN_LENGTH = 4096;

/**
 * dj-rest-auth's endpoints, with its paths, fields and replies, over JWT sessions whose refresh
 * tokens rotate. In cookie mode (the default) the tokens are also set as cookies, and the
 * refresh token stays out of reply bodies when the cookies are HttpOnly.
 */
export async function browserSessionRoutes(app: FastifyInstance, options: BrowserSessionRoutesOptions): Promise<void> {
  const { accounts, sessions, issuer, passwords, throttle, authenticate, csrf, cookies, config } = options;
  // Writes the cookies a reply of these routes sets; registered here, so that no other reply
  // pays for its hook. Requests' cookies are parsed only when asked for (cookies.ts).
  await app.register(fastifyCookie, { hook: false });
  const callerOf = (request: FastifyRequest) => request.caller!;
  // In cookie mode a browser's login or sign-up must come from a trusted page (login CSRF).
  const fromTrustedPage: onRequestHookHandler[] = cookies === undefined ? [] : [async (request) => csrf.browserOrigin(request)];
  const refreshInBodies = cookies === undefined || !config.cookies.httpOnly;

  /** The reply of a login or sign-up: the tokens, in cookies too in cookie mode. */
  async function signedIn(reply: FastifyReply, status: number, tokens: TokenPair, userId: number) {
    const user = await sessions.findUserDetails(userId);
    if (user === undefined) throw accountGone();
    setCookies(reply, tokens, newCsrfToken());
    return reply.code(status).send({ access: tokens.access.token, refresh: refreshInBodies ? tokens.refresh.token : '', user });
  }

  function setCookies(reply: FastifyReply, tokens: TokenPair, csrfToken: string): void {
    if (cookies === undefined) return;
    cookies.set(reply, { ...tokens, csrf: csrfToken });
    // A page on another origin cannot read this API's cookies: it takes the token from here.
    reply.header('x-csrftoken', csrfToken);
  }

  app.post('/dj-rest-auth/login/', {
    onRequest: [...fromTrustedPage, throttle.loginByAddress],
    schema: {
      ...TAG,
      summary: 'Log in: a browser session (JWT pair)',
      description: 'In cookie mode, sets the access, refresh and csrftoken cookies and sends the CSRF token in `X-CSRFToken`.',
      body: schemas.LoginBody,
      response: { 200: schemas.SignedIn },
    },
    config: { documentedReplies: { 403: CSRF_REFUSED, 429: THROTTLED } },
    handler: async (request, reply) => {
      const { username, password } = parseCredentials(await readBody(request));
      const user = await passwords.signIn(request, username, password);
      const tokens = await issuer.start(request, user);
      await accounts.recordLogin(user.id, now());
      return signedIn(reply, 200, tokens, user.id);
    },
  });
  completeResource(app, { url: '/dj-rest-auth/login/', name: 'Login', description: 'Exchange credentials for a browser session.', methods: ['POST'] });

  app.post('/dj-rest-auth/registration/', {
    onRequest: [...fromTrustedPage, throttle.registration],
    schema: {
      ...TAG,
      summary: 'Create an account and start its browser session',
      description: 'The rules of `/api/register/`; a mismatch of the two passwords is a `non_field_errors` message.',
      body: schemas.RegistrationBody,
      response: { 201: schemas.SignedIn },
    },
    config: { documentedReplies: { 403: CSRF_REFUSED, 429: THROTTLED } },
    handler: async (request, reply) => {
      const registration = await parseRegistration(await readBody(request), accounts.usernameTaken, { password: 'password1', confirmation: 'password2' });
      const time = now();
      const userId = await createAccount(accounts, registration, time);
      const tokens = await issuer.start(request, { id: userId, session_epoch: 0 });
      await accounts.recordLogin(userId, time);
      return signedIn(reply, 201, tokens, userId);
    },
  });
  completeResource(app, { url: '/dj-rest-auth/registration/', name: 'Registration', description: 'Create an account.', methods: ['POST'] });

  app.post('/dj-rest-auth/token/refresh/', {
    schema: {
      ...TAG,
      summary: 'New tokens for a refresh token, which is used up',
      description:
        'The refresh token comes from the body, or else from the refresh cookie (with the CSRF check). Each refresh token works once: ' +
        'presenting one that was already used ends its session.',
      body: schemas.RefreshBody,
      response: { 200: schemas.Refreshed },
    },
    config: { documentedReplies: { 401: TOKEN_REFUSED, 403: CSRF_REFUSED } },
    handler: async (request, reply) => {
      const fromBody = optionalToken(await readBody(request), 'refresh');
      const fromCookie = fromBody === undefined ? cookies?.refreshToken(request) : undefined;
      if (fromBody === undefined && !fromCookie) throw tokenRefused('No valid refresh token found.');
      // A cookie is the browser's credential, sent whoever made the request: CSRF applies.
      const keptCsrf = fromBody === undefined ? csrf.cookieRequest(request) : undefined;
      const tokens = await issuer.rotate((fromBody ?? fromCookie)!);
      setCookies(reply, tokens, keptCsrf ?? newCsrfToken());
      // A client that sent its refresh token in the body keeps it itself: it gets the next one there.
      const refresh = refreshInBodies || fromBody !== undefined ? tokens.refresh.token : '';
      return { access: tokens.access.token, refresh, access_expiration: timestampOf(tokens.access.expiresAt.getTime()) };
    },
  });
  completeResource(app, { url: '/dj-rest-auth/token/refresh/', name: 'Token refresh', description: 'Rotate a refresh token.', methods: ['POST'] });

  app.post('/dj-rest-auth/token/verify/', {
    schema: {
      ...TAG,
      summary: 'Whether a token is valid and its session live',
      description: 'The token comes from the body, or else from the access cookie (with the CSRF check). Nothing changes.',
      body: schemas.VerifyBody,
      response: { 200: schemas.Verified },
    },
    config: { documentedReplies: { 401: TOKEN_REFUSED, 403: CSRF_REFUSED } },
    handler: async (request) => {
      const fromBody = optionalToken(await readBody(request), 'token');
      const fromCookie = fromBody === undefined ? cookies?.accessToken(request) : undefined;
      if (fromBody === undefined && !fromCookie) throw validation({ token: [REQUIRED] });
      if (fromBody === undefined) csrf.cookieRequest(request);
      if (!(await issuer.isLive((fromBody ?? fromCookie)!))) throw tokenRefused();
      return {};
    },
  });
  completeResource(app, { url: '/dj-rest-auth/token/verify/', name: 'Token verify', description: 'Check a token.', methods: ['POST'] });

  app.post('/dj-rest-auth/logout/', {
    schema: {
      ...TAG,
      summary: 'End the session of the credentials presented, and clear the cookies',
      description:
        'The session of the Authorization header (Token or Bearer), else of the access or refresh cookie (with the CSRF check). ' +
        'Without credentials nothing is ended; the reply is the same.',
      response: { 200: schemas.Detail },
    },
    config: { documentedReplies: { 401: TOKEN_REFUSED, 403: CSRF_REFUSED } },
    handler: async (request, reply) => {
      await endPresentedSession(request);
      cookies?.clear(reply);
      return { detail: 'Successfully logged out.' };
    },
  });
  completeResource(app, { url: '/dj-rest-auth/logout/', name: 'Logout', description: 'End this browser session.', methods: ['POST'] });

  /** A header's credentials must be valid (401 otherwise); cookies end their session after the CSRF check. */
  async function endPresentedSession(request: FastifyRequest): Promise<void> {
    if (headerCredential(request.headers.authorization) !== undefined) {
      await authenticate(request);
      await accounts.deleteSession(callerOf(request).userId, callerOf(request).sessionId);
      return;
    }
    if (cookies === undefined) return;
    const [access, refresh] = [cookies.accessToken(request), cookies.refreshToken(request)];
    const session = (access ? await issuer.sessionOf(access) : undefined) ?? (refresh ? await issuer.sessionOf(refresh) : undefined);
    if (session === undefined) return;
    csrf.cookieRequest(request);
    await sessions.endSession(session.sessionId, session.userId);
  }

  // Everything below needs a caller, its 405 and OPTIONS answers included (401 comes first).
  await app.register(async (secured) => {
    secured.addHook('onRequest', authenticate);

    const userSchema = (summary: string, body?: typeof schemas.UserDetailsBody) => ({
      ...SECURED,
      summary,
      ...(body === undefined ? {} : { body }),
      response: { 200: schemas.UserDetails },
    });
    const userReplies = { documentedReplies: { 401: TOKEN_REFUSED, 403: CSRF_REFUSED } };
    secured.get('/dj-rest-auth/user/', {
      schema: userSchema('The current user'),
      config: userReplies,
      handler: async (request) => currentDetails(request),
    });
    secured.put('/dj-rest-auth/user/', {
      schema: userSchema('Replace the username, email and names (username required)', schemas.UserDetailsBody),
      config: userReplies,
      handler: async (request) => updateDetails(request, { partial: false }),
    });
    secured.patch('/dj-rest-auth/user/', {
      schema: userSchema('Change any of the username, email and names', schemas.UserDetailsBody),
      config: userReplies,
      handler: async (request) => updateDetails(request, { partial: true }),
    });
    completeResource(secured, { url: '/dj-rest-auth/user/', name: 'User', description: 'The current account.', methods: ['GET', 'PUT', 'PATCH'] });

    secured.post('/dj-rest-auth/password/change/', {
      schema: {
        ...SECURED,
        summary: 'Change the password; every session ends, this one too',
        description: 'In cookie mode the cookies are cleared: the user logs in again with the new password.',
        body: schemas.PasswordChangeBody,
        response: { 200: schemas.Detail },
      },
      config: { documentedReplies: { 401: TOKEN_REFUSED, 403: CSRF_REFUSED, 429: THROTTLED } },
      handler: async (request, reply) => {
        const caller = callerOf(request);
        const body = requiredFields(await readBody(request), { old_password: parsePassword, new_password1: parsePassword, new_password2: parsePassword });
        const account = await passwords.currentPassword(request, caller.userId, body.old_password);
        if (account === undefined) throw validation({ old_password: [OLD_PASSWORD_WRONG] });
        if (body.new_password1 !== body.new_password2) throw validation({ new_password2: [NEW_PASSWORDS_DIFFER] });
        const problems = passwordProblems(body.new_password2, account);
        if (problems.length > 0) throw validation({ new_password2: problems });

        // Whoever held a token of the old password (perhaps the reason for the change) is out.
        const outcome = await accounts.changePassword({
          userId: caller.userId,
          verifiedHash: account.password,
          passwordHash: await hashPassword(body.new_password2),
          keepSessionId: 0,
        });
        if (outcome === 'missing') throw accountGone();
        if (outcome === 'stale') throw validation({ old_password: [OLD_PASSWORD_WRONG] });
        cookies?.clear(reply);
        return { detail: 'New password has been saved.' };
      },
    });
    completeResource(secured, { url: '/dj-rest-auth/password/change/', name: 'Password change', description: 'Change the password.', methods: ['POST'] });
  });

  async function currentDetails(request: FastifyRequest) {
    const details = await sessions.findUserDetails(callerOf(request).userId);
    if (details === undefined) throw notFound();
    return details;
  }

  async function updateDetails(request: FastifyRequest, { partial }: { partial: boolean }) {
    const userId = callerOf(request).userId;
    const change = await parseDetails(await readBody(request), userId, partial);
    if ((await sessions.updateUserDetails(userId, change)) === 'taken') throw validation({ username: [USERNAME_TAKEN] });
    return currentDetails(request);
  }

  /** The fields given, each checked as sign-up checks it; PUT needs the username (`pk` is read-only). */
  async function parseDetails(body: BodyData, userId: number, partial: boolean): Promise<DetailsChange> {
    const errors = new FieldErrorCollector();
    const change: Record<string, string> = {};
    const parsers: [keyof DetailsChange, (value: unknown) => Parsed<string>, boolean][] = [
      ['username', parseUsername, !partial],
      ['email', parseEmail, false],
      ['first_name', parseName, false],
      ['last_name', parseName, false],
    ];
    for (const [name, parse, required] of parsers) {
      if (!(name in body) || body[name] === undefined) {
        if (required) errors.add(name, REQUIRED);
        continue;
      }
      const parsed = parse(body[name]);
      if (parsed.ok) change[name] = parsed.value;
      else errors.add(name, parsed.messages);
    }
    if (change.username !== undefined && (await sessions.usernameTakenByOther(change.username, userId))) errors.add('username', USERNAME_TAKEN);
    errors.throwIfAny();
    return change;
  }
}

function parseName(value: unknown): Parsed<string> {
  return parseString(value, { maxLength: MAX_NAME_LENGTH, allowBlank: true });
}

/** A token field: undefined when absent or empty (dj-rest-auth then reads the cookie). */
function optionalToken(body: BodyData, name: string): string | undefined {
  if (!(name in body) || body[name] === undefined) return undefined;
  const parsed = parseString(body[name], { allowBlank: true, maxLength: MAX_TOKEN_LENGTH });
  if (!parsed.ok) throw validation({ [name]: parsed.messages });
  return parsed.value === '' ? undefined : parsed.value;
}
