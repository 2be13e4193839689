import { Type } from 'typebox';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { now, secondsFromNow } from '../db/clock.js';
import { readBody } from '../http/body.js';
import { nonFieldError, notFound, validation } from '../http/errors.js';
import { parsePathId } from '../http/fields.js';
import { completeResource } from '../http/methods.js';
import { passwordProblems } from './password-policy.js';
import { hashPassword, prepareDummyHash } from './passwords.js';
import { accountGone } from './authenticate.js';
import { INVALID_CREDENTIALS, createAccount, type PasswordChecks } from './credentials.js';
import type { AccountsRepository, CredentialsLost } from './repository.js';
import * as schemas from './schemas.js';
import { generateToken, tokenDigest } from './tokens.js';
import { parseCredentials, parseEmail, parsePassword, parseRegistration, requiredFields } from './validation.js';
import type { Throttle } from './throttle.js';

export interface AccountRoutesOptions {
  accounts: AccountsRepository;
  authenticate: onRequestHookHandler;
  throttle: Throttle;
  passwords: PasswordChecks;
  tokenLifetimeSeconds: number;
}

const INVALID_PASSWORD = 'Invalid password.';
const TAG = { tags: ['accounts'] };
const SECURED = { ...TAG, security: [{ token: [] }] };
const GUESSES_THROTTLED = 'Too many failed password guesses for this account or from this address (THROTTLE_LOGIN_*).';

