import type { FastifyRequest } from 'fastify';
import { detail } from '../http/errors.js';
import { decodeCursor, encodeCursor } from '../tasks/cursor.js';
import { linkBuilder, numberedLinks } from '../tasks/listing.js';
import { sortKeys } from '../tasks/ordering.js';
import type { Pagination } from '../tasks/query.js';

type Page<T> = { count: number; next: string | null; previous: string | null; results: T[] } | { next: string | null; previous: string | null; results: T[] };

const BY_ID = sortKeys([]);

/**
 * The tasks' pagination modes over a short index read whole (a user has at most a hundred
 * lists): the same parameters, envelopes and links, cursors positioned by id.
 */
export function paginate<T extends { id: number }>(request: FastifyRequest, all: T[], pagination: Pagination): Page<T> {
  const link = linkBuilder(request);
  const count = all.length;
  if (pagination.kind === 'page') {
    const { page, pageSize } = pagination;
    if (page > 1 && (page - 1) * pageSize >= count) throw detail(404, 'Invalid page.');
    return { count, ...numberedLinks(link, count, pagination), results: all.slice((page - 1) * pageSize, page * pageSize) };
  }
  if (pagination.kind === 'offset') {
    return { count, ...numberedLinks(link, count, pagination), results: all.slice(pagination.offset, pagination.offset + pagination.limit) };
  }
  const cursor = pagination.cursor === '' ? undefined : decodeCursor(pagination.cursor, 'id', BY_ID);
  const position = cursor?.values[0] as number | undefined;
  const at = (id: number, backwards: boolean) => link({ cursor: encodeCursor({ ordering: 'id', values: [id], backwards, inclusive: false }) });
  if (cursor?.backwards) {
    const before = all.filter((item) => item.id < position! || (cursor.inclusive && item.id === position));
    const results = before.slice(-pagination.pageSize);
    const more = before.length > results.length;
    return { next: at(results.at(-1)?.id ?? position!, false), previous: more ? at(results[0]!.id, true) : null, results };
  }
  const after = position === undefined ? all : all.filter((item) => item.id > position || (cursor!.inclusive && item.id === position));
  const results = after.slice(0, pagination.pageSize);
  const more = after.length > results.length;
  return {
    next: more ? at(results.at(-1)!.id, false) : null,
    previous: position === undefined ? null : at(results[0]?.id ?? position, true),
    results,
  };
}
