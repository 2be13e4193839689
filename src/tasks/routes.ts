import { Type } from 'typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { accountGone } from '../accounts/authenticate.js';
import { now, timestampOf } from '../db/clock.js';
import type { Database } from '../db/database.js';
import { readBody } from '../http/body.js';
import { REVALIDATED } from '../docs/openapi.js';
import { conditionMatches, registerEtags } from '../http/conditional.js';
import { detail, forbidden, notFound } from '../http/errors.js';
import { parsePathId } from '../http/fields.js';
import { completeResource } from '../http/methods.js';
import { MemoryBudget } from '../http/memory-budget.js';
import { listTasks } from './listing.js';
import { parseSince, parseTaskQuery } from './query.js';
import type { TasksRepository } from './repository.js';
import type { Scope } from './scope.js';
import * as schemas from './schemas.js';
import type { Task } from './schemas.js';
import { streamTasks } from './stream.js';
import { hasRole, roleIn } from '../lists/repository.js';
import type { WriteMode } from './validate.js';
import { saveTask } from './writes.js';

export interface TaskRoutesOptions {
  database: Database;
  tasks: TasksRepository;
  authenticate: onRequestHookHandler;
  tombstoneRetentionSeconds: number;
  /** Bytes that long list replies may hold at once, all requests together. */
  replyMemoryBytes: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** On routes of one task: the task as the caller sees it, loaded before the body is read. */
    task: Task | null;
    /** The version an If-Match header pins a write to, once checked against `task`. */
    expectedVersion: string | undefined;
  }
}

/**
 * The version tag of a task: every write moves `updated_at`, so it changes with every write.
 * Both parts are in the reply already, so they are written out rather than hashed.
 */
export const taskTag = (task: Task) => `"${task.id}-${task.updated_at.replace(/[^0-9]/g, '')}"`;

const changedMeanwhile = () => detail(412, 'Precondition failed: the task has changed since it was read.');

/** The caller's scope: set by the authenticate hook, which every route here runs first. */
export const scopeOf = (request: FastifyRequest): Scope => ({ userId: request.caller!.userId, inNoList: request.caller!.inNoList });

/**
 * The order of outcomes is the original's, and each step is a hook of the request lifecycle,
 * declared on the route: authentication (onRequest: 401), the method (a route of its own: 405),
 * then, before the body is parsed, the task as the caller sees it (404), the role a write needs
 * in the task's list (403) and the If-Match precondition (412); the handler decodes the body
 * last (403 for a move into a list the caller may not write, then 400/415). A reply therefore never
 * reveals that another user's task exists, whatever was sent to it.
 */
