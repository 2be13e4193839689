import { usernameKey } from '../accounts/repository.js';
import { tokenDigest } from '../accounts/tokens.js';
import { parseEmail, parseUsername } from '../accounts/validation.js';
import { calendarDate, parseString, type Parsed } from '../http/fields.js';
import { foldForSearch } from '../tasks/search-text.js';
import { MAX_DESCRIPTION_LENGTH, MAX_TITLE_LENGTH } from '../tasks/validate.js';
import type { DjangoRows } from './source.js';

/** The original's rows as rows of ours, each value checked as our API and both databases need it. */
export interface ImportData {
  users: ImportedUser[];
  tokens: ImportedToken[];
  tasks: ImportedTask[];
}

export interface ImportedUser {
  id: number;
  username: string;
  username_key: string;
  email: string;
  first_name: string;
  last_name: string;
  password: string;
  is_active: boolean;
  is_staff: boolean;
  is_superuser: boolean;
  date_joined: string;
  last_login: string | null;
}

export interface ImportedToken {
  user_id: number;
  /** DRF stores the key itself; only its digest is kept here, as for every session. */
  digest: string;
  created_at: string;
}

export interface ImportedTask {
  id: number;
  owner_id: number;
  title: string;
  description: string;
  due_date: string | null;
  completed: boolean;
  created_at: string;
  /** The original keeps neither: a task counts as unchanged since its creation. */
  updated_at: string;
  completed_at: null;
  title_folded: string;
  description_folded: string;
}

/** Django's `first_name` and `last_name`: up to 150 characters, blank allowed, as dj-rest-auth's user endpoint takes them. */
const personName = (value: unknown): Parsed<string> => parseString(value, { maxLength: 150, allowBlank: true });

/** Our `users.password` column; Django's holds 128 characters, but SQLite does not enforce it. */
const MAX_HASH_LENGTH = 255;

/**
 * Maps every source row; `problems` lists each value that our API would refuse or one of our
 * databases could not store (NUL characters, lengths, impossible dates), one line per value.
 */
export function mapDjangoRows(rows: DjangoRows): { data: ImportData; problems: string[] } {
  const problems: string[] = [];
  const users = rows.users.flatMap((row) => mapUser(row, problems));
  // Every id the source gives a user, valid or not, so that a bad user is reported once, not
  // again for each of their tasks.
  const userIds = new Set(rows.users.map((row) => identifier(row.id)).flatMap((id) => (id.ok ? [id.value] : [])));
  const tokens = rows.tokens.flatMap((row) => mapToken(row, userIds, problems));
  const tasks = rows.tasks.flatMap((row) => mapTask(row, userIds, problems));
  return { data: { users, tokens, tasks }, problems };
}

function mapUser(row: DjangoRows['users'][number], problems: string[]): ImportedUser[] {
  const check = new RowCheck(problems, `auth_user id ${shown(row.id)}`);
  const id = check.take('id', identifier(row.id));
  const username = check.take('username', exactUsername(row.username));
  const user = {
    id,
    username,
    username_key: username === undefined ? '' : usernameKey(username),
    email: check.take('email', parseEmail(row.email)),
    first_name: check.take('first_name', personName(row.first_name)),
    last_name: check.take('last_name', personName(row.last_name)),
    password: check.take('password', passwordHash(row.password)),
    is_active: check.take('is_active', flag(row.is_active)),
    is_staff: check.take('is_staff', flag(row.is_staff)),
    is_superuser: check.take('is_superuser', flag(row.is_superuser)),
    date_joined: check.take('date_joined', timestamp(row.date_joined)),
    last_login: check.take('last_login', row.last_login === null ? ok(null) : timestamp(row.last_login)),
  };
  return check.ok ? [user] : [];
}

function mapToken(row: DjangoRows['tokens'][number], userIds: Set<number>, problems: string[]): ImportedToken[] {
  // The key is a password in all but name: never shown.
  const check = new RowCheck(problems, `authtoken_token of user_id ${shown(row.user_id)}`);
  const token = {
    user_id: check.take('user_id', reference(row.user_id, userIds)),
    digest: tokenDigest(check.take('key', tokenKey(row.key)) ?? ''),
    created_at: check.take('created', timestamp(row.created)),
  };
  return check.ok ? [token] : [];
}

function mapTask(row: DjangoRows['tasks'][number], userIds: Set<number>, problems: string[]): ImportedTask[] {
  const check = new RowCheck(problems, `tasks_task id ${shown(row.id)}`);
  const id = check.take('id', identifier(row.id));
  const ownerId = check.take('owner_id', reference(row.owner_id, userIds));
  const title = check.take('title', parseString(row.title, { maxLength: MAX_TITLE_LENGTH }));
  const description = check.take('description', parseString(row.description, { allowBlank: true, maxLength: MAX_DESCRIPTION_LENGTH }));
  const dueDate = check.take('due_date', date(row.due_date));
  const completed = check.take('completed', flag(row.completed));
  const createdAt = check.take('created_at', timestamp(row.created_at));
  if (!check.ok) return [];
  return [
    {
      id,
      owner_id: ownerId,
      title,
      description,
      due_date: dueDate,
      completed,
      created_at: createdAt,
      updated_at: createdAt,
      completed_at: null,
      // As every write of ours stores them, for search.
      title_folded: foldForSearch(title),
      description_folded: foldForSearch(description),
    },
  ];
}

