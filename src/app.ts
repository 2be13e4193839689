import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { createAuthenticate } from './accounts/authenticate.js';
import { createPasswordChecks } from './accounts/credentials.js';
import { createAccountsRepository } from './accounts/repository.js';
import { accountRoutes } from './accounts/routes.js';
import { createThrottle, type Throttle } from './accounts/throttle.js';
import { registerDocs } from './docs/routes.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { registerBodyParsers } from './http/body.js';
import { clientErrorHandler, registerErrorHandler } from './http/errors.js';
import { frontDoor } from './http/front-door.js';
import { serializeRequest } from './http/log.js';
import { routeEveryRequest } from './http/methods.js';
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
import { createMailer } from './mail/mailer.js';
import { createResetMailing } from './password-reset/mailing.js';
import { createPasswordResetRepository } from './password-reset/repository.js';
import { passwordResetRoutes } from './password-reset/routes.js';
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
      serializers: { req: serializeRequest },
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

  app.server.maxConnections = config.maxConnections;
  if (config.docs) await registerDocs(app, { accessCookie: config.jwt.cookies.enabled ? config.jwt.cookies.accessName : undefined });

  const accounts = createAccountsRepository(database);
  const throttle = createThrottle(config.throttle, redis, throttleNamespace);
  const passwords = createPasswordChecks(accounts, throttle);

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
  await registerPasswordReset(app, config, database, throttle);
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

/** The password reset routes, with the mailer they send through. */
async function registerPasswordReset(app: FastifyInstance, config: Config, database: Database, throttle: Throttle): Promise<void> {
  const resets = createPasswordResetRepository(database);
  const mailer = createMailer(config.mail, app.log);
  const mailing = createResetMailing({ resets, mailer, settings: config.passwordReset, log: app.log });
  // Mails under way when the server stops are sent first (within the shutdown deadline).
  app.addHook('onClose', async () => {
    await mailing.settled();
    mailer.close();
  });
  await app.register(passwordResetRoutes, { resets, mailing, throttle });
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
