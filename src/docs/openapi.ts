import { STATUS_CODES } from 'node:http';
import { Type, type TSchema } from 'typebox';
import type { FastifySchema, RouteOptions } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Replies a route gives beyond those its schema implies (status → when), for the OpenAPI
     * document only: error replies are not serialized by a schema, so their shapes stay the
     * contract's whatever they hold.
     */
    documentedReplies?: Record<number, string | DocumentedReply>;
  }
}

const Detail = (example: string) =>
  Type.Object({ detail: Type.String() }, { additionalProperties: false, examples: [{ detail: example }] });

/** DRF's validation errors: every failing field with its messages, all at once. */
const FieldErrors = (example: Record<string, string[]>) =>
  Type.Record(Type.String(), Type.Array(Type.String(), { minItems: 1 }), {
    description: 'Each failing field (or `non_field_errors`) with its messages.',
    examples: [example],
  });

const ValidationOrDetail = (example: Record<string, string[]>, detail: string) =>
  Type.Union([FieldErrors(example), Detail(detail)], { examples: [example, { detail }] });

const RETRY_AFTER = { 'Retry-After': { type: 'integer', description: 'Seconds to wait before trying again.' } };

/** A reply's schema as the document shows it, with a description and any headers. */
export type DocumentedReply = TSchema & { description: string; headers?: Record<string, unknown> };

/** The contract's error replies, each with its shape and an example. */
const ERROR_REPLIES: Record<number, (why: string) => DocumentedReply> = {
  400: (why) => ({ ...ValidationOrDetail({ title: ['This field is required.'] }, 'JSON parse error - Expected property name'), description: why }),
  401: (why) => ({
    ...Detail('Authentication credentials were not provided.'),
    description: why,
    headers: { 'WWW-Authenticate': { type: 'string', description: 'The scheme to authenticate with: `Token`.' } },
  }),
  403: (why) => ({ ...Detail('You do not have permission to perform this action.'), description: why }),
  404: (why) => ({ ...Detail('Not found.'), description: why }),
  409: (why) => ({ ...Detail('Conflict.'), description: why }),
  410: (why) => ({ ...Detail('Deletions are kept for 2592000 seconds; sync all tasks again.'), description: why }),
  412: (why) => ({ ...Detail('Precondition failed: the task has changed since it was read.'), description: why }),
  413: (why) => ({ ...Detail('Request body is too large.'), description: why }),
  415: (why) => ({ ...Detail('Unsupported media type "text/plain" in request.'), description: why }),
  429: (why) => ({ ...Detail('Request was throttled. Expected available in 42 seconds.'), description: why, headers: RETRY_AFTER }),
  503: (why) => ({ ...Detail('The database is unavailable; try again shortly.'), description: why, headers: RETRY_AFTER }),
};

/** The 304 of a GET whose reply carries an ETag (http/conditional.ts). */
export const REVALIDATED = 'The `If-None-Match` tag is current: the reply is unchanged (no body).';

const NOT_MODIFIED = { type: 'null', description: 'Not modified: the `If-None-Match` tag is current (no body).' };


/**
 * The `transform` of @fastify/swagger: adds to each operation the replies its traits imply
 * (401 when it needs a token, 404 when its URL names an object, 400/413/415 when it reads a
 * body, 400 for bad query parameters, 503 when it uses the database) and those its route
 * declares in `documentedReplies` (a schema there replaces the route's own, for a reply whose
 * shape depends on the request).
 */
export function documentRoute({ schema, url, route }: { schema: FastifySchema; url: string; route: RouteOptions }) {
  if (schema === undefined || schema.hide) return { schema, url };
  const replies: Record<string, unknown> = { ...(schema.response as Record<string, unknown> | undefined) };
  const add = (status: number, why: string | DocumentedReply) => {
    if (typeof why !== 'string') replies[status] = why;
    else replies[status] ??= status === 304 ? { ...NOT_MODIFIED, description: why } : ERROR_REPLIES[status]!(why);
  };
  const secured = schema.security?.some((scheme) => 'token' in scheme) ?? false;
  if (secured) add(401, 'No credentials, or a token that is unknown, expired or revoked, or whose user is deactivated.');
  if (schema.params !== undefined) add(404, 'Nothing the caller may see has this id.');
  if (schema.body !== undefined) {
    add(400, 'The body is malformed or fails validation: every failing field with its messages.');
    add(413, 'The body is larger than BODY_LIMIT_BYTES.');
    add(415, 'The body is neither JSON, a form nor multipart.');
  } else if (schema.querystring !== undefined) {
    add(400, 'A query parameter is invalid: each with its messages.');
  }
  for (const [status, why] of Object.entries(route.config?.documentedReplies ?? {})) add(Number(status), why);
  if (secured || schema.body !== undefined) add(503, 'The database is unavailable (down, unreachable, or cannot be written now); nothing was changed.');
  for (const [status, reply] of Object.entries(replies)) {
    const described = reply as { description?: string };
    if (described.description === undefined) replies[status] = { ...described, description: STATUS_CODES[status] };
  }
  return { schema: { ...schema, response: replies }, url };
}
