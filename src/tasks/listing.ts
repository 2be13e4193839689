import type { FastifyRequest } from 'fastify';
import { detail } from '../http/errors.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { orderingName, reversed, sortKeys, type SortKey } from './ordering.js';
import type { Pagination, TaskQuery } from './query.js';
import type { TaskHead, TasksRepository } from './repository.js';
import type { Scope } from './scope.js';
import type { Task } from './schemas.js';

/**
 * The most tasks a reply reads at once. A longer reply is a list of ids, read first in one
 * statement (so which tasks it holds and their order are those of one moment), then fetched
 * and sent a batch at a time as the client reads (tasks/stream.ts): however many tasks a user
 * has, a reply holds at most one batch of them in memory.
 */
export const BATCH_SIZE = 50;

/** The ids of the tasks of a reply too long to read at once, in the reply's order. */
export class DeferredTasks {
  constructor(readonly ids: number[]) {}
}

export type Results = Task[] | DeferredTasks;

export interface NumberedPage {
  count: number;
  next: string | null;
  previous: string | null;
}

export type CursorPage = Omit<NumberedPage, 'count'>;

export type Listing =
  | { kind: 'plain'; results: Results }
  | { kind: 'numbered'; page: NumberedPage; results: Results }
  | { kind: 'cursor'; page: CursorPage; results: Results };

/**
 * GET /api/tasks/: without pagination parameters, the plain array the original returns;
 * with `page`, `limit`/`offset` or `cursor`, DRF's envelopes with absolute links.
 */
export async function listTasks(
  request: FastifyRequest,
  tasks: TasksRepository,
  scope: Scope,
  query: TaskQuery,
): Promise<Listing> {
  const { filters, ordering, pagination } = query;
  const keys = sortKeys(ordering);
  if (pagination === undefined) {
    const plain = Object.keys(filters).length === 0 && ordering.length === 0;
    const first = plain ? await tasks.list(scope, BATCH_SIZE + 1) : await tasks.search(scope, filters, keys, { limit: BATCH_SIZE + 1 });
    if (first.length <= BATCH_SIZE) return { kind: 'plain', results: first };
    return { kind: 'plain', results: new DeferredTasks(await tasks.searchIds(scope, filters, keys)) };
  }

  const link = linkBuilder(request);
  const window: PageWindow = { tasks, scope, query, keys, link };
  if (pagination.kind === 'page') return { kind: 'numbered', ...(await numberedPage(window, pagination)) };
  if (pagination.kind === 'offset') return { kind: 'numbered', ...(await offsetPage(window, pagination)) };
  return { kind: 'cursor', ...(await cursorPage(window, pagination)) };
}

interface PageWindow {
  tasks: TasksRepository;
  scope: Scope;
  query: TaskQuery;
  keys: SortKey[];
  link: Link;
}

export type PaginationOf<K extends Pagination['kind']> = Extract<Pagination, { kind: K }>;

/**
 * The number of matching tasks, and the slice of them from `offset` on: read at once when it
 * fits a batch, else as ids.
 */
async function countAndSlice({ tasks, scope, query, keys }: PageWindow, limit: number, offset: number): Promise<[number, Results]> {
  const { filters } = query;
  const [count, first] = await Promise.all([
    tasks.count(scope, filters),
    tasks.search(scope, filters, keys, { limit: Math.min(limit, BATCH_SIZE + 1), offset }),
  ]);
  if (first.length <= BATCH_SIZE) return [count, first];
  return [count, new DeferredTasks(await tasks.searchIds(scope, filters, keys, { limit, offset }))];
}

async function numberedPage(window: PageWindow, pagination: PaginationOf<'page'>): Promise<{ page: NumberedPage; results: Results }> {
  const { page, pageSize } = pagination;
  const [count, results] = await countAndSlice(window, pageSize, (page - 1) * pageSize);
  // As DRF: an empty first page is a page; any other page past the end is not.
  if (page > 1 && (page - 1) * pageSize >= count) throw detail(404, 'Invalid page.');
  return { page: { count, ...numberedLinks(window.link, count, pagination) }, results };
}

