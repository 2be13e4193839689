import type { FastifyInstance } from 'fastify';
import { completeResource } from './methods.js';

/** A short welcome with links, so a person or client opening the base URL can find the API. */
export async function rootRoutes(app: FastifyInstance, { docs }: { docs: boolean }): Promise<void> {
  app.get('/', { schema: { hide: true } }, async (request) => {
    const base = `${request.protocol}://${request.host}`;
    return {
      name: 'Task Tracker API',
      links: {
        register: `${base}/api/register/`,
        login: `${base}/api/login/`,
        user: `${base}/api/user/`,
        tasks: `${base}/api/tasks/`,
        ...(docs ? { docs: `${base}/api/docs/`, openapi: `${base}/api/schema/` } : {}),
      },
    };
  });
  completeResource(app, { url: '/', name: 'Api Root', description: 'Links to the API.', methods: ['GET'] });
}
