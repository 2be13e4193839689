import { METHODS, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { methodNotAllowed } from './errors.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Resource {
  url: string;
  name: string;
  description: string;
  /** The methods with handlers, in the order the `Allow` header lists them. */
  methods: Method[];
  /** Route config the answers share with the resource's own routes (see operations/routes.ts). */
  config?: Record<string, unknown>;
}

/**
 * Lets every request Node's HTTP parser accepts reach the router. Every method (TRACE,
 * PROPFIND, SEARCH, QUERY…) is routable, so a known URL answers 405 with `Allow` rather than
 * 404; none of them reads a body here, since the 405 comes before any body error in the
 * original's order of outcomes. Node hands CONNECT to a 'connect' listener (or drops the
 * connection) and answers an unknown Expect with a bare 417; both are routed like any request.
 */
export function routeEveryRequest(app: FastifyInstance): void {
  for (const method of METHODS) {
    if (!app.supportedMethods.includes(method)) app.addHttpMethod(method);
    // Fastify gives QUERY a body (RFC 10008), and refuses one without a Content-Type before routing.
    else if (method === 'QUERY') app.addHttpMethod(method, { hasBody: false, overrideExisting: true });
  }
  app.server.on('connect', (request, socket) => {
    // Node has let go of this socket: its errors (a client that resets) are ours to handle.
    socket.on('error', () => socket.destroy());
    const reply = new ServerResponse(request);
    reply.shouldKeepAlive = false;
    reply.assignSocket(socket as typeof reply.socket & {});
    reply.on('finish', () => socket.end(() => socket.destroy()));
    app.routing(request, reply);
  });
  app.server.on('checkExpectation', (request, reply) => app.routing(request, reply));
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
    config: resource.config,
    handler: async (_request, reply) =>
      reply.header('allow', allow).send({
        name: resource.name,
        description: resource.description,
        renders: ['application/json'],
        parses: ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'],
      }),
  });

  const refused = app.supportedMethods.filter((method) => !allowed.includes(method));
  if (refused.length === 0) return;
  app.route({
    method: refused,
    url: resource.url,
    schema: { hide: true },
    config: resource.config,
    handler: async (request) => {
      throw methodNotAllowed(request.method, allow);
    },
  });
}
