import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * Django's four default password validators, with their messages: similarity to the user's
 * attributes, minimum length, common passwords, entirely numeric. Every failing rule is reported.
 */
export const MIN_PASSWORD_LENGTH = 8;
/** Longer input is refused before hashing, so a huge password cannot tie up a hashing thread. */
export const MAX_PASSWORD_LENGTH = 4096;
const MAX_SIMILARITY = 0.7;

// ~49,000 passwords from real breaches, shipped (MIT) with the zxcvbn-ts project.
let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  common ??= new Set((dictionary['passwords-common'] as string[]).map((word) => word.toLowerCase()));
  return common;
}

/** How many passwords the common-password rule refuses (Django's own list has 20,000). */
export function commonPasswordCount(): number {
  return commonPasswords().size;
}

export interface PasswordContext {
  username?: string;
  email?: string;
}

export function passwordProblems(password: string, context: PasswordContext): string[] {
  const problems: string[] = [];
  const similar = similarAttribute(password, context);
  if (similar) problems.push(`The password is too similar to the ${similar}.`);
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    problems.push(`This password is too short. It must contain at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
  if (commonPasswords().has(password.toLowerCase().trim())) problems.push('This password is too common.');
  if (/^\d+$/.test(password)) problems.push('This password is entirely numeric.');
  return problems;
}

const ATTRIBUTES: [keyof PasswordContext, string][] = [
  ['username', 'username'],
  ['email', 'email address'],
];

function similarAttribute(password: string, context: PasswordContext): string | undefined {
  // Compared as arrays of code points, so lengths and ratios count characters as Python does.
  const lowered = [...password.toLowerCase()];
  for (const [attribute, label] of ATTRIBUTES) {
    const value = context[attribute]?.toLowerCase();
    if (!value) continue;
    const parts = [...value.split(/[^\p{L}\p{N}_]+/u), value].map((part) => [...part]);
    for (const part of parts) {
      if (tooLongToCompare(lowered, part)) continue;
      if (quickRatio(lowered, part) >= MAX_SIMILARITY) return label;
    }
  }
  return undefined;
}

/** Django skips parts so short against the password that they cannot reach the ratio. */
function tooLongToCompare(password: string[], part: string[]): boolean {
  const passwordLength = password.length;
  return passwordLength >= 10 * part.length && part.length < (MAX_SIMILARITY / 2) * passwordLength;
}

/** Python's SequenceMatcher.quick_ratio: shared characters (as multisets) against total length. */
function quickRatio(a: string[], b: string[]): number {
  const total = a.length + b.length;
  if (total === 0) return 1;
  const counts = new Map<string, number>();
  for (const char of b) counts.set(char, (counts.get(char) ?? 0) + 1);
  let matches = 0;
  for (const char of a) {
    const left = counts.get(char) ?? 0;
    if (left > 0) {
      matches++;
      counts.set(char, left - 1);
    }
  }
  return (2 * matches) / total;
}
