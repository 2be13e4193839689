import type { FastifyInstance } from 'fastify';
import { passwordProblems } from '../accounts/password-policy.js';
import { hashPassword } from '../accounts/passwords.js';
import type { Throttle } from '../accounts/throttle.js';
import { parsePassword, parseRequiredEmail, requiredFields } from '../accounts/validation.js';
import { now } from '../db/clock.js';
import { readBody } from '../http/body.js';
import { validation } from '../http/errors.js';
import { parseString } from '../http/fields.js';
import { completeResource } from '../http/methods.js';
import type { ResetMailing } from './mailing.js';
import type { PasswordResetRepository } from './repository.js';
import * as schemas from './schemas.js';
import { decodeUid, resetTokenDigest } from './tokens.js';

export interface PasswordResetRoutesOptions {
  resets: PasswordResetRepository;
  mailing: ResetMailing;
  throttle: Throttle;
}

// dj-rest-auth's and Django's words, which its clients show as they are.
const MAIL_SENT = 'Password reset e-mail has been sent.';
const PASSWORD_RESET = 'Password has been reset with the new password.';
const INVALID_VALUE = 'Invalid value';
const PASSWORD_MISMATCH = 'The two password fields didn’t match.';

const TAG = { tags: ['accounts'] };
const REQUEST_URL = '/dj-rest-auth/password/reset/';
const CONFIRM_URL = '/dj-rest-auth/password/reset/confirm/';

/**
 * Password reset by email, as dj-rest-auth serves it: a request mails a link to every active
 * account with the address; the link's uid and token, with a new password, confirm it.
 */
export async function passwordResetRoutes(app: FastifyInstance, options: PasswordResetRoutesOptions): Promise<void> {
  const { resets, mailing, throttle } = options;

  app.post(REQUEST_URL, {
    onRequest: [throttle.passwordResetByAddress],
    schema: {
      ...TAG,
      summary: 'Mail a password reset link',
      description:
        'Mails a link to the front end (`PASSWORD_RESET_URL`) to every active account with this email address. The reply ' +
        'is the same whether or not any account has the address, and comes before any mail is sent.',
      body: schemas.ResetRequestBody,
      response: { 200: schemas.Detail },
    },
    config: { documentedReplies: { 429: 'Too many requests from this address (THROTTLE_PASSWORD_RESET_ADDRESS) or for this email address (THROTTLE_PASSWORD_RESET_EMAIL).' } },
    handler: async (request, reply) => {
      const { email } = requiredFields<{ email: string }>(await readBody(request), { email: parseRequiredEmail });
      await throttle.passwordResetFor(email);
      // Only once the reply has gone: neither its content nor its timing can then depend on
      // whether the address is registered.
      const start = () => mailing.start(email);
      void reply.then(start, start);
      return { detail: MAIL_SENT };
    },
  });
  completeResource(app, { url: REQUEST_URL, name: 'Password Reset', description: 'Mail a password reset link.', methods: ['POST'] });

  app.post(CONFIRM_URL, {
    schema: {
      ...TAG,
      summary: 'Set a new password with a reset link',
      description:
        'Sets the new password and ends every session of the account. A link works once, for `PASSWORD_RESET_TIMEOUT_SECONDS`, ' +
        'and only while the password and email address are the ones it was issued for.',
      body: schemas.ResetConfirmBody,
      response: { 200: schemas.Detail },
    },
    handler: async (request) => {
      const fields = requiredFields<{ new_password1: string; new_password2: string; uid: string; token: string }>(await readBody(request), {
        new_password1: parsePassword,
        new_password2: parsePassword,
        uid: (value) => parseString(value),
        token: (value) => parseString(value),
      });
      // dj-rest-auth's order: the account, the link, then the new password.
      const userId = decodeUid(fields.uid);
      const account = userId === undefined ? undefined : await resets.findAccount(userId);
      if (account === undefined) throw validation({ uid: [INVALID_VALUE] });
      const digest = resetTokenDigest(fields.token);
      if (digest === undefined || !(await resets.isOutstanding(account, digest, now()))) throw validation({ token: [INVALID_VALUE] });
      if (fields.new_password1 !== fields.new_password2) throw validation({ new_password2: [PASSWORD_MISMATCH] });
      const problems = passwordProblems(fields.new_password2, account);
      if (problems.length > 0) throw validation({ new_password2: problems });

      const passwordHash = await hashPassword(fields.new_password2);
      // Used meanwhile by a parallel confirmation, or the password or address changed.
      if (!(await resets.resetPassword({ userId: account.id, digest, passwordHash, now: now() }))) throw validation({ token: [INVALID_VALUE] });
      return { detail: PASSWORD_RESET };
    },
  });
  completeResource(app, { url: CONFIRM_URL, name: 'Password Reset Confirm', description: 'Set a new password with a reset link.', methods: ['POST'] });
}
