import http from 'node:http';
import type { Fixture } from './fixture.js';
import {
  bodyBytes,
  chunksToText,
  encodePairs,
  referencesIn,
  substitute,
  type IdRef,
  type ObjectRef,
  type PathMutation,
  type RequestPlan,
  type TagRef,
  type UserRef,
  type ValueRef,
} from './plan.js';
import type { RouteSpec } from './routes.js';
import { viaHttp, viaInject, viaSocket, type Outcome, type WireRequest } from './wire.js';

/** A token no session has, in the original's format. */
const FORGED_TOKEN = '0123456789abcdef0123456789abcdef01234567';

/** What a request turned into once the fixture named its tokens and ids. */
export interface Resolved {
  wire: WireRequest;
  /** The stored session the Authorization header presents, if it is one of an active user. */
  session?: { userId: number; sessionId: number };
  server: Fixture['direct'];
  /** Whether the path's ids were named (an object's, a user's) rather than literal text. */
  namedIds: boolean;
}

export async function resolve(fixture: Fixture, plan: RequestPlan, route: RouteSpec): Promise<Resolved> {
  const id = await resolveId(fixture, plan.id, route);
  const userId = plan.userId === undefined ? undefined : await resolveUser(fixture, plan.userId);
  const references = new Map<string, string>();
  for (const ref of referencesIn([plan.body, plan.query])) {
    const key = JSON.stringify(ref);
    if (!references.has(key)) references.set(key, await referenceText(fixture, ref));
  }
  const written = (ref: ValueRef) => references.get(JSON.stringify(ref))!;
  const [body, query] = [substitute(plan.body, written), substitute(plan.query, written)];
  // Latin-1 text from here on: one character per byte of the request line.
  const filled = route.path.replace(/:user_id\b/g, userId ?? '').replace(/:\w+/g, id.text);
  let path = latin1(mutate(filled, plan.mutation));
  if (query.length > 0) path += `?${encodePairs(query)}`;

  const headers: [string, string][] = [];
  let session: Resolved['session'];
  if (plan.authorization) {
    const { scheme, separator, token, suffix } = plan.authorization;
    const key = typeof token === 'string' ? latin1(tokenOf(fixture, token)) : chunksToText(token.literal);
    headers.push(['authorization', `${latin1(scheme + separator)}${key}${latin1(suffix)}`]);
    session = typeof token === 'string' ? await fixture.sessionOf(key) : undefined;
  }
  const tag = async (ref: TagRef) =>
    ref === 'current' ? ((id.taskId === undefined ? undefined : await fixture.currentTag(id.taskId)) ?? '"0-0"') : ref === 'stale' ? `"${id.taskId ?? 0}-20000101000000000000"` : ref.literal;
  if (plan.ifMatch !== undefined) headers.push(['if-match', await tag(plan.ifMatch)]);
  if (plan.ifNoneMatch !== undefined) headers.push(['if-none-match', await tag(plan.ifNoneMatch)]);
  if (plan.contentType !== undefined) headers.push(['content-type', plan.contentType]);
  for (const [name, value] of plan.headers) headers.push([name, chunksToText(value)]);

  const server = plan.server === 'direct' ? fixture.direct : fixture.proxied;
  const namedIds = !(route.path.includes(':id') && 'literal' in plan.id) && !(plan.userId !== undefined && 'literal' in plan.userId);
  return { wire: { method: plan.method, target: path, headers, body: bodyBytes(body), framing: plan.framing }, session, server, namedIds };
}

function tokenOf(fixture: Fixture, token: 'alice' | 'bob' | 'revoked' | 'inactive' | 'forged'): string {
  if (token === 'revoked') return fixture.revokedToken;
  if (token === 'forged') return FORGED_TOKEN;
  return fixture.userOf(token).token;
}

