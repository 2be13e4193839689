/**
 * The rows of the original Django app's database, as its driver returns them: nothing is
 * trusted (SQLite stores whatever was written), so every value is checked in mapping.ts.
 */
export interface DjangoRows {
  users: Record<DjangoUserColumn, unknown>[];
  tokens: Record<DjangoTokenColumn, unknown>[];
  tasks: Record<DjangoTaskColumn, unknown>[];
}

/** The columns read from each table. */
export const DJANGO_TABLES = {
  auth_user: ['id', 'password', 'last_login', 'is_superuser', 'username', 'first_name', 'last_name', 'email', 'is_staff', 'is_active', 'date_joined'],
  authtoken_token: ['key', 'created', 'user_id'],
  tasks_task: ['id', 'title', 'description', 'due_date', 'completed', 'created_at', 'owner_id'],
} as const;

export type DjangoTable = keyof typeof DJANGO_TABLES;
type DjangoUserColumn = (typeof DJANGO_TABLES.auth_user)[number];
type DjangoTokenColumn = (typeof DJANGO_TABLES.authtoken_token)[number];
type DjangoTaskColumn = (typeof DJANGO_TABLES.tasks_task)[number];

/** The source could not be opened or read: the message says why, for the operator. */
export class SourceError extends Error {}

/** `select <columns> from <table>`, in an order that makes reports and batches predictable. */
export function selectAll(table: DjangoTable): string {
  const order = table === 'authtoken_token' ? 'user_id' : 'id';
  return `select ${DJANGO_TABLES[table].map((column) => `"${column}"`).join(', ')} from "${table}" order by "${order}"`;
}

export function missingTables(present: Iterable<string>): DjangoTable[] {
  const found = new Set(present);
  return (Object.keys(DJANGO_TABLES) as DjangoTable[]).filter((table) => !found.has(table));
}

export function notTheOriginal(where: string, missing: DjangoTable[]): SourceError {
  return new SourceError(`Not a database of the original app: ${where} has no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''}.`);
}

/** An error's own words; a failed connection to `localhost` is an AggregateError without any. */
export function reason(error: unknown): string {
  if (error instanceof AggregateError && error.message === '') return reason(error.errors[0]);
  if (error instanceof Error) return error.message || ((error as { code?: string }).code ?? error.name);
  return String(error);
}
