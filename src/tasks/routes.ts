import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { now } from '../db/clock.js';
import { readBody } from '../http/body.js';
import { notFound } from '../http/errors.js';
import { parsePathId } from '../http/fields.js';
import { completeResource } from '../http/methods.js';
import type { TasksRepository } from './repository.js';
import * as schemas from './schemas.js';
import type { Task } from './schemas.js';
import { parseTaskChanges, type WriteMode } from './validate.js';

export interface TaskRoutesOptions {
  tasks: TasksRepository;
  authenticate: onRequestHookHandler;
}

/**
 * The order of outcomes is the original's: authentication (401), method (405), the lookup
 * scoped to the caller (404), then the body (400/415). A reply therefore never reveals that
 * another user's task exists, whatever the body sent to it.
 */
export async function taskRoutes(app: FastifyInstance, { tasks, authenticate }: TaskRoutesOptions): Promise<void> {
  const common = { tags: ['tasks'], security: [{ token: [] }] };
  const ownerOf = (request: FastifyRequest) => request.caller!.userId;

  async function findOwnTask(request: FastifyRequest): Promise<Task> {
    const id = parsePathId((request.params as { id: string }).id);
    const task = id === undefined ? undefined : await tasks.find(ownerOf(request), id);
    if (task === undefined) throw notFound();
    return task;
  }

  async function write(request: FastifyRequest, mode: WriteMode): Promise<Task> {
    const task = await findOwnTask(request);
    const changes = parseTaskChanges(await readBody(request), mode);
    const updated = await tasks.update(ownerOf(request), task.id, changes, now());
    if (updated === undefined) throw notFound(); // deleted meanwhile
    return updated;
  }

  app.get('/api/tasks/', {
    onRequest: [authenticate],
    schema: { ...common, summary: "The caller's tasks, ascending by id", response: { 200: schemas.TaskList } },
    handler: async (request) => tasks.list(ownerOf(request)),
  });

  app.post('/api/tasks/', {
    onRequest: [authenticate],
    schema: { ...common, summary: 'Create a task', body: schemas.TaskBody, response: { 201: schemas.Task } },
    handler: async (request, reply) => {
      const changes = parseTaskChanges(await readBody(request), 'create');
      return reply.code(201).send(await tasks.create(ownerOf(request), changes, now()));
    },
  });
  completeResource(app, {
    url: '/api/tasks/',
    name: 'Task List',
    description: "The caller's tasks.",
    methods: ['GET', 'POST'],
    onRequest: [authenticate],
  });

  const detail = { ...common, params: schemas.TaskIdParams };

  app.get('/api/tasks/:id/', {
    onRequest: [authenticate],
    schema: { ...detail, summary: 'One task', response: { 200: schemas.Task } },
    handler: async (request) => findOwnTask(request),
  });

  app.put('/api/tasks/:id/', {
    onRequest: [authenticate],
    schema: { ...detail, summary: 'Update a task; omitted optional fields keep their values', body: schemas.TaskBody, response: { 200: schemas.Task } },
    handler: async (request) => write(request, 'replace'),
  });

  app.patch('/api/tasks/:id/', {
    onRequest: [authenticate],
    schema: { ...detail, summary: 'Change some fields of a task', body: schemas.TaskPatchBody, response: { 200: schemas.Task } },
    handler: async (request) => write(request, 'partial'),
  });

  app.delete('/api/tasks/:id/', {
    onRequest: [authenticate],
    schema: { ...detail, summary: 'Delete a task', response: { 204: { type: 'null' } } },
    handler: async (request, reply) => {
      const id = parsePathId((request.params as { id: string }).id);
      if (id === undefined || !(await tasks.remove(ownerOf(request), id))) throw notFound();
      return reply.code(204).send();
    },
  });
  completeResource(app, {
    url: '/api/tasks/:id/',
    name: 'Task Detail',
    description: 'One of the caller\'s tasks.',
    methods: ['GET', 'PUT', 'PATCH', 'DELETE'],
    onRequest: [authenticate],
  });
}