async function offsetPage(window: PageWindow, pagination: PaginationOf<'offset'>): Promise<{ page: NumberedPage; results: Results }> {
  const [count, results] = await countAndSlice(window, pagination.limit, pagination.offset);
  return { page: { count, ...numberedLinks(window.link, count, pagination) }, results };
}

/** DRF's links around a numbered page (`page`/`page_size`) or a `limit`/`offset` window of `count` items. */
export function numberedLinks(link: Link, count: number, pagination: PaginationOf<'page'> | PaginationOf<'offset'>): Omit<NumberedPage, 'count'> {
  if (pagination.kind === 'page') {
    const { page, pageSize } = pagination;
    return {
      next: page * pageSize < count ? link({ page: String(page + 1) }) : null,
      // As DRF, the link to page 1 drops `page`, unless nothing would be left to ask for pages.
      previous: page === 1 ? null : link({ page: page === 2 && link.has('page_size') ? null : String(page - 1) }),
    };
  }
  const { limit, offset } = pagination;
  return {
    next: offset + limit < count ? link({ limit: String(limit), offset: String(offset + limit) }) : null,
    previous: offset === 0 ? null : link({ limit: String(limit), offset: offset - limit <= 0 ? null : String(offset - limit) }),
  };
}

/** Positions are key values, not offsets, so inserts and deletions never shift a client's pages. */
async function cursorPage(
  { tasks, scope, query, keys, link }: PageWindow,
  { cursor: text, pageSize }: PaginationOf<'cursor'>,
): Promise<{ page: CursorPage; results: Results }> {
  const name = orderingName(query.ordering);
  const cursor = text === '' ? undefined : decodeCursor(text, name, keys);
  const backwards = cursor?.backwards ?? false;
  const order = backwards ? reversed(keys) : keys;
  // One more than the page tells whether there is a next one.
  const window = { limit: pageSize + 1, after: cursor?.values, inclusive: cursor?.inclusive };
  let fetched: TaskHead[] = await tasks.search(scope, query.filters, order, { ...window, limit: Math.min(window.limit, BATCH_SIZE + 1) });
  const deferred = fetched.length > BATCH_SIZE && window.limit > BATCH_SIZE + 1;
  // A long page: its links need only the tasks' keys, so the contents are read as it is sent.
  if (deferred) fetched = await tasks.searchHeads(scope, query.filters, order, window);
  const more = fetched.length > pageSize;
  const heads = fetched.slice(0, pageSize);
  if (backwards) heads.reverse();
  const results = deferred ? new DeferredTasks(heads.map((task) => task.id)) : (heads as Task[]);

  if (heads.length === 0) {
    // Nothing on this side of the position (say, all later tasks were deleted): link back to
    // the other side of the same position, so the client is never stranded.
    const back = cursor ? link({ cursor: encodeCursor({ ...cursor, backwards: !cursor.backwards, inclusive: !cursor.inclusive }) }) : null;
    return { page: { next: backwards ? back : null, previous: backwards ? null : back }, results };
  }
  const at = (task: TaskHead, back: boolean) =>
    link({ cursor: encodeCursor({ ordering: name, values: keys.map((key) => key.value(task)), backwards: back, inclusive: false }) });
  const [first, last] = [heads[0]!, heads.at(-1)!];
  return {
    page: {
      // Forwards, more rows mean a next page; a page reached through a cursor has one before it.
      next: backwards || more ? at(last, false) : null,
      previous: backwards ? (more ? at(first, true) : null) : cursor ? at(first, true) : null,
    },
    results,
  };
}

export type Link = ((changes: Record<string, string | null>) => string) & { has(name: string): boolean };

/** Absolute URLs to this list with some query parameters replaced (null removes one). */
export function linkBuilder(request: FastifyRequest): Link {
  const [path, search = ''] = request.url.split('?', 2) as [string, string?];
  const base = `${request.protocol}://${request.host}${path}`;
  const link = (changes: Record<string, string | null>): string => {
    const params = new URLSearchParams(search);
    for (const [name, value] of Object.entries(changes)) {
      if (value === null) params.delete(name);
      else params.set(name, value);
    }
    const query = params.toString();
    return query === '' ? base : `${base}?${query}`;
  };
  return Object.assign(link, { has: (name: string) => new URLSearchParams(search).has(name) });
}
