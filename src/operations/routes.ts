import { createHash, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Database } from '../db/database.js';
import { detail } from '../http/errors.js';
import { completeResource } from '../http/methods.js';
import type { Metrics } from './metrics.js';

export interface OperationsOptions {
  database: Database;
  /** Seconds the database has to answer a readiness check. */
  readyTimeoutSeconds: number;
  /** Set when METRICS_TOKEN is: `/metrics` is served to callers presenting that token. */
  metrics?: { registry: Metrics; token: string };
}

const Status = (status: string) => Type.Object({ status: Type.Literal(status) }, { description: `\`{"status": "${status}"}\`` });

/** Probes of load balancers and orchestrators arrive with whatever Host they like. */
const anyHost = { config: { anyHost: true } };

/**
 * What operators and their tools ask of a running server: is the process up (`/healthz`), can
 * it serve (`/readyz`: the database answers in time), and how is it doing (`/metrics`). None
 * builds links, so the Host check, which protects links, is left out (see front-door.ts).
 */
export async function operationsRoutes(app: FastifyInstance, { database, readyTimeoutSeconds, metrics }: OperationsOptions): Promise<void> {
  app.get('/healthz', {
    schema: { tags: ['operations'], summary: 'The process is up', description: 'Does not touch the database.', response: { 200: Status('ok') } },
    ...anyHost,
    handler: async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }),
  });
  completeResource(app, { url: '/healthz', name: 'Health', description: 'Whether the process is up.', methods: ['GET'], ...anyHost });

  app.get('/readyz', {
    schema: {
      tags: ['operations'],
      summary: 'The server can serve: its database answers in time',
      description: `503 when the database does not answer within ${readyTimeoutSeconds} s.`,
      response: { 200: Status('ready') },
    },
    config: { anyHost: true, documentedReplies: { 503: 'The database did not answer in time.' } },
    handler: async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      if (!(await answersWithin(database, readyTimeoutSeconds * 1000))) {
        throw detail(503, `The database did not answer within ${readyTimeoutSeconds} seconds.`, { 'retry-after': '5' });
      }
      return reply.send({ status: 'ready' });
    },
  });
  completeResource(app, { url: '/readyz', name: 'Readiness', description: 'Whether the database answers.', methods: ['GET'], ...anyHost });

  if (metrics === undefined) return;
  const expected = digest(metrics.token);
  app.get('/metrics', {
    schema: { tags: ['operations'], summary: 'Prometheus metrics', description: 'Needs `Authorization: Bearer <METRICS_TOKEN>`.', security: [{ metrics: [] }] },
    config: {
      anyHost: true,
      documentedReplies: {
        200: { ...Type.String(), description: 'The Prometheus text format (`text/plain; version=0.0.4`).' },
        401: 'No `Authorization: Bearer` with the METRICS_TOKEN.',
      },
    },
    onRequest: async (request) => {
      if (!timingSafeEqual(digest(bearerOf(request)), expected)) {
        throw detail(401, 'Invalid or missing metrics token.', { 'www-authenticate': 'Bearer realm="metrics"' });
      }
    },
    handler: async (_request, reply) => reply.header('cache-control', 'no-store').type(metrics.registry.contentType).send(await metrics.registry.text()),
  });
  completeResource(app, { url: '/metrics', name: 'Metrics', description: 'Prometheus metrics.', methods: ['GET'], ...anyHost });
}

async function answersWithin(database: Database, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  // In a transaction, so that on SQLite the probe waits for its turn at the one writer, as
  // writes do (reads outside transactions have a connection of their own).
  const answered = database.db.transaction().execute((trx) => sql`select 1`.execute(trx)).then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([answered, late]);
  } finally {
    clearTimeout(timer);
  }
}

function bearerOf(request: FastifyRequest): string {
  const [scheme, token, ...rest] = (request.headers.authorization ?? '').trim().split(/\s+/);
  return scheme?.toLowerCase() === 'bearer' && token !== undefined && rest.length === 0 ? token : '';
}

/** Digests of equal length, so the comparison takes the same time whatever was sent. */
const digest = (text: string) => createHash('sha256').update(text).digest();