async function resolveId(fixture: Fixture, ref: IdRef, route: RouteSpec): Promise<{ text: string; taskId?: number }> {
  if ('literal' in ref) return { text: ref.literal };
  if (route.id === 'list') return { text: String(await listId(fixture, ref)) };
  // A place names a list's task (sessions are only ever named by whose they are).
  if ('in' in ref) {
    const taskId = pick(await fixture.listTaskIds(fixture.lists[ref.in].id), ref) ?? 1_000_000;
    return { text: String(taskId), taskId };
  }
  const user = fixture.userOf(ref.of);
  if (route.id === 'session') {
    const ids = await fixture.sessionIds(user.id);
    return { text: String(ref.which === 'live' && ids.length > 0 ? ids[0] : (ids.at(-1) ?? 0) + 1_000_000) };
  }
  const ids = ref.which === 'live' ? await fixture.visibleTaskIds(user.id) : await fixture.deletedTaskIds(user.id);
  const taskId = pick(ids, ref) ?? 1_000_000;
  return { text: String(taskId), taskId };
}

/** A shared list; one of the lists a user belongs to; or one that is gone. */
async function listId(fixture: Fixture, ref: ObjectRef): Promise<number> {
  if ('in' in ref) return fixture.lists[ref.in].id;
  const ids = ref.which === 'live' ? await fixture.listIds(fixture.userOf(ref.of).id) : fixture.deletedListIds;
  return pick(ids, ref) ?? 1_000_000;
}

const pick = (ids: number[], ref: ObjectRef) => ids[(ref.nth ?? 0) % Math.max(1, ids.length)];

async function resolveUser(fixture: Fixture, ref: UserRef): Promise<string> {
  return 'literal' in ref ? ref.literal : String(await fixture.userIdOf(ref.user));
}

async function referenceText(fixture: Fixture, ref: ValueRef): Promise<string> {
  return String('list' in ref ? await listId(fixture, ref.list) : await fixture.userIdOf(ref.user));
}

