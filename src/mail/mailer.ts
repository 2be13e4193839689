import type { FastifyBaseLogger } from 'fastify';
import { createTransport } from 'nodemailer';
import type { MailConfig, SmtpConfig } from '../config.js';

/** A plain-text message to one address. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  /** Delivers the message, or fails with a MailError. */
  send(message: MailMessage): Promise<void>;
  close(): void;
}

/** A delivery that failed; its message names the server and the reason, never a credential. */
export class MailError extends Error {
  override name = 'MailError';

  constructor(
    message: string,
    /** Nodemailer's error code (ECONNECTION, EAUTH, EENVELOPE…) */
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * Sends through the configured SMTP server; without one, writes each message to the log
 * instead, as Django's console backend does, which is how development works.
 */
export function createMailer(config: MailConfig, log: FastifyBaseLogger): Mailer {
  return config.smtp === undefined ? logMailer(config.from, log) : smtpMailer(config.smtp, config.from);
}

function smtpMailer(smtp: SmtpConfig, from: string): Mailer {
  const timeoutMs = smtp.timeoutSeconds * 1000;
  const transport = createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.implicitTls,
    requireTLS: smtp.startTls,
    // As Django: a login only with both a user and a password.
    auth: smtp.user !== undefined && smtp.password !== undefined ? { user: smtp.user, pass: smtp.password } : undefined,
    // Nodemailer waits up to ten minutes by default; a stuck server must not hold deliveries that long.
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    // Messages are built from text only: nothing in one may make the server read files or URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const secrets = credentialForms(smtp);
  return {
    async send(message) {
      try {
        // An address object, not a string for Nodemailer to parse into a list of recipients.
        await transport.sendMail({ from, to: { name: '', address: message.to }, subject: message.subject, text: message.text });
      } catch (error) {
        const { message: reason, code } = error as { message?: string; code?: string };
        throw new MailError(`SMTP delivery through ${smtp.host}:${smtp.port} failed: ${redact(String(reason), secrets)}`, code);
      }
    },
    close: () => transport.close(),
  };
}

function logMailer(from: string, log: FastifyBaseLogger): Mailer {
  return {
    async send(message) {
      log.info({ mail: { from, ...message } }, 'mail written to the log, not sent (set EMAIL_URL or EMAIL_HOST to send mail)');
    },
    close() {},
  };
}

/**
 * The password as it could come back in a server's reply: as typed, and encoded for AUTH
 * LOGIN and AUTH PLAIN.
 */
function credentialForms({ user, password }: SmtpConfig): string[] {
  if (password === undefined) return [];
  const base64 = (text: string) => Buffer.from(text).toString('base64');
  return [password, base64(password), base64(`\0${user ?? ''}\0${password}`)];
}

function redact(text: string, secrets: string[]): string {
  return secrets.reduce((redacted, secret) => redacted.replaceAll(secret, '(secret)'), text);
}
