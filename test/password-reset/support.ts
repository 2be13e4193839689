import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAuthentication } from 'smtp-server';
import type { Config } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { PASSWORD, buildTestApp, createUser, type TestApp, type TestUser } from '../helpers.js';
import { freePort } from '../server-process.js';

/** A message the test's SMTP server received, as parsed, with the envelope it came in. */
export interface ReceivedMail {
  from: string;
  to: string[];
  parsed: ParsedMail;
}

export interface MailServer {
  port: number;
  received: ReceivedMail[];
  /** The next message not yet taken, waiting for it up to `ms`. */
  next(ms?: number): Promise<ReceivedMail>;
  /** Logins the server was offered, refused unless it accepts this one. */
  logins: SMTPServerAuthentication[];
}

/**
 * A real SMTP server on a free loopback port, which keeps every message it receives. Without
 * `login` it takes mail from anyone; with one, only after that login.
 */
export async function startMailServer(t: TestContext, login?: { user: string; password: string }): Promise<MailServer> {
  const received: ReceivedMail[] = [];
  const logins: SMTPServerAuthentication[] = [];
  let taken = 0;
  const waiting: (() => void)[] = [];
  const server = new SMTPServer({
    logger: false,
    // Plain SMTP on loopback: no certificate to trust, and Nodemailer would upgrade otherwise.
    disabledCommands: login === undefined ? ['STARTTLS', 'AUTH'] : ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: login === undefined,
    onAuth(auth, _session, callback) {
      logins.push(auth);
      if (auth.username === login?.user && auth.password === login?.password) return callback(null, { user: auth.username });
      callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (parsed) => {
          received.push({
            from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((recipient) => recipient.address),
            parsed,
          });
          for (const wake of waiting.splice(0)) wake();
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  const port = await freePort();
  await new Promise<void>((listening) => server.listen(port, '127.0.0.1', listening));
  t.after(() => new Promise<void>((closed) => server.close(closed)));
  return {
    port,
    received,
    logins,
    async next(ms = 10_000) {
      const deadline = Date.now() + ms;
      while (received.length <= taken) {
        assert.ok(Date.now() < deadline, `no mail arrived within ${ms} ms`);
        await new Promise<void>((wake) => {
          waiting.push(wake);
          setTimeout(wake, 50);
        });
      }
      return received[taken++]!;
    },
  };
}

/** The uid and token of the reset link in a mail's text (the default PASSWORD_RESET_URL). */
export function resetLink(text: string): { url: string; uid: string; token: string } {
  const match = /(http:\/\/localhost:3000\/password-reset\/([^/\s]+)\/([^/\s]+)\/)/.exec(text);
  assert.ok(match, `no reset link in ${text}`);
  return { url: match[1]!, uid: match[2]!, token: match[3]! };
}

export interface ResetApp extends TestApp {
  /** The app listening on a loopback port: requests go over real HTTP. */
  base: string;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
}

/** The app on a fresh database, serving on a free loopback port, sending mail to `mail`. */
export async function startResetApp(t: TestContext, mail: MailServer | undefined, options: { config?: Partial<Config>; env?: Record<string, string>; database?: Database } = {}): Promise<ResetApp> {
  const env = { ...(mail === undefined ? {} : { EMAIL_URL: `smtp://127.0.0.1:${mail.port}` }), ...options.env };
  const testApp = await buildTestApp(t, { ...options, env });
  await testApp.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(testApp.app.server.address() as AddressInfo).port}`;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { ...testApp, base, post };
}

export const REQUEST_URL = '/dj-rest-auth/password/reset/';
export const CONFIRM_URL = '/dj-rest-auth/password/reset/confirm/';
export const MAIL_SENT = { detail: 'Password reset e-mail has been sent.' };
export const PASSWORD_RESET = { detail: 'Password has been reset with the new password.' };
export const NEW_PASSWORD = 'a brand new passphrase 7';

/** A user with this email address, signed in once over HTTP. */
export async function userWithEmail(resetApp: ResetApp, email: string): Promise<TestUser> {
  return createUser(resetApp.app, { email, password: PASSWORD });
}

/** Asks for a reset of `email` and returns the link of the mail that arrives. */
export async function requestLink(resetApp: ResetApp, mail: MailServer, email: string) {
  const reply = await resetApp.post(REQUEST_URL, { email });
  assert.equal(reply.status, 200);
  assert.deepEqual(await reply.json(), MAIL_SENT);
  const received = await mail.next();
  return { ...resetLink(received.parsed.text ?? ''), mail: received };
}

export function confirm(resetApp: ResetApp, link: { uid: string; token: string }, password = NEW_PASSWORD, again = password) {
  return resetApp.post(CONFIRM_URL, { uid: link.uid, token: link.token, new_password1: password, new_password2: again });
}

/** Logs in over HTTP; the status and, on success, the token. */
export async function tryLogin(resetApp: ResetApp, username: string, password: string): Promise<number> {
  const reply = await resetApp.post('/api/login/', { username, password });
  await reply.body?.cancel();
  return reply.status;
}

/** The user's reset link rows as stored. */
export function storedLinks(database: Database, userId: number) {
  return database.db.selectFrom('password_reset_tokens').selectAll().where('user_id', '=', userId).orderBy('id').execute();
}
