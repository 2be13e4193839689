/**
 * Field parsing with Django REST Framework's semantics and messages, shared by every
 * capability. Each parser returns the cleaned value or the list of messages for the field.
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; messages: string[] };

export const REQUIRED = 'This field is required.';
const BLANK = 'This field may not be blank.';
const NULL = 'This field may not be null.';
const NOT_A_STRING = 'Not a valid string.';
const NOT_A_BOOLEAN = 'Must be a valid boolean.';
const NUL_CHARACTER = 'Null characters are not allowed.';
const DATE_FORMAT = 'Date has wrong format. Use one of these formats instead: YYYY-MM-DD.';

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });

/** A JSON number that must keep the text it was sent as (see body.ts). */
export class JsonNumber {
  constructor(
    readonly value: number,
    readonly source: string,
  ) {}

  /** The text Python gives this number, as the original stores numbers sent for text fields. */
  get pythonText(): string {
    // JSON writes integers without leading zeros or a plus sign, so Python prints them as sent
    // (but for -0). Converting the text to a BigInt and back would cost time that grows faster
    // than the text: a third of a second for a megabyte of digits.
    if (this.isInteger) return this.source === '-0' ? '0' : this.source;
    return pythonFloat(this.value);
  }

  get isInteger(): boolean {
    return /^-?\d+$/.test(this.source);
  }
}

function pythonFloat(value: number): string {
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1e16 || magnitude < 1e-4) {
    const [mantissa, exponent] = value.toExponential().split('e') as [string, string];
    return `${mantissa}e${exponent[0]}${exponent.slice(1).padStart(2, '0')}`;
  }
  const text = String(value);
  return text.includes('.') ? text : `${text}.0`;
}
const fail = (...messages: string[]): Parsed<never> => ({ ok: false, messages });

export interface StringRules {
  maxLength?: number;
  allowBlank?: boolean;
  /** Passwords keep their white space exactly as typed. */
  trim?: boolean;
}

/** DRF's CharField: numbers become their text, surrounding white space is trimmed, NUL is refused. */
export function parseString(input: unknown, rules: StringRules = {}): Parsed<string> {
  if (input === null) return fail(NULL);
  let text: string;
  if (typeof input === 'string') text = input;
  else if (typeof input === 'number' && Number.isFinite(input)) text = String(input);
  else if (input instanceof JsonNumber) text = input.pythonText;
  else return fail(NOT_A_STRING);
  if (rules.trim !== false) text = text.trim();
  if (text === '' || (rules.trim === false && text.trim() === '')) {
    return rules.allowBlank ? ok('') : fail(BLANK);
  }
  const messages: string[] = [];
  // Lengths count Unicode code points, as Python does.
  if (rules.maxLength !== undefined && longerThan(text, rules.maxLength)) {
    messages.push(`Ensure this field has no more than ${rules.maxLength} characters.`);
  }
  if (text.includes('\0')) messages.push(NUL_CHARACTER);
  return messages.length > 0 ? fail(...messages) : ok(text);
}

/** Whether the text has more than `max` code points, without counting a megabyte of them. */
export function longerThan(text: string, max: number): boolean {
  // A code point takes one or two UTF-16 units.
  if (text.length <= max) return false;
  if (text.length > 2 * max) return true;
  return codePointLength(text) > max;
}

function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

const TRUE_TEXT = new Set(['true', '1', 'yes', 'on', 't', 'y']);
const FALSE_TEXT = new Set(['false', '0', 'no', 'off', 'f', 'n']);

/** DRF's BooleanField: true/false, 1/0 and the usual words in any letter case. */
export function parseBoolean(input: unknown): Parsed<boolean> {
  if (input === null) return fail(NULL);
  if (typeof input === 'boolean') return ok(input);
  // Python compares 1.0 equal to 1, so the original takes it as true too.
  const number = input instanceof JsonNumber ? input.value : input;
  if (number === 1 || number === 0) return ok(number === 1);
  if (typeof input === 'string') {
    const word = input.toLowerCase();
    if (TRUE_TEXT.has(word)) return ok(true);
    if (FALSE_TEXT.has(word)) return ok(false);
  }
  return fail(NOT_A_BOOLEAN);
}

/**
 * A calendar date `YYYY-MM-DD` (Django also accepts one-digit months and days) in years
 * 0001-9999, returned normalised; `null` and `""` mean no date.
 */
export function parseOptionalDate(input: unknown): Parsed<string | null> {
  if (input === null || input === '') return ok(null);
  if (typeof input !== 'string') return fail(DATE_FORMAT);
  const date = calendarDate(input);
  return date === null ? fail(DATE_FORMAT) : ok(date);
}

/** The normalised `YYYY-MM-DD` form of a real calendar date, or null. */
export function calendarDate(text: string): string | null {
  const match = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(text);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return `${match[1]}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

/**
 * A positive integer id from a URL segment; anything else (0, negative, not a number, or too
 * large to be an id) is undefined, which callers answer as 404 like a missing object.
 */
export function parsePathId(segment: string): number | undefined {
  if (!/^\d{1,16}$/.test(segment)) return undefined;
  const id = Number(segment);
  return id >= 1 && Number.isSafeInteger(id) ? id : undefined;
}

/** The name the original gives the Python type of a value it refuses. */
export function pythonTypeName(value: unknown): string {
  if (value instanceof JsonNumber) return value.isInteger ? 'int' : 'float';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (value !== null && typeof value === 'object') return 'dict';
  return typeof value;
}

/**
 * DRF's PrimaryKeyRelatedField with `allow_null`, before its lookup: an id as a number or its
 * text, or null (`""` from a form). Ids that cannot exist (0, negative, too large) come back
 * as -1 so that the lookup finds nothing and says so with the id as sent.
 */
export function parseReference(input: unknown): Parsed<{ id: number; sent: string } | null> {
  if (input === null || input === '') return ok(null);
  const text =
    input instanceof JsonNumber && input.isInteger
      ? input.source
      : typeof input === 'number' && Number.isInteger(input)
        ? String(input)
        : typeof input === 'string' && /^\s*-?\d+\s*$/.test(input)
          ? input.trim()
          : undefined;
  if (text === undefined) return fail(`Incorrect type. Expected pk value, received ${pythonTypeName(input)}.`);
  const id = /^\d{1,16}$/.test(text) && Number.isSafeInteger(Number(text)) && Number(text) >= 1 ? Number(text) : -1;
  return ok({ id, sent: text });
}

/** DRF's message for a reference to nothing the caller may see. */
export const doesNotExist = (sent: string) => `Invalid pk "${sent}" - object does not exist.`;
