import { FieldErrorCollector, detail, validation } from '../http/errors.js';
import { REQUIRED, calendarDate, parseBoolean, type Parsed } from '../http/fields.js';

/** Query parameters of GET /api/tasks/, parsed; bad values are 400 field errors, never ignored. */
export interface TaskQuery {
  filters: TaskFilters;
  ordering: OrderKey[];
  pagination: Pagination | undefined;
}

export interface TaskFilters {
  completed?: boolean;
  dueBefore?: string;
  dueAfter?: string;
  overdue?: boolean;
  hasDueDate?: boolean;
  search?: string;
  updatedSince?: string;
  /** A list's tasks, or the caller's personal ones. */
  list?: number | 'personal';
  /** Tasks assigned to the caller, to nobody, or to the user with this id. */
  assignee?: number | 'me' | 'none';
}

export const ORDERING_FIELDS = ['id', 'title', 'due_date', 'completed', 'created_at', 'updated_at'] as const;
export type OrderField = (typeof ORDERING_FIELDS)[number];
export interface OrderKey {
  field: OrderField;
  descending: boolean;
}

export type Pagination =
  | { kind: 'page'; page: number; pageSize: number }
  | { kind: 'offset'; limit: number; offset: number }
  | { kind: 'cursor'; cursor: string; pageSize: number };

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

type RawQuery = Record<string, string | string[] | undefined>;

/** A repeated parameter counts once, with its last value, as in Django's QueryDict. */
function queryParam(raw: RawQuery, name: string): string | undefined {
  const value = raw[name];
  return Array.isArray(value) ? value.at(-1) : value;
}

/** The required `since` of GET /api/tasks/deleted/, as a stored timestamp. */
export function parseSince(raw: RawQuery): string {
  const text = queryParam(raw, 'since');
  if (text === undefined) throw validation({ since: [REQUIRED] });
  const parsed = parseTimestamp(text);
  if (!parsed.ok) throw validation({ since: parsed.messages });
  return parsed.value;
}

/** Reads query parameters, collecting the errors of those that do not parse. */
function queryReader(raw: RawQuery, errors: FieldErrorCollector) {
  const param = (name: string) => queryParam(raw, name);
  const read = <T>(name: string, parse: (text: string) => Parsed<T>): T | undefined => {
    const text = param(name);
    if (text === undefined) return undefined;
    const parsed = parse(text);
    if (parsed.ok) return parsed.value;
    errors.add(name, parsed.messages);
    return undefined;
  };
  return { param, read };
}

/** The pagination parameters alone, as every paginated index reads them. */
export function parsePaginationQuery(raw: RawQuery): Pagination | undefined {
  const errors = new FieldErrorCollector();
  const { param, read } = queryReader(raw, errors);
  const pagination = parsePagination(param, read);
  errors.throwIfAny();
  return pagination;
}

export function parseTaskQuery(raw: RawQuery): TaskQuery {
  const errors = new FieldErrorCollector();
  const { param, read } = queryReader(raw, errors);

  const filters: TaskFilters = {
    completed: read('completed', parseBoolean),
    dueBefore: read('due_before', parseDate),
    dueAfter: read('due_after', parseDate),
    overdue: read('overdue', parseBoolean),
    hasDueDate: read('has_due_date', parseBoolean),
    search: read('search', parseSearch),
    updatedSince: read('updated_since', parseTimestamp),
    list: read('list', (text) => idOr(text, ['personal'], 'Enter a list id or "personal".')),
    assignee: read('assignee', (text) => idOr(text, ['me', 'none'], 'Enter a user id, "me" or "none".')),
  };
  const ordering = read('ordering', parseOrdering) ?? [];
  const pagination = parsePagination(param, read);
  errors.throwIfAny();
  return { filters: withoutUndefined(filters), ordering, pagination };
}

