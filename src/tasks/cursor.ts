import { validation } from '../http/errors.js';
import type { SortKey } from './ordering.js';

/**
 * An opaque cursor: the sort-key values of the task it points after (or before), and the
 * ordering it belongs to. Positions are values, not offsets, so tasks inserted or deleted
 * meanwhile never shift a client's place in the list.
 */
export interface Cursor {
  ordering: string;
  values: unknown[];
  /** Pages before the position, for `previous` links. */
  backwards: boolean;
  /** The task at the position itself belongs to the page. */
  inclusive: boolean;
}

export function encodeCursor(cursor: Cursor): string {
  const payload = { o: cursor.ordering, v: cursor.values, b: cursor.backwards ? 1 : 0, i: cursor.inclusive ? 1 : 0 };
  return Buffer.from(JSON.stringify(payload)).toString('base64url');
}

const INVALID = () => validation({ cursor: ['Invalid cursor.'] });

export function decodeCursor(text: string, ordering: string, keys: SortKey[]): Cursor {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw INVALID();
  }
  const { o, v, b, i } = (payload ?? {}) as { o?: unknown; v?: unknown; b?: unknown; i?: unknown };
  const flag = (value: unknown) => value === 0 || value === 1;
  if (o !== ordering || !Array.isArray(v) || v.length !== keys.length || !flag(b) || !flag(i)) throw INVALID();
  if (!keys.every((key, index) => key.accepts(v[index]))) throw INVALID();
  return { ordering, values: v, backwards: b === 1, inclusive: i === 1 };
}
