import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { validation } from '../http/errors.js';
import { completeResource } from '../http/methods.js';
import { documentRoute } from './openapi.js';

const TAGS = [
  { name: 'accounts', description: 'Registration, login, sessions and the current account.' },
  {
    name: 'tasks',
    description:
      "The caller's personal tasks and the tasks of every list they belong to. A list's tasks are read by every " +
      'member and written by its editors and owners. `list` moves a task: between lists with the editor role in ' +
      "both; into a list by a personal task's owner; back to personal (`null`) by the task's owner only. A move " +
      "clears the assignee; an assignee must be a member of the task's list. Whenever a task leaves a user's view " +
      '(deleted, moved away, its list deleted, left or removed from) the deleted feed and sync report it to them.',
  },
  {
    name: 'lists',
    description:
      'Shared lists. Roles: viewer (reads the list, its members and tasks), editor (also writes its tasks), owner ' +
      '(also renames or deletes the list and manages members). Non-members get 404 for everything about a list; ' +
      'members lacking the role get 403. Order of outcomes: 401, 405, 404, 403, 412, 400. A list keeps at least ' +
      'one owner. A member who leaves or is removed is unassigned; tasks they created stay. Deleting a list ' +
      "deletes its tasks. Deleting an account hands each list it alone owned to the longest-standing member " +
      '(or deletes it if nobody else is in it), and its tasks in lists that live on pass to a list owner.',
  },
  {
    name: 'admin',
    description:
      'For staff (`task-tracker createsuperuser` makes the first): accounts, blocking, session revocation, totals and the audit ' +
      'log every change writes to. Non-staff get 403; only a superuser acts on staff accounts.',
  },
  {
    name: 'browser sessions',
    description:
      "dj-rest-auth's endpoints over JWTs: short-lived access tokens (`Authorization: Bearer <access>` on every endpoint) and " +
      'refresh tokens that work once each (a reused one ends its session). In cookie mode (JWT_AUTH_COOKIE_USE, on by default) the ' +
      'tokens are also HttpOnly cookies, which authenticate every endpoint when no Authorization header is sent; an unsafe ' +
      'request a cookie authenticates must come from an allowed origin and repeat the csrftoken cookie in X-CSRFToken.',
  },
  { name: 'operations', description: 'Probes for load balancers and orchestrators, and Prometheus metrics (with METRICS_TOKEN).' },
  { name: 'documentation', description: 'This document and its interactive page.' },
];

const DESCRIPTION =
  'Personal and shared task lists with secure accounts. Authenticate with `Authorization: Token <key>` (the key ' +
  '`POST /api/login/` returns). Errors are `{"detail": "..."}`, or for validation `{"field": ["message", ...]}` with ' +
  'every failing field at once. Order of outcomes: 401, 405, 404, 403, 412, then 400/415, so a reply never reveals ' +
  "another user's data. URLs end with a slash; a GET without it is redirected (301).";

/**
 * The OpenAPI 3.1 document, built from the route schemas by @fastify/swagger (so it must be
 * registered before any route), served at `/api/schema/` (JSON, or YAML with `?format=yaml`)
 * and `/api/docs/json`, with the interactive page at `/api/docs/` from @fastify/swagger-ui's
 * own files (no CDN). Called on the root instance, not registered as a plugin: the document
 * collects the routes of the whole application.
 */
export async function registerDocs(app: FastifyInstance, { accessCookie }: { accessCookie: string | undefined }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Task Tracker API', version: '1.0.0', description: DESCRIPTION },
      tags: TAGS,
      components: {
        securitySchemes: {
          token: {
            type: 'apiKey',
            in: 'header',
            name: 'Authorization',
            description: '`Token <key>` (or `Bearer <key>`, or `Bearer <access token>` of a browser session), the key that POST /api/login/ returns',
          },
          ...(accessCookie === undefined
            ? {}
            : {
                cookie: {
                  type: 'apiKey',
                  in: 'cookie',
                  name: accessCookie,
                  description: 'Cookie mode: the access token cookie, on every authenticated endpoint, with X-CSRFToken on unsafe methods.',
                },
              }),
          metrics: { type: 'http', scheme: 'bearer', description: 'The METRICS_TOKEN setting' },
        },
      },
    },
    transform: documentRoute,
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs', staticCSP: true });

  app.get('/api/schema/', {
    schema: {
      tags: ['documentation'],
      summary: 'This OpenAPI 3.1 document',
      description: 'JSON by default; `?format=yaml` (or `Accept: application/yaml`) for YAML.',
      querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('yaml')])) }),
    },
    config: { documentedReplies: { 200: { ...Type.Object({ openapi: Type.Literal('3.1.0') }), description: 'The document.' } } },
    handler: async (request, reply) => {
      const yaml = wantsYaml(request.query as Record<string, unknown>, request.headers.accept);
      if (yaml) return reply.type('application/yaml; charset=utf-8').send(app.swagger({ yaml: true }));
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(app.swagger()));
    },
  });
  completeResource(app, { url: '/api/schema/', name: 'Schema', description: 'The OpenAPI document.', methods: ['GET'] });
  // The docs page and its assets are read-only, like every other known URL: 405, not 404.
  for (const url of ['/api/docs', '/api/docs/*']) {
    completeResource(app, { url, name: 'API documentation', description: 'The OpenAPI document and its interactive page.', methods: ['GET'] });
  }
}

function wantsYaml(query: Record<string, unknown>, accept: string | undefined): boolean {
  const format = Array.isArray(query.format) ? query.format.at(-1) : query.format;
  if (format === 'yaml') return true;
  if (format !== undefined && format !== 'json') throw validation({ format: [`Select a valid choice. ${String(format)} is not one of the available choices.`] });
  return format === undefined && /^application\/(?:vnd\.oai\.openapi|yaml)\b/i.test(accept ?? '');
}
