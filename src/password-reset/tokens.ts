import { hash, randomBytes } from 'node:crypto';
import { tokenDigest } from '../accounts/tokens.js';

/**
 * Django's `urlsafe_base64_encode(force_bytes(pk))`, the `uid` of dj-rest-auth's reset links:
 * the id's decimal digits in unpadded base64url (`1` is `MQ`).
 */
export function encodeUid(userId: number): string {
  return Buffer.from(String(userId)).toString('base64url');
}

/** The user id a uid names, or undefined for anything encodeUid cannot have written. */
export function decodeUid(uid: string): number | undefined {
  // 16 digits at most (ids are safe integers), which base64url writes in 22 characters.
  if (!/^[A-Za-z0-9_-]{2,22}$/.test(uid)) return undefined;
  const digits = Buffer.from(uid, 'base64url').toString('latin1');
  if (!/^[1-9]\d{0,15}$/.test(digits)) return undefined;
  const userId = Number(digits);
  // Only the canonical spelling: base64 has others for the same bytes.
  return Number.isSafeInteger(userId) && encodeUid(userId) === uid ? userId : undefined;
}

/** 256 random bits in base64url: a reset link's token, which only its digest is stored of. */
export function generateResetToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The stored digest of a token as a link carries it, or undefined when it cannot be one. */
export function resetTokenDigest(token: string): string | undefined {
  return /^[A-Za-z0-9_-]{43}$/.test(token) ? tokenDigest(token) : undefined;
}

/**
 * What a reset link is bound to: the account's password hash and email address when it was
 * issued. Any change of either, by whatever path (a password change, a reset, the command line,
 * an upgrade of the hash, a new email address), makes every outstanding link stop working,
 * without that path having to know about links.
 */
export function accountFingerprint(account: { password: string; email: string }): string {
  return hash('sha256', JSON.stringify([account.password, account.email]), 'hex');
}