/** Collects what is wrong with one row's values, under the row's name. */
class RowCheck {
  ok = true;

  constructor(
    private readonly problems: string[],
    private readonly row: string,
  ) {}

  /** The value if it is valid; otherwise the problem is recorded and the row will be dropped. */
  take<T>(column: string, parsed: Parsed<T>): T {
    if (parsed.ok) return parsed.value;
    this.ok = false;
    this.problems.push(`${this.row}, ${column}: ${parsed.messages.join(' ')}`);
    return undefined as T;
  }
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (message: string): Parsed<never> => ({ ok: false, messages: [message] });

/** A positive whole number both databases store exactly (SQLite gives BigInts, see the readers). */
function identifier(value: unknown): Parsed<number> {
  const number = typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) && number >= 1
    ? ok(number)
    : fail(`${shown(value)} is not an id (a whole number from 1 to ${Number.MAX_SAFE_INTEGER}).`);
}

function reference(value: unknown, userIds: Set<number>): Parsed<number> {
  const id = identifier(value);
  return !id.ok || userIds.has(id.value) ? id : fail(`there is no user ${id.value} in auth_user.`);
}

/** Django's booleans: `boolean` on PostgreSQL, 0 or 1 in SQLite's `bool` columns. */
function flag(value: unknown): Parsed<boolean> {
  if (typeof value === 'boolean') return ok(value);
  if (value === 0n || value === 1n || value === 0 || value === 1) return ok(Number(value) === 1);
  return fail(`${shown(value)} is not a boolean.`);
}

function date(value: unknown): Parsed<string | null> {
  if (value === null) return ok(null);
  return typeof value === 'string' && calendarDate(value) === value ? ok(value) : fail(`${shown(value)} is not a date from 0001-01-01 to 9999-12-31.`);
}

function timestamp(value: unknown): Parsed<string> {
  const converted = typeof value === 'string' ? djangoTimestamp(value) : null;
  return converted === null ? fail(`${shown(value)} is not a date and time in the years 0001 to 9999.`) : ok(converted);
}

/**
 * Django's SQLite text `2026-11-24 03:15:53.617827` (UTC under USE_TZ, the fraction left out
 * when zero) or PostgreSQL's `2026-11-24 03:15:53.6178+00`, as our ISO 8601 UTC with
 * microseconds. A time without an offset is taken as UTC. Null when it is not a real instant of
 * years 0001-9999.
 */
export function djangoTimestamp(text: string): string | null {
  const match = DJANGO_TIMESTAMP.exec(text);
  if (!match) return null;
  const [, day = '', hours = '', minutes = '', seconds = '', fraction = '', sign, offsetHours = '0', offsetMinutes = '0'] = match;
  if (calendarDate(day) !== day || Number(hours) > 23 || Number(minutes) > 59 || Number(seconds) > 59) return null;
  const offsetMs = sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000;
  const utc = new Date(new Date(`${day}T${hours}:${minutes}:${seconds}Z`).getTime() - offsetMs).toISOString();
  // Beyond year 9999 or before year 1 once in UTC (toISOString writes `+010000-…` or `0000-…`).
  if (!/^\d{4}-/.test(utc) || utc.startsWith('0000')) return null;
  return `${utc.slice(0, 19)}.${fraction.padEnd(6, '0')}Z`;
}

const DJANGO_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:Z|([+-])(\d{2})(?::?(\d{2}))?)?$/;

/** A username as sign-up takes it, unchanged: logging in needs exactly what was stored. */
function exactUsername(value: unknown): Parsed<string> {
  const parsed = parseUsername(value);
  return parsed.ok && parsed.value !== value ? fail('Surrounding white space is not allowed.') : parsed;
}

function passwordHash(value: unknown): Parsed<string> {
  if (typeof value !== 'string') return fail(`${shown(value)} is not a password hash.`);
  if (value.includes('\0')) return fail('Null characters are not allowed.');
  return [...value].length > MAX_HASH_LENGTH ? fail(`Ensure this field has no more than ${MAX_HASH_LENGTH} characters.`) : ok(value);
}

/** DRF's keys are 40 hex characters; a key that no Authorization header can carry is refused. */
function tokenKey(value: unknown): Parsed<string> {
  return typeof value === 'string' && /^[^\s\0]+$/.test(value) ? ok(value) : fail('The key is empty or holds white space or null characters.');
}

/** A source value in a message: strings quoted and cut short, BigInts as numbers. */
function shown(value: unknown): string {
  if (typeof value === 'bigint') return String(value);
  if (typeof value !== 'string') return value instanceof Uint8Array ? '(binary data)' : String(JSON.stringify(value));
  const codePoints = [...value];
  return JSON.stringify(codePoints.length > 40 ? `${codePoints.slice(0, 40).join('')}…` : value);
}
