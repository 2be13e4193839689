import type { Role } from '../db/tables.js';
import type { BodyData } from '../http/body.js';
import { FieldErrorCollector } from '../http/errors.js';
import { REQUIRED, parseString, type Parsed } from '../http/fields.js';

export const MAX_NAME_LENGTH = 100;
export const MAX_LIST_DESCRIPTION_LENGTH = 1000;
const ROLES: Role[] = ['owner', 'editor', 'viewer'];

/** create: `name` required. replace (PUT): `name` required, omitted description kept. partial: any. */
export type ListWriteMode = 'create' | 'replace' | 'partial';

export function parseListChanges(body: BodyData, mode: ListWriteMode): { name?: string; description?: string } {
  const errors = new FieldErrorCollector();
  const changes: { name?: string; description?: string } = {};
  if (body.name === undefined) {
    if (mode !== 'partial') errors.add('name', REQUIRED);
  } else collect(errors, 'name', parseString(body.name, { maxLength: MAX_NAME_LENGTH }), (value) => (changes.name = value));
  if (body.description !== undefined) {
    const parsed = parseString(body.description, { allowBlank: true, maxLength: MAX_LIST_DESCRIPTION_LENGTH });
    collect(errors, 'description', parsed, (value) => (changes.description = value));
  }
  errors.throwIfAny();
  return changes;
}

/** DRF's ChoiceField. */
export function parseRole(input: unknown): Parsed<Role> {
  if (typeof input === 'string' && (ROLES as string[]).includes(input)) return { ok: true, value: input as Role };
  return { ok: false, messages: [`"${typeof input === 'string' ? input : JSON.stringify(input)}" is not a valid choice.`] };
}

export function parseNewMember(body: BodyData): { username: string; role: Role } {
  const errors = new FieldErrorCollector();
  let username = '';
  let role: Role = 'viewer';
  if (body.username === undefined) errors.add('username', REQUIRED);
  else collect(errors, 'username', parseString(body.username, { maxLength: 150 }), (value) => (username = value));
  if (body.role !== undefined) collect(errors, 'role', parseRole(body.role), (value) => (role = value));
  errors.throwIfAny();
  return { username, role };
}

/** PATCH of a membership: the new role, or undefined when the body leaves it as it is. */
export function parseRoleChange(body: BodyData): Role | undefined {
  if (body.role === undefined) return undefined;
  const parsed = parseRole(body.role);
  if (!parsed.ok) {
    const errors = new FieldErrorCollector();
    errors.add('role', parsed.messages);
    errors.throwIfAny();
  }
  return (parsed as { value: Role }).value;
}

function collect<T>(errors: FieldErrorCollector, field: string, parsed: Parsed<T>, use: (value: T) => void): void {
  if (parsed.ok) use(parsed.value);
  else errors.add(field, parsed.messages);
}
