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

export const MAX_TITLE_LENGTH = 200;
/**
 * The original sets no limit, which let one user's tasks exhaust the server's memory. Peers
 * allow 8,192 (Google Tasks) to 16,383 (Todoist) characters; the shorter keeps the worst page
 * of a thousand tasks to tens of megabytes.
 */
export const MAX_DESCRIPTION_LENGTH = 8192;

const FIELDS: { [K in keyof TaskChanges]-?: (value: unknown) => Parsed<TaskChanges[K]> } = {
  title: (value) => parseString(value, { maxLength: MAX_TITLE_LENGTH }),
  description: (value) => parseString(value, { allowBlank: true, maxLength: MAX_DESCRIPTION_LENGTH }),
  due_date: parseOptionalDate,
  completed: parseBoolean,
};

/** Validates every field at once and throws the original's field errors. */
export function parseTaskChanges(body: BodyData, mode: WriteMode): TaskChanges {
  const errors = new FieldErrorCollector();
  const changes = collectTaskChanges(body, mode, errors);
  errors.throwIfAny();
  return changes;
}

/** The task's own fields from the body; their errors are added to `errors`. */
export function collectTaskChanges(body: BodyData, mode: WriteMode, errors: FieldErrorCollector): TaskChanges {
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
  return changes as TaskChanges;
}
