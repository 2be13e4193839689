import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { createAuthenticate } from './accounts/authenticate.js';
import { createPasswordChecks } from './accounts/credentials.js';
import { createAccountsRepository } from './accounts/repository.js';
import { accountRoutes } from './accounts/routes.js';
import { createThrottle } from './accounts/throttle.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { registerBodyParsers } from './http/body.js';
import { clientErrorHandler, registerErrorHandler } from './http/errors.js';
import { frontDoor } from './http/front-door.js';
import { completeResource, routeEveryRequest } from './http/methods.js';
import { rootRoutes } from './http/root.js';
import { createSyncRepository } from './sync/repository.js';
import { syncRoutes } from './sync/routes.js';
import { adminRoutes } from './admin/routes.js';
import { createAccessTokens } from './browser-sessions/access.js';
import { createCookieJar, readCookie } from './browser-sessions/cookies.js';
import { createCsrfCheck } from './browser-sessions/csrf.js';
import { createBrowserSessionsRepository } from './browser-sessions/repository.js';
import { browserSessionRoutes } from './browser-sessions/routes.js';
import { createSessionIssuer } from './browser-sessions/sessions.js';
import { loadSigningKey } from './browser-sessions/signing-key.js';
import { createTokenSigner } from './browser-sessions/tokens.js';
import { listRoutes } from './lists/routes.js';
import { createMetrics } from './operations/metrics.js';
import { operationsRoutes } from './operations/routes.js';
import { createTasksRepository } from './tasks/repository.js';
import { taskRoutes } from './tasks/routes.js';

export interface AppDependencies {
  config: Config;
  database: Database;
  /** Shared rate-limit counters; without it they are kept in this process. */
  redis?: Redis;
  /** Key prefix for the rate-limit counters in Redis (tests use their own). */
  throttleNamespace?: string;
}

/** Builds the whole service from its dependencies; no globals, so tests build their own. */
export async function buildApp({ config, database, redis, throttleNamespace }: AppDependencies): Promise<FastifyInstance> {
  const door = frontDoor(config);
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    },
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // A long path segment is routed like any other (a 200-digit task id is simply not found);
    // Node's header size limit bounds the whole request line anyway.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 16 * 1024 },
    // Replies Fastify and Node would write themselves get the contract's shape and headers.
    frameworkErrors: door.frameworkErrors,
    clientErrorHandler,
    // Requests still arriving on open connections while the server drains are answered
    // normally (with Connection: close) rather than with a 503 outside the contract.
    return503OnClosing: false,
    ...serverTimeouts(config),
  });

  // Route schemas describe requests for the OpenAPI document; requests themselves are checked
  // by each capability's parse functions, which give the original's messages and run after
  // authentication and the ownership lookup, in the original's order.
  app.setValidatorCompiler(() => () => true);

  registerErrorHandler(app);
  registerBodyParsers(app);
  app.addHook('onRequest', door.onRequest);
  routeEveryRequest(app);

  if (config.docs) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Task Tracker API', version: '1.0.0', description: 'Personal and shared task lists with secure accounts.' },
        tags: [
          { name: 'accounts', description: 'Registration, login, sessions and the current account.' },
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
        ],
        components: {
          securitySchemes: {
            token: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'Token <key> (or Bearer <key>, or Bearer <access token> of a browser session)' },
            cookie: {
              type: 'apiKey',
              in: 'cookie',
              name: config.jwt.cookies.accessName,
              description: 'Cookie mode: the access token cookie, on every authenticated endpoint, with X-CSRFToken on unsafe methods.',
            },
            metrics: { type: 'http', scheme: 'bearer', description: 'The METRICS_TOKEN setting' },
          },
        },
      },
    });
    await app.register(swaggerUi, { routePrefix: '/api/docs', staticCSP: true });
    // The docs page and its assets are read-only, like every other known URL: 405, not 404.
    for (const url of ['/api/docs', '/api/docs/*']) {
      completeResource(app, { url, name: 'API documentation', description: 'The OpenAPI document and its interactive page.', methods: ['GET'] });
    }
  }

  const accounts = createAccountsRepository(database);
  const throttle = createThrottle(config.throttle, redis, throttleNamespace);
  const passwords = createPasswordChecks(accounts, throttle);

  // Parses cookies only when asked (browser-sessions/cookies.ts), and writes those a reply sets.
  await app.register(cookie, { hook: false });
  const { jwt } = config;
  const signer = createTokenSigner(await loadSigningKey(database.db, jwt.signingKey), {
    accessSeconds: jwt.accessLifetimeSeconds,
    refreshSeconds: jwt.refreshLifetimeSeconds,
  });
  const sessions = createBrowserSessionsRepository(database);
  const cookies = jwt.cookies.enabled ? createCookieJar(jwt.cookies) : undefined;
  const csrf = createCsrfCheck(config.corsAllowedOrigins, readCookie);
  const authenticate = createAuthenticate(accounts, config.tokenLifetimeSeconds, createAccessTokens({ signer, sessions, cookies, csrf }));

  const metrics = config.metricsToken === undefined ? undefined : createMetrics(database);
  if (metrics !== undefined) {
    // Every reply, whatever answered it; a callback hook, as it runs on every request.
    app.addHook('onResponse', (request, reply, done) => {
      metrics.observe(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
  await app.register(rootRoutes, { docs: config.docs });
  await app.register(operationsRoutes, {
    database,
    readyTimeoutSeconds: config.readyTimeoutSeconds,
    metrics: metrics && { registry: metrics, token: config.metricsToken! },
  });
  await app.register(accountRoutes, { accounts, authenticate, throttle, passwords, tokenLifetimeSeconds: config.tokenLifetimeSeconds });
  await app.register(browserSessionRoutes, {
    accounts,
    sessions,
    issuer: createSessionIssuer({ accounts, sessions, signer }),
    passwords,
    throttle,
    authenticate,
    csrf,
    cookies,
    config: jwt,
  });
  await app.register(taskRoutes, {
    database,
    tasks: createTasksRepository(database),
    authenticate,
    tombstoneRetentionSeconds: config.tombstoneRetentionSeconds,
    replyMemoryBytes: config.replyMemoryBytes,
  });
  await app.register(listRoutes, { database, authenticate });
  await app.register(adminRoutes, { database, authenticate });
  await app.register(syncRoutes, { sync: createSyncRepository(database), authenticate, tombstoneRetentionSeconds: config.tombstoneRetentionSeconds });
  return app;
}

/** Fastify's and Node's server options for the configured timeouts. */
function serverTimeouts(config: Config) {
  const requestTimeout = config.requestTimeoutSeconds * 1000;
  const headersTimeout = config.headersTimeoutSeconds * 1000;
  return {
    // The whole request (headers and body) must arrive within this; 408 beyond.
    requestTimeout,
    keepAliveTimeout: config.keepAliveTimeoutSeconds * 1000,
    // A connection on which nothing moves either way for this long is closed.
    connectionTimeout: config.connectionTimeoutSeconds * 1000,
    // Node checks the request and header deadlines every 30 s by default, which would let a
    // slow client hold a connection up to 30 s past them.
    // Node would refuse an HTTP/1.1 request without Host itself, with a bare 400; the front
    // door's host check refuses it in the contract's shape instead.
    http: { requestTimeout, headersTimeout, connectionsCheckingInterval: 1000, requireHostHeader: false },
  };
}