export async function accountRoutes(app: FastifyInstance, options: AccountRoutesOptions): Promise<void> {
  const { accounts, authenticate, throttle, passwords, tokenLifetimeSeconds } = options;
  const callerOf = (request: FastifyRequest) => request.caller!;
  await prepareDummyHash();

  app.post('/api/register/', {
    onRequest: [throttle.registration],
    schema: { ...TAG, summary: 'Create an account', body: schemas.RegisterBody, response: { 201: schemas.Message } },
    config: { documentedReplies: { 429: 'Too many sign-ups from this address (THROTTLE_REGISTER_ADDRESS).' } },
    handler: async (request, reply) => {
      const registration = await parseRegistration(await readBody(request), accounts.usernameTaken);
      await createAccount(accounts, registration, now());
      return reply.code(201).send({ message: 'User created successfully' });
    },
  });
  completeResource(app, { url: '/api/register/', name: 'Register', description: 'Create an account.', methods: ['POST'] });

  app.post('/api/login/', {
    onRequest: [throttle.loginByAddress],
    schema: { ...TAG, summary: 'Log in: a new session token', body: schemas.LoginBody, response: { 200: schemas.TokenReply } },
    config: { documentedReplies: { 429: GUESSES_THROTTLED } },
    handler: async (request) => {
      const { username, password } = parseCredentials(await readBody(request));
      const user = await passwords.signIn(request, username, password);
      const token = generateToken();
      const time = now();
      const sessionId = await accounts.createSession({
        userId: user.id,
        sessionEpoch: user.session_epoch,
        digest: tokenDigest(token),
        userAgent: (request.headers['user-agent'] ?? '').slice(0, 512),
        now: time,
        expiresAt: secondsFromNow(tokenLifetimeSeconds),
      });
      // Meanwhile the password was changed, every session revoked, or the account removed.
      if (sessionId === undefined) throw nonFieldError(INVALID_CREDENTIALS);
      await accounts.recordLogin(user.id, time);
      return { token };
    },
  });
  completeResource(app, { url: '/api/login/', name: 'Login', description: 'Exchange credentials for a token.', methods: ['POST'] });

  // Everything below needs a caller, its 405 and OPTIONS answers included (401 comes first).
  await app.register(async (secured) => {
    secured.addHook('onRequest', authenticate);

    secured.post('/api/logout/', {
      schema: { ...SECURED, summary: 'Revoke the token used for this request', response: { 204: Type.Null() } },
      handler: async (request, reply) => {
        const caller = callerOf(request);
        await accounts.deleteSession(caller.userId, caller.sessionId);
        return reply.code(204).send();
      },
    });
    completeResource(secured, { url: '/api/logout/', name: 'Logout', description: 'Revoke this token.', methods: ['POST'] });

    secured.post('/api/logout/all/', {
      schema: { ...SECURED, summary: 'Revoke every token of the user', response: { 204: Type.Null() } },
      handler: async (request, reply) => {
        await accounts.revokeSessions(callerOf(request).userId);
        return reply.code(204).send();
      },
    });
    completeResource(secured, { url: '/api/logout/all/', name: 'Logout everywhere', description: 'Revoke every token.', methods: ['POST'] });

    secured.get('/api/user/', {
      schema: { ...SECURED, summary: 'The current user', response: { 200: schemas.User } },
      handler: async (request) => currentAccount(request),
    });

    secured.patch('/api/user/', {
      schema: { ...SECURED, summary: 'Change the email address', body: schemas.UserPatchBody, response: { 200: schemas.User } },
      handler: async (request) => {
        const body = await readBody(request);
        if ('email' in body) {
          const { email } = requiredFields(body, { email: parseEmail });
          await accounts.setEmail(callerOf(request).userId, email);
        }
        return currentAccount(request);
      },
    });

    secured.delete('/api/user/', {
      schema: { ...SECURED, summary: 'Delete the account and all its tasks', body: schemas.AccountDeleteBody, response: { 204: Type.Null() } },
      config: { documentedReplies: { 429: GUESSES_THROTTLED } },
      handler: async (request, reply) => {
        const body = requiredFields(await readBody(request), { current_password: parsePassword });
        const account = await requireCurrentPassword(request, body.current_password);
        const outcome = await accounts.deleteUser(callerOf(request).userId, account.password, now());
        if (outcome !== 'deleted') throw credentialsLost(outcome);
        return reply.code(204).send();
      },
    });
    completeResource(secured, { url: '/api/user/', name: 'User', description: 'The current account.', methods: ['GET', 'PATCH', 'DELETE'] });

    secured.post('/api/user/password/', {
      schema: { ...SECURED, summary: 'Change the password; other sessions are revoked', body: schemas.PasswordChangeBody, response: { 204: Type.Null() } },
      config: { documentedReplies: { 429: GUESSES_THROTTLED } },
      handler: async (request, reply) => {
        const caller = callerOf(request);
        const body = requiredFields(await readBody(request), { current_password: parsePassword, new_password: parsePassword });
        const account = await requireCurrentPassword(request, body.current_password);
        const problems = passwordProblems(body.new_password, account);
        if (problems.length > 0) throw validation({ new_password: problems });

        // Whoever else held a token (perhaps the reason for the change) is logged out.
        const outcome = await accounts.changePassword({
          userId: caller.userId,
          verifiedHash: account.password,
          passwordHash: await hashPassword(body.new_password),
          keepSessionId: caller.sessionId,
        });
        if (outcome !== 'changed') throw credentialsLost(outcome);
        return reply.code(204).send();
      },
    });
    completeResource(secured, { url: '/api/user/password/', name: 'Password', description: 'Change the password.', methods: ['POST'] });

    secured.get('/api/sessions/', {
      schema: { ...SECURED, summary: "The caller's active sessions", response: { 200: Type.Array(schemas.Session) } },
      handler: async (request) => {
        const caller = callerOf(request);
        const sessions = await accounts.listSessions(caller.userId, now());
        return sessions.map((session) => ({ ...session, current: session.id === caller.sessionId }));
      },
    });
    completeResource(secured, { url: '/api/sessions/', name: 'Sessions', description: 'Active sessions.', methods: ['GET'] });

    const sessionIdOf = (request: FastifyRequest) => parsePathId((request.params as { id: string }).id);
    secured.delete('/api/sessions/:id/', {
      schema: { ...SECURED, summary: 'Revoke one session', params: Type.Object({ id: Type.String() }), response: { 204: Type.Null() } },
      // The session before the body's content type is parsed: 404 comes before 400/415.
      preParsing: async (request) => {
        const id = sessionIdOf(request);
        if (id === undefined || !(await accounts.hasSession(callerOf(request).userId, id))) throw notFound();
      },
      handler: async (request, reply) => {
        // Revoked meanwhile by another request: gone all the same.
        if (!(await accounts.deleteSession(callerOf(request).userId, sessionIdOf(request)!))) throw notFound();
        return reply.code(204).send();
      },
    });
    completeResource(secured, { url: '/api/sessions/:id/', name: 'Session', description: 'One session.', methods: ['DELETE'] });
  });

  /**
   * A password change or account deletion whose checked password was changed meanwhile (by a
   * parallel request) is refused as if the password were wrong; a deleted account is gone.
   */
  function credentialsLost(reason: CredentialsLost) {
    return reason === 'missing' ? accountGone() : validation({ current_password: [INVALID_PASSWORD] });
  }

  async function currentAccount(request: FastifyRequest) {
    const account = await accounts.findAccount(callerOf(request).userId);
    if (account === undefined) throw notFound();
    return account;
  }

  async function requireCurrentPassword(request: FastifyRequest, password: string) {
    const account = await passwords.currentPassword(request, callerOf(request).userId, password);
    if (account === undefined) throw validation({ current_password: [INVALID_PASSWORD] });
    return account;
  }
}
