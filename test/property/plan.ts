/**
 * A hostile request as fast-check generates and prints it: plain data, with the parts that
 * depend on the database (whose token, whose task or list id, which user, the task's current
 * ETag) named rather than given, and long runs of bytes written as `{repeat, times}` so that a
 * counterexample stays readable. `materialize` turns a plan into bytes once the fixture is known.
 */

/**
 * A piece of a body, a value or a query: text, a run of one text repeated, raw bytes, or the id
 * of an object of the fixture, named (`ref`) and written as its decimal id when the request is sent.
 */
export type Chunk = string | { repeat: string; times: number } | { bytes: number[] } | { ref: ValueRef };

export type RoleName = 'alice' | 'bob';
/** Whose token a request carries: a user's, a logged-out one, a deactivated user's, or none known. */
export type TokenRef = RoleName | 'revoked' | 'inactive' | 'forged';
/** The fixture's shared lists (fixture.ts): Alice's, which Bob views; Bob's alone; Bob's team, which Alice edits. */
export type ListName = 'alices' | 'bobs' | 'team';
/**
 * An object of the route's id kind (routes.ts). Whose: `live`, one the user sees (a task of
 * theirs or of one of their lists, a list they belong to, a session of theirs); `deleted`, one
 * that is gone or has left their view. Or where: one of the shared lists, or one of its tasks.
 * `nth` picks among several, in id order.
 */
export type ObjectRef = { of: RoleName | 'inactive'; which: 'live' | 'deleted'; nth?: number } | { in: ListName; nth?: number };
/** An id in a path: one of a user's live or deleted objects, or literal text. */
export type IdRef = ObjectRef | { literal: string };
/** A user, by name: Alice, Bob, Carol (deactivated, a viewer of the team), or an id no user has. */
export type UserName = RoleName | 'inactive' | 'gone';
/** The user id in a member's path (`:user_id`): a named user's, or literal text. */
export type UserRef = { user: UserName } | { literal: string };
/** What a `ref` chunk stands for: the id of one of a user's lists, or a user's id. */
export type ValueRef = { list: ObjectRef } | { user: UserName };
/** An entity tag: the current one of the task in the path, an outdated one, or literal text. */
export type TagRef = 'current' | 'stale' | { literal: string };

export type PathMutation =
  | 'none'
  | 'no-trailing-slash'
  | 'double-trailing-slash'
  | 'double-slash-inside'
  | 'leading-double-slash'
  | 'upper-case'
  | 'extra-segment'
  | 'dot-segment'
  | 'encoded-slash'
  | 'encoded-letter'
  | 'semicolon'
  | 'absolute-url'
  | 'backslash'
  | 'fragment'
  | 'empty-query';

export interface AuthorizationPlan {
  scheme: string;
  separator: string;
  token: TokenRef | { literal: Chunk[] };
  suffix: string;
}

export interface QueryPair {
  name: Chunk[];
  value: Chunk[];
  /** `percent`: encoded as a browser would; `raw`: sent as written, garbled escapes and all. */
  encoding: 'percent' | 'raw';
}

export interface MultipartPart {
  name: string;
  value: Chunk[];
  filename?: string;
  contentType?: string;
}

export type BodyPlan =
  | { kind: 'none' }
  | { kind: 'json'; chunks: Chunk[] }
  | { kind: 'form'; pairs: QueryPair[]; separator: '&' | ';' }
  | {
      kind: 'multipart';
      boundary: string;
      parts: MultipartPart[];
      lineEnd: '\r\n' | '\n';
      ending: 'close' | 'none' | 'garbage';
      /** Cut the body at this fraction of its length: a client that stopped mid-part. */
      cut?: number;
    }
  | { kind: 'raw'; chunks: Chunk[] };

/** Changes only a raw socket can make to the bytes of a request. */
export type WireTweak =
  | 'none'
  | 'lf-line-ends'
  | 'no-host'
  | 'duplicate-host'
  | 'duplicate-authorization'
  | 'duplicate-content-length'
  | 'bad-content-length'
  | 'length-and-chunked'
  | 'obs-fold'
  | 'space-before-colon'
  | 'http-1.0'
  | 'http-0.9'
  | 'control-byte-in-header'
  | 'bytes-after-body'
  | 'unframed-body'
  | 'lower-case-method'
  | 'huge-header';

