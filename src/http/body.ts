import { Readable } from 'node:stream';
import { Busboy, type BusboyInstance } from '@fastify/busboy';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { detail, nonFieldError } from './errors.js';
import { JsonNumber } from './fields.js';

export type BodyData = Record<string, unknown>;

/** What the parsing stage keeps: the undecoded body, decoded later by readBody(). */
class RawBody {
  constructor(
    readonly contentType: string,
    readonly bytes: Buffer,
  ) {}
}

/**
 * Bodies are only buffered while Fastify parses the request, and decoded when a handler asks.
 * The contract puts authentication and the ownership lookup before body errors: a malformed
 * body sent to someone else's task must still answer 404, so decoding cannot fail early.
 */
export function registerBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, bytes, done) => {
    done(null, new RawBody(request.headers['content-type'] ?? '', bytes as Buffer));
  });
}

const decoded = new WeakMap<FastifyRequest, BodyData>();

/** The request body as a dictionary, decoded from JSON, a form or multipart, as the original accepts. */
export async function readBody(request: FastifyRequest): Promise<BodyData> {
  const cached = decoded.get(request);
  if (cached) return cached;
  const raw = request.body;
  const data = raw instanceof RawBody ? await decode(raw) : {};
  decoded.set(request, data);
  return data;
}

async function decode({ contentType, bytes }: RawBody): Promise<BodyData> {
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  if (mediaType === 'application/json') return decodeJson(bytes);
  if (mediaType === 'application/x-www-form-urlencoded') return decodeForm(bytes);
  if (mediaType === 'multipart/form-data') return decodeMultipart(contentType, bytes);
  if (bytes.length === 0) return {};
  throw detail(415, `Unsupported media type "${contentType}" in request.`);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeJson(bytes: Buffer): BodyData {
  // Only a truly empty body counts as an empty object, as in the original.
  if (bytes.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes), keepNumberText);
  } catch (error) {
    throw detail(400, `JSON parse error - ${(error as Error).message}`);
  }
  if (value === null) throw nonFieldError('No data provided');
  if (typeof value !== 'object' || Array.isArray(value) || value instanceof JsonNumber) {
    throw nonFieldError(`Invalid data. Expected a dictionary, but got ${pythonTypeName(value)}.`);
  }
  return value as BodyData;
}

/**
 * Numbers whose JavaScript value does not print as they were written (`1.0`, integers beyond
 * 2^53) keep their source text, so a number sent for a text field is stored as the original
 * would store it.
 */
function keepNumberText(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== 'number' || context?.source === undefined || context.source === String(value)) return value;
  return new JsonNumber(value, context.source);
}

/** The original names the Python type of a body that is not an object. */
function pythonTypeName(value: unknown): string {
  if (value instanceof JsonNumber) return /^-?\d+$/.test(value.source) ? 'int' : 'float';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return typeof value;
}

/** Repeated keys keep the last value, as Django's QueryDict does for single-valued fields. */
function decodeForm(bytes: Buffer): BodyData {
  return Object.fromEntries(new URLSearchParams(bytes.toString('utf8')));
}

function decodeMultipart(contentType: string, bytes: Buffer): Promise<BodyData> {
  return new Promise((resolve, reject) => {
    const fields: BodyData = {};
    let parser: BusboyInstance;
    try {
      parser = Busboy({ headers: { 'content-type': contentType }, defCharset: 'utf8' });
    } catch (error) {
      reject(detail(400, `Multipart form parse error - ${(error as Error).message}`));
      return;
    }
    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    // Uploaded files are not part of any resource here; drain and ignore them.
    parser.on('file', (_name, stream) => stream.resume());
    parser.on('error', (error) =>
      reject(detail(400, `Multipart form parse error - ${(error as Error).message}`)),
    );
    parser.on('finish', () => resolve(fields));
    Readable.from([bytes]).pipe(parser);
  });
}
