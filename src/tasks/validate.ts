import type { BodyData } from '../http/body.js';
import { FieldErrorCollector } from '../http/errors.js';
import { REQUIRED, parseBoolean, parseOptionalDate, parseString, type Parsed } from '../http/fields.js';

/** The writable fields of a task; read-only and unknown fields in a body are ignored. */
export interface TaskChanges {
  title?: string;
  description?: string;
  due_date?: string | null;
  completed?: boolean;
}

/**
 * create: `title` required, the rest default. replace (PUT): `title` required, omitted fields
 * keep their values. partial (PATCH): any subset.
 */
export type WriteMode = 'create' | 'replace' | 'partial';

const FIELDS: { [K in keyof TaskChanges]-?: (value: unknown) => Parsed<TaskChanges[K]> } = {
  title: (value) => parseString(value, { maxLength: 200 }),
  description: (value) => parseString(value, { allowBlank: true }),
  due_date: parseOptionalDate,
  completed: parseBoolean,
};

/** Validates every field at once and throws the original's field errors. */
export function parseTaskChanges(body: BodyData, mode: WriteMode): TaskChanges {
  const errors = new FieldErrorCollector();
  const changes: Record<string, unknown> = {};
  for (const [name, parse] of Object.entries(FIELDS)) {
    const value = body[name];
    if (value === undefined) {
      if (name === 'title' && mode !== 'partial') errors.add(name, REQUIRED);
      continue;
    }
    const parsed = (parse as (value: unknown) => Parsed<unknown>)(value);
    if (parsed.ok) changes[name] = parsed.value;
    else errors.add(name, parsed.messages);
  }
  errors.throwIfAny();
  return changes as TaskChanges;
}
