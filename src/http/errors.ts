import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db/errors.js';
import { SECURITY_HEADERS } from './security-headers.js';

export type FieldErrors = Record<string, string[]>;

/** An error that becomes a reply in the contract's shape: `{"detail": ...}` or field errors. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.detail === 'string' ? body.detail : `HTTP ${statusCode}`);
  }
}

export const detail = (statusCode: number, message: string, headers?: Record<string, string>) =>
  new ApiError(statusCode, { detail: message }, headers);

export const notFound = () => detail(404, 'Not found.');

/** DRF's words for a visible object the caller may not change. */
export const forbidden = () => detail(403, 'You do not have permission to perform this action.');

export const unauthorized = (message: string) => detail(401, message, { 'www-authenticate': 'Token' });

export const methodNotAllowed = (method: string, allow: string) =>
  detail(405, `Method "${method}" not allowed.`, { allow });

export const validation = (errors: FieldErrors) => new ApiError(400, errors);

export const nonFieldError = (message: string) => validation({ non_field_errors: [message] });

/** Collects field errors so every failing field is reported at once, as DRF does. */
export class FieldErrorCollector {
  readonly errors: FieldErrors = {};

  add(field: string, messages: string | string[]): void {
    (this.errors[field] ??= []).push(...(Array.isArray(messages) ? messages : [messages]));
  }

  get empty(): boolean {
    return Object.keys(this.errors).length === 0;
  }

  throwIfAny(): void {
    if (!this.empty) throw validation(this.errors);
  }
}

/** Renders every failure in the contract's shapes; 5xx replies never carry internal details. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    if (error instanceof ApiError) {
      return reply.code(error.statusCode).headers(error.headers).send(error.body);
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const { statusCode, body } = frameworkErrorReply(error, request);
      // The rest of a body over the limit is not read: the connection closes after the reply.
      if (statusCode === 413) reply.header('connection', 'close');
      return reply.code(statusCode).send(body);
    }
    if (isDatabaseUnavailable(error)) {
      // The database is down, restarting, unreachable, or cannot be written now: what the
      // request was doing was rolled back, and it may be tried again shortly.
      request.log.warn({ err: error }, 'database unavailable');
      return reply.code(503).header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS)).send({ detail: DATABASE_UNAVAILABLE });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ detail: SERVER_ERROR });
  });

  // The original answers unknown URLs with an HTML page; JSON serves API clients better.
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ detail: 'Not found.' }));
}

const SERVER_ERROR = 'A server error occurred.';
const DATABASE_UNAVAILABLE = 'The database is unavailable; try again shortly.';
const DATABASE_RETRY_AFTER_SECONDS = 5;

/** The contract's reply for an error raised by Fastify itself (its router, body reading). */
export function frameworkErrorReply(error: FastifyError, request?: FastifyRequest): { statusCode: number; body: { detail: string } } {
  const reply = (statusCode: number, message: string) => ({ statusCode, body: { detail: message } });
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return reply(400, 'Malformed URL.');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return reply(414, 'URL too long.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return reply(413, 'Request body is too large.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return reply(415, `Unsupported media type "${request?.headers['content-type'] ?? ''}" in request.`);
  }
  const status = error.statusCode ?? 500;
  return status >= 400 && status < 500 ? reply(status, error.message) : reply(500, SERVER_ERROR);
}

/**
 * Fastify's `clientErrorHandler`: requests Node's HTTP parser refuses (malformed, headers too
 * large, too slow) never reach Fastify, so the reply is written to the socket here, in the
 * contract's shape and with the security headers.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (inFlight?.req.complete && !inFlight.writableFinished) {
    // Bytes after a complete request on this connection: that request is being answered, and
    // its client must get its own reply, not this error's; the connection closes after it.
    inFlight.once('finish', () => socket.end());
    inFlight.once('close', () => inFlight.writableFinished || socket.destroy());
    return;
  }
  // As Node does: never write into a reply already under way on this connection.
  if (socket.writable && !inFlight?.headersSent) {
    const [status, message] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'Malformed HTTP request.'];
    socket.write(rawReply(status, { detail: message }));
  }
  socket.destroy(error);
}

const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request header fields too large.'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request timeout.'],
};

// Every reply varies by Origin (CORS); these are written before any header could be read.
const RAW_SECURITY_HEADERS = Object.entries({ ...SECURITY_HEADERS, vary: 'Origin' })
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('');

/** A whole HTTP/1.1 reply, for the answers written to a socket outside any request. */
function rawReply(status: number, body: { detail: string }): string {
  const text = JSON.stringify(body);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${RAW_SECURITY_HEADERS}` +
    `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`
  );
}
