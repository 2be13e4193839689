import type { FastifyError, FastifyInstance } from 'fastify';

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
    if (status === 413) return reply.code(413).send({ detail: 'Request body is too large.' });
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ detail: error.message });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ detail: 'A server error occurred.' });
  });

  // The original answers unknown URLs with an HTML page; JSON serves API clients better.
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ detail: 'Not found.' }));
}