function parsePagination(
  param: (name: string) => string | undefined,
  read: <T>(name: string, parse: (text: string) => Parsed<T>) => T | undefined,
): Pagination | undefined {
  const has = (name: string) => param(name) !== undefined;
  const kinds = new Set<Pagination['kind']>();
  if (has('cursor')) kinds.add('cursor');
  if (has('limit') || has('offset')) kinds.add('offset');
  // page_size sets the size of numbered pages, or of cursor pages.
  if (has('page') || (has('page_size') && !has('cursor'))) kinds.add('page');
  if (kinds.size > 1) {
    throw detail(400, 'Use one kind of pagination: page and page_size, limit and offset, or cursor and page_size.');
  }
  const size = (name: string) => capped(read(name, positiveInteger));
  const [kind] = kinds;
  switch (kind) {
    case 'cursor':
      return { kind, cursor: param('cursor')!, pageSize: size('page_size') };
    case 'offset':
      return { kind, limit: size('limit'), offset: read('offset', nonNegativeInteger) ?? 0 };
    case 'page':
      return { kind, page: read('page', positiveInteger) ?? 1, pageSize: size('page_size') };
    default:
      return undefined;
  }
}

/** Like DRF's max_page_size, larger requests are served the largest page. */
function capped(size: number | undefined): number {
  return Math.min(size ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
}

const INVALID_INTEGER = 'A valid integer is required.';

function positiveInteger(text: string): Parsed<number> {
  const parsed = nonNegativeInteger(text);
  if (parsed.ok && parsed.value === 0) return { ok: false, messages: ['Ensure this value is greater than or equal to 1.'] };
  return parsed;
}

function nonNegativeInteger(text: string): Parsed<number> {
  if (!/^\d{1,15}$/.test(text.trim())) return { ok: false, messages: [INVALID_INTEGER] };
  return { ok: true, value: Number(text.trim()) };
}

/** A positive id, or one of the given words. */
function idOr<W extends string>(text: string, words: W[], message: string): Parsed<number | W> {
  const trimmed = text.trim();
  if ((words as string[]).includes(trimmed)) return { ok: true, value: trimmed as W };
  const parsed = positiveInteger(trimmed);
  return parsed.ok ? parsed : { ok: false, messages: [message] };
}

function parseDate(text: string): Parsed<string> {
  const date = calendarDate(text.trim());
  return date === null ? { ok: false, messages: ['Enter a valid date.'] } : { ok: true, value: date };
}

function parseSearch(text: string): Parsed<string | undefined> {
  if (text.includes('\0')) return { ok: false, messages: ['Null characters are not allowed.'] };
  const term = text.trim();
  // An empty search matches everything, as DRF's SearchFilter does.
  return { ok: true, value: term === '' ? undefined : term };
}

function parseOrdering(text: string): Parsed<OrderKey[]> {
  const keys: OrderKey[] = [];
  const unknown: string[] = [];
  for (const part of text.split(',').map((item) => item.trim())) {
    if (part === '') continue;
    const descending = part.startsWith('-');
    const field = descending ? part.slice(1) : part;
    if (!(ORDERING_FIELDS as readonly string[]).includes(field)) unknown.push(field);
    else if (!keys.some((key) => key.field === field)) keys.push({ field: field as OrderField, descending });
  }
  if (unknown.length > 0) {
    return {
      ok: false,
      messages: unknown.map((field) => `Unknown ordering field "${field}". Choose from: ${ORDERING_FIELDS.join(', ')}.`),
    };
  }
  return { ok: true, value: keys };
}

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * An ISO 8601 timestamp, normalised to the stored form (UTC, microseconds). Without an offset
 * it is taken as UTC. A `+` that arrived unencoded in a query string reads as a space.
 */
export function parseTimestamp(text: string): Parsed<string> {
  const invalid = { ok: false as const, messages: ['Enter a valid date/time.'] };
  const match = TIMESTAMP.exec(text.trim().replace(/ (\d{2}:?\d{2})$/, '+$1'));
  if (!match) return invalid;
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', zone = 'Z'] = match;
  if (calendarDate(`${year}-${month}-${day}`) === null || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) {
    return invalid;
  }
  const offset = zone.toUpperCase() === 'Z' ? '+00:00' : zone.replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
  const epochMs = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}${offset}`);
  if (Number.isNaN(epochMs)) return invalid;
  const iso = new Date(epochMs).toISOString();
  // Years 0001-9999 in UTC, as both databases store them: an offset can carry a time at either
  // end across (`0001-01-01T00:00:00+01:00` is in year 0, which PostgreSQL refuses).
  if (!/^\d{4}-/.test(iso) || iso.startsWith('0000')) return invalid;
  return { ok: true, value: `${iso.slice(0, 19)}.${fraction.slice(0, 6).padEnd(6, '0')}Z` };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}
