import type { FastifyError, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Config } from '../config.js';
import { corsStep } from './cors.js';
import { detail, frameworkErrorReply } from './errors.js';
import { hostCheck, schemeCheck, slashRedirect } from './routing.js';
import { SECURITY_HEADERS } from './security-headers.js';

type FrontDoorOptions = Pick<Config, 'corsAllowedOrigins' | 'allowedHosts' | 'trustProxy' | 'jwt'>;

export interface FrontDoor {
  /** The hook every routed request meets first. */
  onRequest: onRequestHookHandler;
  /** Fastify's `frameworkErrors`: requests its router refuses before any hook runs. */
  frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void;
}

/**
 * What every request meets first, in the original's order: security headers, CORS (a
 * preflight is answered here, on any path, without authentication), the Host check, then the
 * trailing-slash redirect (routes that build no links, as the operators' probes, may opt out
 * of the Host check with `config: {anyHost: true}`). One synchronous hook, since it runs on every request. Requests the
 * router refuses itself (a malformed URL) get the same headers and CORS answers.
 */
export function frontDoor(options: FrontDoorOptions): FrontDoor {
  const cors = corsStep(options.corsAllowedOrigins, { credentials: options.jwt.cookies.enabled });
  const hostAllowed = hostCheck(options.allowedHosts);
  const schemeAllowed = schemeCheck(options.trustProxy);
  return {
    onRequest(request, reply, done) {
      reply.headers(SECURITY_HEADERS);
      if (cors(request, reply)) return;
      if (!hostAllowed(request) && !(request.routeOptions.config as { anyHost?: boolean }).anyHost) {
        return done(detail(400, 'Invalid host header.'));
      }
      if (schemeAllowed !== undefined && !schemeAllowed(request)) return done(detail(400, 'Invalid X-Forwarded-Proto header.'));
      if (slashRedirect(request, reply)) return;
      done();
    },
    frameworkErrors(error, request, reply) {
      reply.headers(SECURITY_HEADERS);
      if (cors(request, reply)) return;
      const { statusCode, body } = frameworkErrorReply(error);
      reply.code(statusCode).send(body);
    },
  };
}
