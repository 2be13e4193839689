import type { FastifyInstance } from 'fastify';
import { methodNotAllowed } from './errors.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const ANSWERABLE = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export interface Resource {
  url: string;
  name: string;
  description: string;
  /** The methods with handlers, in the order the `Allow` header lists them. */
  methods: Method[];
}

/**
 * Gives a URL the original's answers for the methods it has no handler for: OPTIONS
 * describes the endpoint, any other method gets 405 with `Allow`. The answers run the hooks of
 * the plugin they are added in, so a plugin that authenticates refuses anonymous callers first.
 */
export function completeResource(app: FastifyInstance, resource: Resource): void {
  const allowed: string[] = [...resource.methods];
  if (allowed.includes('GET')) allowed.push('HEAD');
  allowed.push('OPTIONS');
  const allow = allowed.join(', ');

  app.route({
    method: 'OPTIONS',
    url: resource.url,
    schema: { hide: true },
    handler: async (_request, reply) =>
      reply.header('allow', allow).send({
        name: resource.name,
        description: resource.description,
        renders: ['application/json'],
        parses: ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'],
      }),
  });

  const refused = ANSWERABLE.filter((method) => !allowed.includes(method));
  if (refused.length === 0) return;
  app.route({
    method: refused,
    url: resource.url,
    schema: { hide: true },
    handler: async (request) => {
      throw methodNotAllowed(request.method, allow);
    },
  });
}
