import { JsonNumber } from './fields.js';

/**
 * Bounds on the shape of a JSON body. The API's bodies are flat objects; these leave room for
 * clients that send more (unknown fields are ignored) while keeping the work and the memory of
 * one request small: a megabyte of `[[],[],…]` or `{"a":{"a":…` would otherwise build hundreds
 * of thousands of objects and cost V8 a large share of a second.
 */
const JSON_LIMITS = { depth: 32, containers: 1000, members: 1000 };

/** A JSON body refused for its shape; the message is the reason given after "JSON parse error - ". */
export class JsonShapeError extends Error {}

/**
 * Parses a JSON text. Numbers that are members of the top-level object keep their source text
 * (see JsonNumber) unless JavaScript prints them as Python would (integers within 2^53), as
 * does a top-level number: `1.0`, `0.00001` or integers beyond 2^53 are stored as Python writes them. Only those can reach a field; nested values
 * are ignored or refused whatever they hold. The source text is found by one linear scan
 * instead of a JSON.parse reviver, which V8 calls for every value of the body (half a second
 * for a megabyte of `[0,0,…]`).
 */
export function parseJson(text: string): unknown {
  const numbers = scan(text);
  const value: unknown = JSON.parse(text);
  if (typeof value === 'number') return withSource(value, text.trim());
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [name, source] of numbers) {
      const member = Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined;
      if (typeof member !== 'number') continue;
      // defineProperty, not assignment: a member named "__proto__" stays a member.
      Object.defineProperty(value, name, { value: withSource(member, source), enumerable: true, writable: true, configurable: true });
    }
  }
  return value;
}

/** A number as JavaScript prints it is Python's text only for integers that were written so. */
function withSource(value: number, source: string): number | JsonNumber {
  const number = new JsonNumber(value, source);
  return number.isInteger && String(value) === source ? value : number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;

const isDigit = (code: number) => code >= 0x30 && code <= 0x39;
const isJsonSpace = (code: number) => code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
const isNumberPart = (code: number) => isDigit(code) || code === MINUS || code === 0x2b || code === 0x2e || code === 0x45 || code === 0x65;

/**
 * One pass over the text, outside strings: enforces JSON_LIMITS and collects the source text of
 * the numbers that are members of the top-level object, by member name (the last one wins, as
 * in JSON.parse). The text need not be valid JSON: JSON.parse judges that afterwards.
 */
function scan(text: string): Map<string, string> {
  const numbers = new Map<string, string>();
  let depth = 0;
  let containers = 0;
  let members = 0;
  let nameStart = -1;
  let nameEnd = -1;
  let awaitingValue = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      const end = closingQuote(text, i);
      if (depth === 1 && !awaitingValue) [nameStart, nameEnd] = [i, end];
      awaitingValue = false;
      i = end;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (++depth > JSON_LIMITS.depth) throw new JsonShapeError(`nested deeper than ${JSON_LIMITS.depth} levels`);
      if (++containers > JSON_LIMITS.containers) throw new JsonShapeError(`more than ${JSON_LIMITS.containers} objects and arrays`);
      awaitingValue = false;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth--;
    } else if (code === COLON) {
      if (++members > JSON_LIMITS.members) throw new JsonShapeError(`more than ${JSON_LIMITS.members} object members`);
      awaitingValue = depth === 1;
    } else if (awaitingValue && !isJsonSpace(code)) {
      awaitingValue = false;
      if (code !== MINUS && !isDigit(code)) continue;
      let end = i + 1;
      while (end < text.length && isNumberPart(text.charCodeAt(end))) end++;
      const name = memberName(text, nameStart, nameEnd);
      if (name !== undefined) numbers.set(name, text.slice(i, end));
      i = end - 1;
    }
  }
  return numbers;
}

/** The index of the quote that closes the string opening at `start` (or the text's length). */
function closingQuote(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === BACKSLASH) i++;
    else if (code === QUOTE) return i;
  }
  return text.length;
}

function memberName(text: string, start: number, end: number): string | undefined {
  if (start < 0 || end >= text.length) return undefined;
  const literal = text.slice(start, end + 1);
  if (!literal.includes('\\')) return literal.slice(1, -1);
  try {
    return JSON.parse(literal) as string;
  } catch {
    return undefined;
  }
}
