import { sql, type RawBuilder } from 'kysely';
import { calendarDate } from '../http/fields.js';
import { parseTimestamp, type OrderKey } from './query.js';
import type { TaskHead } from './repository.js';

/**
 * One key of the SQL ORDER BY. Undated tasks sort last in both directions, so `due_date`
 * becomes two keys: `(due_date is null)` ascending, then the date. Ties are broken by id in the
 * direction of the last requested key, which keeps the order total (pages never overlap) and
 * lets the indexes of migration 002 serve it.
 */
export interface SortKey {
  expression: RawBuilder<unknown>;
  descending: boolean;
  value: (task: TaskHead) => unknown;
  /** Whether a value read back from a client's cursor can stand for this key. */
  accepts: (value: unknown) => boolean;
}

const isBoolean = (value: unknown) => typeof value === 'boolean';
const ACCEPTS: Record<OrderKey['field'], (value: unknown) => boolean> = {
  id: (value) => Number.isSafeInteger(value) && (value as number) > 0,
  title: (value) => typeof value === 'string' && !value.includes('\0'),
  due_date: (value) => value === null || (typeof value === 'string' && calendarDate(value) === value),
  completed: isBoolean,
  created_at: (value) => typeof value === 'string' && isStoredTimestamp(value),
  updated_at: (value) => ACCEPTS.created_at(value),
};

const DEFAULT_ORDERING: OrderKey[] = [{ field: 'id', descending: false }];

export function sortKeys(ordering: OrderKey[]): SortKey[] {
  const requested = ordering.length > 0 ? ordering : DEFAULT_ORDERING;
  const keys: SortKey[] = [];
  for (const { field, descending } of requested) {
    if (field === 'due_date') {
      keys.push({
        expression: sql`(due_date is null)`,
        descending: false,
        value: (task) => task.due_date === null,
        accepts: isBoolean,
      });
    }
    keys.push({ expression: sql.ref(field), descending, value: (task) => task[field], accepts: ACCEPTS[field] });
  }
  if (!requested.some((key) => key.field === 'id')) {
    keys.push({
      expression: sql.ref('id'),
      descending: requested.at(-1)!.descending,
      value: (task) => task.id,
      accepts: ACCEPTS.id,
    });
  }
  return keys;
}

/** `field,-field` text of an ordering, naming it inside cursors. */
export function orderingName(ordering: OrderKey[]): string {
  return (ordering.length > 0 ? ordering : DEFAULT_ORDERING).map((key) => (key.descending ? '-' : '') + key.field).join(',');
}

/**
 * The rows strictly after `values` in the order of `keys` (keyset pagination):
 * k1 > v1, or k1 = v1 and k2 > v2, and so on. A null value is an undated task's due date:
 * its group is matched with `is null`, and no row lies after it within that key.
 */
export function after(keys: SortKey[], values: unknown[], inclusive = false): RawBuilder<boolean> {
  const alternatives: RawBuilder<boolean>[] = [];
  const equalSoFar: RawBuilder<boolean>[] = [];
  keys.forEach((key, index) => {
    const value = values[index];
    if (value !== null) {
      const beyond = key.descending ? sql<boolean>`${key.expression} < ${value}` : sql<boolean>`${key.expression} > ${value}`;
      alternatives.push(equalSoFar.length === 0 ? beyond : sql<boolean>`(${sql.join([...equalSoFar, beyond], sql` and `)})`);
    }
    equalSoFar.push(value === null ? sql<boolean>`${key.expression} is null` : sql<boolean>`${key.expression} = ${value}`);
  });
  // The keys end with the id, so "equal on every key" is the task at the position itself.
  if (inclusive) alternatives.push(sql<boolean>`(${sql.join(equalSoFar, sql` and `)})`);
  return alternatives.length === 0 ? sql<boolean>`1 = 0` : sql<boolean>`(${sql.join(alternatives, sql` or `)})`;
}

export function reversed(keys: SortKey[]): SortKey[] {
  return keys.map((key) => ({ ...key, descending: !key.descending }));
}

/** Exactly a timestamp as stored: a real instant in the canonical form. */
function isStoredTimestamp(text: string): boolean {
  const parsed = parseTimestamp(text);
  return parsed.ok && parsed.value === text;
}
