import type { FastifyBaseLogger } from 'fastify';
import pLimit from 'p-limit';
import type { PasswordResetConfig } from '../config.js';
import { now, secondsFromNow } from '../db/clock.js';
import type { Mailer, MailMessage } from '../mail/mailer.js';
import type { PasswordResetRepository } from './repository.js';
import { encodeUid } from './tokens.js';

export interface ResetMailing {
  /**
   * Mails a link to every active account with this address, in the background: the caller
   * does not wait, and failures are logged, never reported to it.
   */
  start(email: string): void;
  /** Resolves once every mailing started has finished. */
  settled(): Promise<void>;
}

/** Mailings under way at once; the rest wait their turn. */
const CONCURRENT_MAILINGS = 2;
/**
 * Mailings waiting beyond this are dropped (and logged): requests from many addresses at
 * once, each within its throttle, cannot make the waiting line grow without bound.
 */
const MAX_WAITING_MAILINGS = 1000;

export function createResetMailing(options: {
  resets: PasswordResetRepository;
  mailer: Mailer;
  settings: PasswordResetConfig;
  log: FastifyBaseLogger;
}): ResetMailing {
  const { resets, mailer, settings, log } = options;
  const queue = pLimit(CONCURRENT_MAILINGS);
  const underWay = new Set<Promise<void>>();

  async function mailLinks(email: string): Promise<void> {
    for (const userId of await resets.accountsWithEmail(email)) {
      // One account's failure does not keep the others with this address from their mail.
      await mailLink(userId, email).catch((error: unknown) => log.error({ err: error, userId }, 'password reset mail not sent'));
    }
  }

  async function mailLink(userId: number, email: string): Promise<void> {
    const link = await resets.issue(userId, email, {
      now: now(),
      expiresAt: secondsFromNow(settings.timeoutSeconds),
      maxOutstanding: settings.maxOutstanding,
    });
    if (!link.issued) {
      log.info({ userId, reason: link.reason }, 'password reset link not issued');
      return;
    }
    await mailer.send(resetMessage(settings, link));
    log.info({ userId }, 'password reset mail sent');
  }

  return {
    start(email) {
      if (queue.pendingCount >= MAX_WAITING_MAILINGS) {
        log.warn(`password reset request dropped: ${MAX_WAITING_MAILINGS} mailings are waiting already`);
        return;
      }
      const mailing = queue(() => mailLinks(email)).catch((error: unknown) => log.error({ err: error }, 'password reset mailing failed'));
      underWay.add(mailing);
      void mailing.finally(() => underWay.delete(mailing));
    },

    async settled() {
      while (underWay.size > 0) await Promise.allSettled([...underWay]);
    },
  };
}

/** The reset mail: who it is for, the link to the front end's page, and how long it works. */
export function resetMessage(
  settings: PasswordResetConfig,
  link: { userId: number; token: string; username: string; email: string },
): MailMessage {
  const url = settings.url.replaceAll('{uid}', encodeUid(link.userId)).replaceAll('{token}', link.token);
  const text = [
    `Hello ${link.username},`,
    '',
    `Someone, hopefully you, asked to reset the password of the Task Tracker account "${link.username}".`,
    `To choose a new password, open this link within ${duration(settings.timeoutSeconds)}; it works once:`,
    '',
    url,
    '',
    'If you did not ask for this, ignore this message: your password stays as it is.',
    '',
  ].join('\n');
  return { to: link.email, subject: settings.subject, text };
}

/** `1 hour`, `90 minutes`, `45 seconds`: the largest unit that divides the time exactly. */
export function duration(seconds: number): string {
  const [amount, unit] = seconds % 3600 === 0 ? [seconds / 3600, 'hour'] : seconds % 60 === 0 ? [seconds / 60, 'minute'] : [seconds, 'second'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}
