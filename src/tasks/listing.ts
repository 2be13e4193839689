import type { FastifyRequest } from 'fastify';
import { detail } from '../http/errors.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { orderingName, reversed, sortKeys } from './ordering.js';
import type { TaskQuery } from './query.js';
import type { TasksRepository } from './repository.js';
import type { Task } from './schemas.js';

export interface NumberedPage {
  count: number;
  next: string | null;
  previous: string | null;
  results: Task[];
}

export type CursorPage = Omit<NumberedPage, 'count'>;

export type Listing = { kind: 'plain'; tasks: Task[] } | { kind: 'numbered'; page: NumberedPage } | { kind: 'cursor'; page: CursorPage };

/**
 * GET /api/tasks/: without pagination parameters, the plain array the original returns;
 * with `page`, `limit`/`offset` or `cursor`, DRF's envelopes with absolute links.
 */
export async function listTasks(
  request: FastifyRequest,
  tasks: TasksRepository,
  ownerId: number,
  query: TaskQuery,
): Promise<Listing> {
  const { filters, ordering, pagination } = query;
  const keys = sortKeys(ordering);
  if (pagination === undefined) {
    const plain = Object.keys(filters).length === 0 && ordering.length === 0;
    return { kind: 'plain', tasks: plain ? await tasks.list(ownerId) : await tasks.search(ownerId, filters, keys) };
  }

  const link = linkBuilder(request);
  if (pagination.kind === 'page') {
    const { page, pageSize } = pagination;
    const hasPageSize = new URLSearchParams(request.url.split('?', 2)[1] ?? '').has('page_size');
    const [count, results] = await Promise.all([
      tasks.count(ownerId, filters),
      tasks.search(ownerId, filters, keys, { limit: pageSize, offset: (page - 1) * pageSize }),
    ]);
    // As DRF: an empty first page is a page; any other page past the end is not.
    if (page > 1 && (page - 1) * pageSize >= count) throw detail(404, 'Invalid page.');
    const hasNext = page * pageSize < count;
    return {
      kind: 'numbered',
      page: {
        count,
        next: hasNext ? link({ page: String(page + 1) }) : null,
        // As DRF, the link to page 1 drops `page`, unless nothing would be left to ask for pages.
        previous: page === 1 ? null : link({ page: page === 2 && hasPageSize ? null : String(page - 1) }),
        results,
      },
    };
  }

  if (pagination.kind === 'offset') {
    const { limit, offset } = pagination;
    const [count, results] = await Promise.all([
      tasks.count(ownerId, filters),
      tasks.search(ownerId, filters, keys, { limit, offset }),
    ]);
    return {
      kind: 'numbered',
      page: {
        count,
        next: offset + limit < count ? link({ limit: String(limit), offset: String(offset + limit) }) : null,
        previous:
          offset === 0 ? null : link({ limit: String(limit), offset: offset - limit <= 0 ? null : String(offset - limit) }),
        results,
      },
    };
  }

  // Cursor pagination: positions are key values, so inserts and deletions never shift pages.
  const name = orderingName(ordering);
  const cursor = pagination.cursor === '' ? undefined : decodeCursor(pagination.cursor, name, keys);
  const backwards = cursor?.backwards ?? false;
  const window = { limit: pagination.pageSize + 1, after: cursor?.values, inclusive: cursor?.inclusive };
  const fetched = await tasks.search(ownerId, filters, backwards ? reversed(keys) : keys, window);
  const more = fetched.length > pagination.pageSize;
  const results = fetched.slice(0, pagination.pageSize);
  if (backwards) results.reverse();
  const at = (task: Task, back: boolean) =>
    link({ cursor: encodeCursor({ ordering: name, values: keys.map((key) => key.value(task)), backwards: back, inclusive: false }) });

  if (results.length === 0) {
    // Nothing on this side of the position (say, all later tasks were deleted): link back to
    // the other side of the same position, so the client is never stranded.
    const back = cursor && link({ cursor: encodeCursor({ ...cursor, backwards: !cursor.backwards, inclusive: !cursor.inclusive }) });
    return {
      kind: 'cursor',
      page: { next: backwards ? (back ?? null) : null, previous: backwards ? null : (back ?? null), results },
    };
  }
  const first = results[0]!;
  const last = results.at(-1)!;
  return {
    kind: 'cursor',
    page: {
      // Forwards, more rows mean a next page; a page reached through a cursor has one before it.
      next: backwards || more ? at(last, false) : null,
      previous: backwards ? (more ? at(first, true) : null) : cursor ? at(first, true) : null,
      results,
    },
  };
}

/** Absolute URLs to this list with some query parameters replaced (null removes one). */
function linkBuilder(request: FastifyRequest) {
  const [path, search = ''] = request.url.split('?', 2) as [string, string?];
  const base = `${request.protocol}://${request.host}${path}`;
  return (changes: Record<string, string | null>): string => {
    const params = new URLSearchParams(search);
    for (const [name, value] of Object.entries(changes)) {
      if (value === null) params.delete(name);
      else params.set(name, value);
    }
    const query = params.toString();
    return query === '' ? base : `${base}?${query}`;
  };
}