function mutate(path: string, mutation: PathMutation): string {
  switch (mutation) {
    case 'none':
      return path;
    case 'no-trailing-slash':
      return path.replace(/\/$/, '');
    case 'double-trailing-slash':
      return `${path}/`;
    case 'double-slash-inside':
      return path.replace(/^(\/[^/]+)\//, '$1//');
    case 'leading-double-slash':
      return `/${path}`;
    case 'upper-case':
      return path.toUpperCase();
    case 'extra-segment':
      return `${path}${path.endsWith('/') ? '' : '/'}extra/`;
    case 'dot-segment':
      return `/api/..${path}`;
    case 'encoded-slash':
      return path.replace(/\/(?=[^/]+\/?$)/, '%2F');
    case 'encoded-letter':
      return path.replace(/[a-z]/, (letter) => `%${letter.charCodeAt(0).toString(16)}`);
    case 'semicolon':
      return `${path};jsessionid=1`;
    case 'absolute-url':
      return `http://evil.com${path}`;
    case 'backslash':
      return path.replace(/\/$/, '\\');
    case 'fragment':
      return `${path}#top`;
    case 'empty-query':
      return `${path}?`;
  }
}

const latin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/**
 * The transport that can carry the request: the injector takes only the methods Node knows and
 * paths it can parse; Node's client has its own meaning for CONNECT, refuses lower-case methods
 * and sends one Host.
 */
export function transportOf(plan: RequestPlan): RequestPlan['transport'] {
  if (plan.method === 'CONNECT' || plan.method !== plan.method.toUpperCase()) return 'raw';
  let transport = plan.transport;
  if (transport === 'inject' && (!http.METHODS.includes(plan.method) || plan.mutation === 'backslash')) transport = 'http';
  if (transport === 'http' && plan.headers.filter(([name]) => name === 'host').length > 1) transport = 'raw';
  // A reply to HEAD has no body, but a server that could not parse the request cannot know it
  // was HEAD; Node's client then takes that body for garbage, where a raw read stops at the head.
  if (transport === 'http' && plan.method === 'HEAD') transport = 'raw';
  return transport;
}

/** A target Node's client and the injector accept: anything outside visible ASCII is escaped. */
function safeTarget(target: string): string {
  return Array.from(Buffer.from(target, 'latin1'))
    .map((byte) => (byte > 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

/** The target as the injector is given it: escaped, and a path. */
const injectedTarget = (wire: WireRequest) => safeTarget(wire.target.startsWith('/') ? wire.target : `/${wire.target}`);

/**
 * The path the server's router is given. The injector resolves its URL as a browser would (so
 * `/a/%2e%2e/b` is `/b`), while a socket carries the target as it was written.
 */
export function routedPath(plan: RequestPlan, wire: WireRequest): string {
  const transport = transportOf(plan);
  if (transport === 'inject') {
    const target = injectedTarget(wire);
    try {
      // As light-my-request reads it (lib/parse-url.js).
      return new URL(target.startsWith('//') ? `http://localhost${target}` : target, 'http://localhost').pathname;
    } catch {
      return target;
    }
  }
  return (transport === 'http' ? safeTarget(wire.target) : wire.target).split(/[?#]/)[0]!;
}

export async function send(plan: RequestPlan, resolved: Resolved): Promise<Outcome> {
  const { wire, server } = resolved;
  const transport = transportOf(plan);
  if (transport === 'inject') return viaInject(server.app, { ...wire, target: injectedTarget(wire) });
  if (transport === 'http') return viaHttp(server.port, { ...wire, target: safeTarget(wire.target) });
  return viaSocket(server.port, rawRequest(plan, wire, server.port), wire.method);
}

/** The request's bytes, with the raw-socket tweak of the plan applied. */
function rawRequest(plan: RequestPlan, wire: WireRequest, port: number): Buffer {
  const tweak = transportOf(plan) === 'raw' ? plan.tweak : 'none';
  const method = tweak === 'lower-case-method' ? wire.method.toLowerCase() : wire.method;
  const version = tweak === 'http-1.0' ? ' HTTP/1.0' : tweak === 'http-0.9' ? '' : ' HTTP/1.1';
  const lines = [`${method} ${wire.target}${version}`];
  const hasHost = wire.headers.some(([name]) => name === 'host');
  if (!hasHost && tweak !== 'no-host') lines.push(`Host: 127.0.0.1:${port}`);
  if (tweak === 'duplicate-host') lines.push('Host: evil.com');
  for (const [name, value] of wire.headers) {
    if (tweak === 'no-host' && name === 'host') continue;
    lines.push(`${name}${tweak === 'space-before-colon' ? ' ' : ''}: ${value}`);
    if (tweak === 'duplicate-authorization' && name === 'authorization') lines.push(`${name}: Token ${FORGED_TOKEN}`);
  }
  lines.push('Connection: close');
  if (tweak === 'obs-fold') lines.push('X-Folded: first', ' continued');
  if (tweak === 'control-byte-in-header') lines.push('X-Control: a\u0001b\u007f');
  if (tweak === 'huge-header') lines.push(`X-Huge: ${'h'.repeat(70_000)}`);
  const chunked = wire.framing === 'chunked' && wire.body.length > 0;
  if (chunked || tweak === 'length-and-chunked') lines.push('Transfer-Encoding: chunked');
  // An unframed body is, to the server, the start of a second, pipelined request.
  if ((!chunked || tweak === 'length-and-chunked') && tweak !== 'unframed-body') {
    if (tweak === 'bad-content-length') lines.push('Content-Length: 1x');
    else lines.push(`Content-Length: ${wire.body.length}`);
    if (tweak === 'duplicate-content-length') lines.push(`Content-Length: ${wire.body.length + 1}`);
  }
  const end = tweak === 'lf-line-ends' ? '\n' : '\r\n';
  const head = Buffer.from(lines.join(end) + end + end, 'latin1');
  const body = chunked ? Buffer.concat([Buffer.from(`${wire.body.length.toString(16)}\r\n`), wire.body, Buffer.from('\r\n0\r\n\r\n')]) : wire.body;
  const after = tweak === 'bytes-after-body' ? Buffer.from('GET / HTTP/1.1\r\nHost: evil.com\r\n\r\n') : Buffer.alloc(0);
  return Buffer.concat([head, body, after]);
}
