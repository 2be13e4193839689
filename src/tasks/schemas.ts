import { Type, type Static } from 'typebox';

const Timestamp = Type.String({ format: 'date-time', examples: ['2026-11-24T03:15:53.617827Z'] });

/**
 * A nullable string as a JSON Schema type list rather than a union: the serializer then picks
 * the branch by a type check instead of validating each value against both branches, which
 * halves the cost of serializing a page of tasks.
 */
const NullableString = (options: { format: string; description?: string }) =>
  Type.Unsafe<string | null>({ type: ['string', 'null'], ...options });

const NullableInteger = (options: { description: string }) => Type.Unsafe<number | null>({ type: ['integer', 'null'], ...options });

/** The task as served; the response schema is an allow-list, so nothing else leaves the server. */
export const Task = Type.Object({
  id: Type.Integer(),
  title: Type.String({ maxLength: 200 }),
  description: Type.String(),
  due_date: NullableString({ format: 'date' }),
  completed: Type.Boolean(),
  created_at: Timestamp,
  owner: Type.Integer({ description: "The owner's user id." }),
  updated_at: Timestamp,
  completed_at: NullableString({ format: 'date-time', description: 'When the task last became completed.' }),
  list: NullableInteger({ description: "The id of the task's list; null for a personal task, seen by its owner only." }),
  assignee: NullableInteger({ description: "The user id of the member of the task's list it is assigned to, or null." }),
});
export type Task = Static<typeof Task>;

export const TaskList = Type.Array(Task);

const Link = NullableString({ format: 'uri' });

/** DRF's envelope for page-number and limit/offset pagination. */
export const NumberedPage = Type.Object({ count: Type.Integer(), next: Link, previous: Link, results: TaskList });

/** DRF's envelope for cursor pagination (no count: it would cost a scan). */
export const CursorPage = Type.Object({ next: Link, previous: Link, results: TaskList });

export const DeletedTaskList = Type.Array(Type.Object({ id: Type.Integer(), deleted_at: Timestamp }));

export const TaskIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) });

// Request body for the OpenAPI page; validate.ts applies the original's rules and messages.
export const TaskBody = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.String()),
  due_date: Type.Optional(Type.Union([Type.String({ format: 'date' }), Type.Null()])),
  completed: Type.Optional(Type.Boolean()),
  list: Type.Optional(NullableInteger({ description: 'Move the task to this list (editor role there), or to personal (null, its owner only).' })),
  assignee: Type.Optional(NullableInteger({ description: "A member of the task's list, or null." })),
});

export const TaskPatchBody = Type.Partial(TaskBody);

/** DRF's numbered pagination modes, for the OpenAPI document (query.ts parses them). */
export const NumberedPaginationQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, description: 'Page number (numbered pages).' })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Items a page (numbered or cursor pages); 50 by default, at most 1000.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Items a page (limit/offset).' })),
  offset: Type.Optional(Type.Integer({ minimum: 0, description: 'Items to skip (limit/offset).' })),
};

/** The numbered modes and the cursor mode. */
export const PaginationQuery = {
  ...NumberedPaginationQuery,
  cursor: Type.Optional(Type.String({ description: 'Opaque position from a `next`/`previous` link; empty for the first page.' })),
};

export const TaskQuery = Type.Object({
  completed: Type.Optional(Type.Boolean()),
  due_before: Type.Optional(Type.String({ format: 'date', description: 'Due on or before this date.' })),
  due_after: Type.Optional(Type.String({ format: 'date', description: 'Due on or after this date.' })),
  overdue: Type.Optional(Type.Boolean({ description: 'Not completed and due before today (UTC).' })),
  has_due_date: Type.Optional(Type.Boolean()),
  search: Type.Optional(Type.String({ description: 'Words found in the title or description, ignoring case and accents.' })),
  updated_since: Type.Optional(Type.String({ format: 'date-time', description: 'Changed since this moment, or in a list joined since.' })),
  // No examples: the docs page would fill them in, and a "try it out" would filter by them.
  list: Type.Optional(Type.String({ description: 'A list id, or `personal`.' })),
  assignee: Type.Optional(Type.String({ description: 'A user id, `me` or `none`.' })),
  ordering: Type.Optional(Type.String({ description: 'Comma-separated fields among id, title, due_date, completed, created_at, updated_at; `-` for descending (`-due_date,id`).' })),
  ...PaginationQuery,
});

/** What GET /api/tasks/ answers, by the pagination asked for. */
export const TaskListing = Type.Union([TaskList, NumberedPage, CursorPage], {
  description: 'A plain array without pagination parameters; `{count, next, previous, results}` for page or limit/offset; `{next, previous, results}` for cursor.',
});
