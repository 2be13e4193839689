import { domainToASCII } from 'node:url';
import { FieldErrorCollector, nonFieldError } from '../http/errors.js';
import { REQUIRED, longerThan, parseString, type Parsed } from '../http/fields.js';
import type { BodyData } from '../http/body.js';
import { MAX_PASSWORD_LENGTH, passwordProblems } from './password-policy.js';
import { usernameKey } from './repository.js';

const USERNAME_PATTERN = /^[\p{L}\p{N}_.@+-]+$/u;
const INVALID_USERNAME =
  'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.';
const INVALID_EMAIL = 'Enter a valid email address.';
const MAX_USERNAME_LENGTH = 150;
const FOLDED_USERNAME_TOO_LONG = `Ensure this field has no more than ${MAX_USERNAME_LENGTH} characters once case-folded.`;
export const USERNAME_TAKEN = 'A user with that username already exists.';
const PASSWORDS_DIFFER = "The two password fields didn't match.";

export interface Registration {
  username: string;
  email: string;
  password: string;
}

/**
 * The body's password field, and the field that must repeat it if there is one
 * (dj-rest-auth's `password1` and `password2`).
 */
export interface PasswordFields {
  password: string;
  confirmation?: string;
}

/** Validates a sign-up body, reporting every failing field at once (a taken username included). */
export async function parseRegistration(
  body: BodyData,
  usernameTaken: (username: string) => Promise<boolean>,
  fields: PasswordFields = { password: 'password' },
): Promise<Registration> {
  const errors = new FieldErrorCollector();
  const username = field(errors, 'username', body, parseUsername);
  if (username !== undefined && (await usernameTaken(username))) errors.add('username', USERNAME_TAKEN);
  const email = 'email' in body ? field(errors, 'email', body, parseEmail) : '';
  const password = field(errors, fields.password, body, parsePassword);
  const confirmation = fields.confirmation === undefined ? password : field(errors, fields.confirmation, body, parsePassword);
  if (password !== undefined) {
    const problems = passwordProblems(password, { username, email });
    if (problems.length > 0) errors.add(fields.password, problems);
  }
  errors.throwIfAny();
  // As dj-rest-auth, a mismatch is reported once every field is valid on its own.
  if (confirmation !== password) throw nonFieldError(PASSWORDS_DIFFER);
  return { username: username!, email: email!, password: password! };
}

export function parseCredentials(body: BodyData): { username: string; password: string } {
  return requiredFields(body, { username: (value) => parseString(value), password: parsePassword });
}

/** Reads required fields with their parsers, reporting every failing one at once. */
export function requiredFields<T extends Record<string, unknown>>(
  body: BodyData,
  parsers: { [K in keyof T]: (value: unknown) => Parsed<T[K]> },
): T {
  const errors = new FieldErrorCollector();
  const values: Record<string, unknown> = {};
  for (const [name, parse] of Object.entries(parsers) as [string, (value: unknown) => Parsed<unknown>][]) {
    values[name] = field(errors, name, body, parse);
  }
  errors.throwIfAny();
  return values as T;
}

/** Reads a required field, recording its messages; undefined when it failed. */
export function field<T>(
  errors: FieldErrorCollector,
  name: string,
  body: BodyData,
  parse: (value: unknown) => Parsed<T>,
): T | undefined {
  if (!(name in body) || body[name] === undefined) {
    errors.add(name, REQUIRED);
    return undefined;
  }
  const parsed = parse(body[name]);
  if (parsed.ok) return parsed.value;
  errors.add(name, parsed.messages);
  return undefined;
}

export function parseUsername(value: unknown): Parsed<string> {
  const parsed = parseString(value, { maxLength: MAX_USERNAME_LENGTH });
  if (!parsed.ok) return parsed;
  if (!USERNAME_PATTERN.test(parsed.value)) return { ok: false, messages: [INVALID_USERNAME] };
  // The case-folded form under which usernames are unique can be longer (`ﬀ` folds to `ff`),
  // and is stored in a column of the same size.
  if (longerThan(usernameKey(parsed.value), MAX_USERNAME_LENGTH)) return { ok: false, messages: [FOLDED_USERNAME_TOO_LONG] };
  return parsed;
}

/** Passwords are never trimmed: what the user typed at sign-up is what logs them in. */
export function parsePassword(value: unknown): Parsed<string> {
  return parseString(value, { trim: false, maxLength: MAX_PASSWORD_LENGTH });
}

/** An account's optional email address: blank, or a valid address. */
export function parseEmail(value: unknown): Parsed<string> {
  return emailField(value, true);
}

/** DRF's EmailField: a valid address, not blank. */
export function parseRequiredEmail(value: unknown): Parsed<string> {
  return emailField(value, false);
}

function emailField(value: unknown, allowBlank: boolean): Parsed<string> {
  const parsed = parseString(value, { maxLength: 254, allowBlank });
  if (!parsed.ok || parsed.value === '') return parsed;
  return isValidEmail(parsed.value) ? parsed : { ok: false, messages: [INVALID_EMAIL] };
}

// Django's EmailValidator: a dot-atom or quoted local part, and a domain name (IDN allowed),
// `localhost`, or an IP literal in brackets.
const LOCAL_PART =
  /^(?:[-!#$%&'*+/=?^_`{}|~0-9a-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9a-z]+)*|"(?:[\x01-\x08\x0b\x0c\x0e-\x1f!#-[\]-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*")$/i;
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z0-9-]{2,63})$/i;
const IPV4_LITERAL = /^\[(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\]$/;
const IPV6_LITERAL = /^\[ipv6:[0-9a-f:.]+\]$/i;

export function isValidEmail(email: string): boolean {
  if (email.length > 320) return false;
  const at = email.lastIndexOf('@');
  if (at <= 0 || at === email.length - 1) return false;
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (!LOCAL_PART.test(local)) return false;
  if (domain === 'localhost' || IPV4_LITERAL.test(domain) || IPV6_LITERAL.test(domain)) return true;
  if (domain.endsWith('-')) return false;
  const ascii = domainToASCII(domain);
  return ascii !== '' && DOMAIN.test(ascii);
}