export interface RequestPlan {
  transport: 'inject' | 'http' | 'raw';
  /** `proxied`: the app built with TRUST_PROXY, which believes X-Forwarded-* headers. */
  server: 'direct' | 'proxied';
  method: string;
  route: string;
  id: IdRef;
  /** The `:user_id` of a member's path, on the routes that have one. */
  userId?: UserRef;
  mutation: PathMutation;
  query: QueryPair[];
  authorization?: AuthorizationPlan;
  ifMatch?: TagRef;
  ifNoneMatch?: TagRef;
  headers: [string, Chunk[]][];
  contentType?: string;
  body: BodyPlan;
  framing: 'length' | 'chunked';
  tweak: WireTweak;
}

export function chunksToBuffer(chunks: Chunk[]): Buffer {
  return Buffer.concat(
    chunks.map((chunk) => {
      if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
      if ('bytes' in chunk) return Buffer.from(chunk.bytes);
      if ('ref' in chunk) throw new Error(`a reference not resolved before sending: ${JSON.stringify(chunk.ref)}`);
      return Buffer.from(chunk.repeat.repeat(chunk.times), 'utf8');
    }),
  );
}

export const chunksToText = (chunks: Chunk[]) => chunksToBuffer(chunks).toString('latin1');

/** Percent-encodes every byte outside RFC 3986's unreserved set, as a browser encodes a form. */
export function percentEncode(bytes: Buffer): string {
  let text = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    text += /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return text;
}

export function encodePairs(pairs: QueryPair[], separator = '&'): string {
  return pairs
    .map(({ name, value, encoding }) => {
      const render = (chunks: Chunk[]) => (encoding === 'percent' ? percentEncode(chunksToBuffer(chunks)) : chunksToText(chunks));
      return `${render(name)}=${render(value)}`;
    })
    .join(separator);
}

export function bodyBytes(body: BodyPlan): Buffer {
  switch (body.kind) {
    case 'none':
      return Buffer.alloc(0);
    case 'json':
    case 'raw':
      return chunksToBuffer(body.chunks);
    case 'form':
      return Buffer.from(encodePairs(body.pairs, body.separator), 'latin1');
    case 'multipart': {
      const { boundary, lineEnd: end } = body;
      const pieces: Buffer[] = [];
      for (const part of body.parts) {
        const disposition = `form-data; name="${part.name}"${part.filename === undefined ? '' : `; filename="${part.filename}"`}`;
        const type = part.contentType === undefined ? '' : `Content-Type: ${part.contentType}${end}`;
        pieces.push(Buffer.from(`--${boundary}${end}Content-Disposition: ${disposition}${end}${type}${end}`, 'utf8'));
        pieces.push(chunksToBuffer(part.value), Buffer.from(end));
      }
      if (body.ending === 'close') pieces.push(Buffer.from(`--${boundary}--${end}`));
      if (body.ending === 'garbage') pieces.push(Buffer.from(`--${boundary}-x${end}trailing`));
      const whole = Buffer.concat(pieces);
      return body.cut === undefined ? whole : whole.subarray(0, Math.floor(whole.length * body.cut));
    }
  }
}

/** Every `ref` chunk in a value (a body plan, query pairs), in order. */
export function referencesIn(value: unknown): ValueRef[] {
  const found: ValueRef[] = [];
  substitute(value, (ref) => {
    found.push(ref);
    return '';
  });
  return found;
}

/** The value with every `ref` chunk replaced by the text `write` gives it. */
export function substitute<T>(value: T, write: (ref: ValueRef) => string): T {
  if (Array.isArray(value)) return value.map((item: unknown) => substitute(item, write)) as T;
  if (typeof value !== 'object' || value === null) return value;
  if ('ref' in value) return write((value as { ref: ValueRef }).ref) as T;
  return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, substitute(item, write)])) as T;
}