export async function taskRoutes(app: FastifyInstance, options: TaskRoutesOptions): Promise<void> {
  const { database, tasks, authenticate, tombstoneRetentionSeconds } = options;
  const replyMemory = new MemoryBudget(options.replyMemoryBytes);
  const common = { tags: ['tasks'], security: [{ token: [] }] };
  // Every task route requires a caller, its 405 and OPTIONS answers included (401 comes first).
  app.addHook('onRequest', authenticate);
  app.decorateRequest('task', null);
  app.decorateRequest('expectedVersion', undefined);
  registerEtags(app);

  /** preParsing: the task of the URL, if the caller may see it; else 404. */
  async function loadVisibleTask(request: FastifyRequest): Promise<void> {
    const id = parsePathId((request.params as { id: string }).id);
    const task = id === undefined ? undefined : await tasks.find(scopeOf(request), id);
    if (task === undefined) throw notFound();
    request.task = task;
  }

  /** preParsing: the version an If-Match header pins the write to; 412 when it names another. */
  async function checkIfMatch(request: FastifyRequest): Promise<void> {
    const condition = request.headers['if-match'];
    if (condition === undefined) return;
    if (!conditionMatches(condition, taskTag(request.task!), { weak: false })) throw changedMeanwhile();
    request.expectedVersion = request.task!.updated_at;
  }

  /** preParsing: a list's task is written by its editors and owners only (403 for a viewer). */
  async function requireEditor(request: FastifyRequest): Promise<void> {
    const { list } = request.task!;
    if (list !== null && !hasRole(await roleIn(database.db, scopeOf(request), list), 'editor')) throw forbidden();
  }

  async function write(request: FastifyRequest, reply: FastifyReply, mode: WriteMode): Promise<Task> {
    const version = request.expectedVersion;
    const body = await readBody(request);
    const updated = await saveTask(database.db, tasks, { scope: scopeOf(request), body, mode, now: now(), current: request.task!, expectedVersion: version });
    if (updated === undefined) throw version === undefined ? notFound() : changedMeanwhile();
    reply.header('etag', taskTag(updated));
    return updated;
  }

  app.get('/api/tasks/', {
    schema: {
      ...common,
      summary: "The caller's personal tasks and the tasks of their lists",
      description:
        'A plain array, ascending by id, unless a pagination parameter is given: `page`/`page_size` or ' +
        '`limit`/`offset` return `{count, next, previous, results}`; `cursor` (empty for the first page) ' +
        'returns `{next, previous, results}`. Filters: completed, due_before, due_after, overdue, ' +
        'has_due_date, search, updated_since (also the tasks of lists joined since), `list=<id>|personal`, ' +
        '`assignee=me|none|<user id>`. `ordering`: comma-separated fields, `-` for descending.',
      querystring: schemas.TaskQuery,
      response: { 200: schemas.TaskList },
    },
    config: { documentedReplies: { 200: { ...schemas.TaskListing, description: 'The tasks.' }, 304: REVALIDATED, 404: 'A page number past the last page.' } },
    handler: async (request, reply) => {
      const query = parseTaskQuery(request.query as Record<string, string>);
      const listing = await listTasks(request, tasks, scopeOf(request), query);
      if (listing.kind === 'plain' && Array.isArray(listing.results)) return listing.results;
      reply.type('application/json; charset=utf-8');
      const envelope = listing.kind === 'plain' ? undefined : { ...listing.page, results: [] as Task[] };
      const schema = (listing.kind === 'numbered' ? schemas.NumberedPage : schemas.CursorPage) as object as Record<string, unknown>;
      const serializeEnvelope = (results: Task[]) => reply.serializeInput({ ...envelope, results }, schema);
      if (Array.isArray(listing.results)) return reply.send(serializeEnvelope(listing.results));
      // Too many tasks to hold at once: sent a batch at a time (no ETag: it is known only at the end).
      if (request.method === 'HEAD') return reply.send('');
      const empty = envelope === undefined ? '[]' : serializeEnvelope([]);
      const scope = scopeOf(request);
      return reply.send(
        streamTasks({
          ids: listing.results.ids,
          load: (ids) => tasks.findMany(scope, ids),
          serialize: (batch) => reply.serializeInput(batch as unknown as Record<string, unknown>, schemas.TaskList as object as Record<string, unknown>),
          prefix: empty.slice(0, empty.lastIndexOf('[') + 1),
          suffix: empty.slice(empty.lastIndexOf('[') + 1),
          budget: replyMemory,
        }),
      );
    },
  });

  app.post('/api/tasks/', {
    schema: { ...common, summary: 'Create a task', body: schemas.TaskBody, response: { 201: schemas.Task } },
    config: { documentedReplies: { 403: "`list` names a list where the caller is a viewer." } },
    handler: async (request, reply) => {
      const body = await readBody(request);
      const task = await saveTask(database.db, tasks, { scope: scopeOf(request), body, mode: 'create', now: now() });
      if (task === undefined) throw accountGone();
      return reply.code(201).header('etag', taskTag(task)).send(task);
    },
  });
  completeResource(app, {
    url: '/api/tasks/',
    name: 'Task List',
    description: "The caller's tasks.",
    methods: ['GET', 'POST'],
  });

  app.get('/api/tasks/deleted/', {
    schema: {
      ...common,
      summary: 'Ids of tasks deleted since a moment, for incremental sync',
      querystring: Type.Object({ since: Type.String({ format: 'date-time' }) }),
      response: { 200: schemas.DeletedTaskList },
    },
    config: { documentedReplies: { 304: REVALIDATED, 410: 'Deletions since `since` are no longer kept: sync all tasks again.' } },
    handler: async (request) => {
      const since = parseSince(request.query as Record<string, string | string[]>);
      const keptFrom = timestampOf(Date.now() - tombstoneRetentionSeconds * 1000);
      // Deletions older than the retention window are forgotten: the client must sync afresh.
      if (since < keptFrom) throw detail(410, `Deletions are kept for ${tombstoneRetentionSeconds} seconds; sync all tasks again.`);
      return tasks.deletedSince(scopeOf(request), since);
    },
  });
  completeResource(app, {
    url: '/api/tasks/deleted/',
    name: 'Deleted Tasks',
    description: 'Ids of recently deleted tasks.',
    methods: ['GET'],
  });

  const detailSchema = { ...common, params: schemas.TaskIdParams };
  const readsTask = { preParsing: [loadVisibleTask], config: { documentedReplies: { 304: REVALIDATED } } };
  const writesTask = {
    preParsing: [loadVisibleTask, requireEditor, checkIfMatch],
    config: {
      documentedReplies: {
        403: "The task is in a list where the caller is a viewer, or a move the caller's roles do not allow.",
        412: "The `If-Match` tag is not the task's current one: it has changed since it was read.",
      },
    },
  };

  app.get('/api/tasks/:id/', {
    schema: { ...detailSchema, summary: 'One task', response: { 200: schemas.Task } },
    ...readsTask,
    handler: async (request, reply) => {
      const task = request.task!;
      reply.header('etag', taskTag(task));
      return task;
    },
  });

  app.put('/api/tasks/:id/', {
    schema: {
      ...detailSchema,
      summary: 'Update a task; omitted optional fields keep their values',
      body: schemas.TaskBody,
      response: { 200: schemas.Task },
    },
    ...writesTask,
    handler: async (request, reply) => write(request, reply, 'replace'),
  });

  app.patch('/api/tasks/:id/', {
    schema: { ...detailSchema, summary: 'Change some fields of a task', body: schemas.TaskPatchBody, response: { 200: schemas.Task } },
    ...writesTask,
    handler: async (request, reply) => write(request, reply, 'partial'),
  });

  app.delete('/api/tasks/:id/', {
    schema: { ...detailSchema, summary: 'Delete a task', response: { 204: Type.Null() } },
    ...writesTask,
    handler: async (request, reply) => {
      const version = request.expectedVersion;
      if (!(await tasks.remove(database.db, scopeOf(request), request.task!.id, now(), version))) {
        throw version === undefined ? notFound() : changedMeanwhile();
      }
      return reply.code(204).send();
    },
  });
  completeResource(app, {
    url: '/api/tasks/:id/',
    name: 'Task Detail',
    description: "One of the caller's tasks.",
    methods: ['GET', 'PUT', 'PATCH', 'DELETE'],
  });
}
