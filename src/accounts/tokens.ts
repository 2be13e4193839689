import { hash, randomBytes } from 'node:crypto';

/** 160 random bits as 40 lowercase hex characters: the original's token format. */
export function generateToken(): string {
  return randomBytes(20).toString('hex');
}

/** Tokens are stored only as this digest, so a copy of the database holds no usable token. */
export function tokenDigest(token: string): string {
  return hash('sha256', token, 'hex');
}
