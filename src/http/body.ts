import { Busboy } from '@fastify/busboy';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { detail, nonFieldError } from './errors.js';
import { JsonNumber, pythonTypeName } from './fields.js';
import { JsonShapeError, parseJson } from './json.js';

export type BodyData = Record<string, unknown>;

/**
 * At most this many fields in a form or parts in a multipart body, as Django's
 * DATA_UPLOAD_MAX_NUMBER_FIELDS: the work and memory of decoding stay small whatever is sent.
 */
const MAX_FORM_FIELDS = 1000;

/** What the parsing stage keeps: the undecoded body, decoded later by readBody(). */
class RawBody {
  constructor(
    readonly contentType: string,
    readonly contentEncoding: string | undefined,
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
    done(null, new RawBody(request.headers['content-type'] ?? '', request.headers['content-encoding'], bytes as Buffer));
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

async function decode({ contentType, contentEncoding, bytes }: RawBody): Promise<BodyData> {
  refuseContentCoding(contentEncoding);
  const { mediaType, charset } = parseContentType(contentType);
  if (mediaType === 'application/json' || mediaType === 'application/x-www-form-urlencoded') {
    requireUtf8(charset, contentType);
    return mediaType === 'application/json' ? decodeJson(bytes) : decodeForm(bytes);
  }
  if (mediaType === 'multipart/form-data') return decodeMultipart(contentType, bytes);
  if (bytes.length === 0) return {};
  throw unsupportedMediaType(contentType);
}

const unsupportedMediaType = (contentType: string) => detail(415, `Unsupported media type "${contentType}" in request.`);

/**
 * Compressed bodies are refused rather than inflated: a megabyte of gzip can expand a
 * thousandfold, and the API's clients (browsers, the React app) never compress what they send.
 */
function refuseContentCoding(contentEncoding: string | undefined): void {
  if (contentEncoding === undefined) return;
  const coding = contentEncoding.trim().toLowerCase();
  if (coding === '' || coding === 'identity') return;
  throw detail(415, `Unsupported content encoding "${contentEncoding}" in request.`, { 'accept-encoding': 'identity' });
}

/** The media type (lower case) and the charset parameter of a Content-Type header. */
function parseContentType(contentType: string): { mediaType: string; charset: string | undefined } {
  const [mediaType = '', ...parameters] = contentType.split(';');
  let charset: string | undefined;
  for (const parameter of parameters) {
    const equals = parameter.indexOf('=');
    if (equals === -1 || parameter.slice(0, equals).trim().toLowerCase() !== 'charset') continue;
    charset = parameter.slice(equals + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return { mediaType: mediaType.trim().toLowerCase(), charset };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON is UTF-8 (RFC 8259) and browsers encode forms in UTF-8; a body declared in another
 * charset is refused rather than misread.
 */
function requireUtf8(charset: string | undefined, contentType: string): void {
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') throw unsupportedMediaType(contentType);
}

function decodeJson(bytes: Buffer): BodyData {
  // Only a truly empty body counts as an empty object, as in the original.
  if (bytes.length === 0) return {};
  let value: unknown;
  try {
    value = parseJson(utf8.decode(bytes));
  } catch (error) {
    const reason = error instanceof JsonShapeError || error instanceof SyntaxError || error instanceof TypeError ? error.message : 'invalid JSON';
    throw detail(400, `JSON parse error - ${reason}`);
  }
  if (value === null) throw nonFieldError('No data provided');
  if (typeof value !== 'object' || Array.isArray(value) || value instanceof JsonNumber) {
    throw nonFieldError(`Invalid data. Expected a dictionary, but got ${pythonTypeName(value)}.`);
  }
  return value as BodyData;
}

const tooManyFields = (what: string) => detail(400, `${what} parse error - more than ${MAX_FORM_FIELDS} fields`);

/**
 * Repeated keys keep the last value, as Django's QueryDict does for single-valued fields.
 * Fields are counted before URLSearchParams sees them: it takes seconds over a megabyte of
 * `a&a&a…`. Malformed percent-escapes stay as written and invalid UTF-8 becomes U+FFFD, as in
 * Django.
 */
function decodeForm(bytes: Buffer): BodyData {
  const text = bytes.toString('utf8');
  let fields = 0;
  for (let start = 0; start <= text.length; ) {
    const end = text.indexOf('&', start);
    const stop = end === -1 ? text.length : end;
    if (stop > start && ++fields > MAX_FORM_FIELDS) throw tooManyFields('Form');
    start = stop + 1;
  }
  const data: BodyData = Object.create(null);
  for (const [name, value] of new URLSearchParams(text)) data[name] = value;
  return data;
}

/**
 * Per-part limits, so that the cost of a multipart body grows only with its size. Busboy's
 * own defaults would truncate a field over 1 MiB without saying so; no field can be longer
 * than the body, whose size Fastify limits.
 */
const MULTIPART_LIMITS = { parts: MAX_FORM_FIELDS, fields: MAX_FORM_FIELDS, files: MAX_FORM_FIELDS, headerPairs: 20, headerSize: 16 * 1024 };

function decodeMultipart(contentType: string, bytes: Buffer): Promise<BodyData> {
  return new Promise((resolve, reject) => {
    const malformed = (error: unknown) => reject(detail(400, `Multipart form parse error - ${(error as Error).message}`));
    const fields: BodyData = Object.create(null);
    try {
      const parser = Busboy({
        headers: { 'content-type': contentType },
        defCharset: 'utf8',
        limits: { ...MULTIPART_LIMITS, fieldSize: bytes.length },
      });
      parser.on('field', (name: string | undefined, value: string) => {
        if (name !== undefined) fields[name] = value;
      });
      // Uploaded files are not part of any resource here. Without a 'file' listener busboy
      // skips them unread; a file stream handed out and left without an 'error' listener would
      // end the process when the body stops inside it.
      for (const limit of ['partsLimit', 'fieldsLimit', 'filesLimit']) parser.on(limit, () => reject(tooManyFields('Multipart form')));
      parser.on('error', malformed);
      parser.on('finish', () => resolve(fields));
      parser.end(bytes);
    } catch (error) {
      malformed(error);
    }
  });
}
