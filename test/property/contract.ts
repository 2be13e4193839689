import type { Database } from '../../src/db/database.js';
import type { Reply } from './wire.js';

/** The headers every reply carries (src/http/front-door.ts), written out as the contract states them. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};
const ALLOWED_ORIGINS = ['http://localhost:3000', 'http://localhost:3001'];
const ALLOWED_HOSTNAMES = ['localhost', '127.0.0.1', '[::1]'];
/** Methods that read: whatever they answer, nothing may change. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'REPORT', 'QUERY']);
const JSON_TYPE = /^application\/json; charset=utf-8$/i;

export interface ReplyContext {
  method: string;
  /** The request's headers, lower-case names. */
  headers: [string, string][];
  /** The route serves documents (HTML, scripts) when it succeeds. */
  servesDocuments: boolean;
  /** The path is exactly one of the API's URLs (no id in it) and the method one it has no handler for: 405, not 404. */
  unhandledMethodOnKnownUrl: boolean;
  /**
   * The request could be parsed as HTTP (no wire-level damage, headers within the limit): only
   * then can the server know its Origin and echo it.
   */
  parsed: boolean;
  /** The user the request was authenticated as, if any. */
  callerId?: number;
  secrets: { userId: number; secret: string }[];
}

const header = (reply: Reply, name: string) => {
  const value = reply.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

/** Everything about one reply that breaks the contract, in words. */
export function replyProblems(reply: Reply, context: ReplyContext): string[] {
  const problems: string[] = [];
  const { status } = reply;
  if (!(status >= 200 && status < 500)) problems.push(status >= 500 ? `a server error (${status})` : `not a final HTTP status (${status})`);
  const method = context.method.toUpperCase();
  const text = reply.body.toString('utf8');
  const documents = context.servesDocuments && status < 400;

  if (method === 'HEAD' || status === 204 || status === 304) {
    if (reply.body.length > 0) problems.push(`a ${status} reply to ${method} has a body`);
  } else if (reply.body.length === 0) {
    const preflight = method === 'OPTIONS' && context.headers.some(([name]) => name === 'access-control-request-method');
    if (status >= 400) problems.push(`a ${status} reply without a body`);
    else if (status === 200 && !preflight && !documents) problems.push('a 200 reply without a body');
  } else if (!documents) {
    const type = header(reply, 'content-type') ?? '';
    if (!JSON_TYPE.test(type)) problems.push(`content-type ${JSON.stringify(type)}, not application/json; charset=utf-8`);
    const body = parseJson(reply.body);
    if (body === undefined) problems.push('a body that is not JSON');
    else if (status >= 400) problems.push(...errorShapeProblems(status, body.value));
    else problems.push(...linkProblems(body.value));
  }

  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    const sent = header(reply, name);
    if (sent === undefined) problems.push(`no ${name} header`);
    // The docs page sets its own content security policy, for its errors too.
    else if (sent !== value && !(context.servesDocuments && name === 'content-security-policy')) problems.push(`${name}: ${sent}`);
  }
  if (!/(^|,)\s*origin\s*(,|$)/i.test(header(reply, 'vary') ?? '')) problems.push('no Vary: Origin');
  problems.push(...corsProblems(reply, context));
  if (status === 404 && context.unhandledMethodOnKnownUrl) problems.push(`404 for ${method} on a URL that exists (405 with Allow, or 401 first)`);
  if (status === 401 && header(reply, 'www-authenticate') !== 'Token') problems.push('a 401 without WWW-Authenticate: Token');
  if (status === 405 && !header(reply, 'allow')) problems.push('a 405 without Allow');
  if (status === 429 && !/^\d+$/.test(header(reply, 'retry-after') ?? '')) problems.push('a 429 without Retry-After');
  const location = header(reply, 'location');
  if (location !== undefined && !onAllowedHost(location)) problems.push(`a redirect off the allowed hosts: ${location}`);
  if (/\n\s+at .+:\d+|node_modules|\/src\/|\.ts:\d+/.test(text)) problems.push('a stack trace or source path in the reply');
  for (const { userId, secret } of context.secrets) {
    if (userId !== context.callerId && text.includes(secret)) problems.push(`user ${userId}'s data in a reply to someone else`);
  }
  return problems;
}

function parseJson(body: Buffer): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) };
  } catch {
    return undefined;
  }
}

/** `{"detail": "..."}`, or for a 400 `{"field": ["message", ...]}` with every value a list of messages. */
function errorShapeProblems(status: number, body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [`a ${status} error that is not an object`];
  const entries = Object.entries(body);
  const isDetail = entries.length === 1 && entries[0]![0] === 'detail' && typeof entries[0]![1] === 'string' && entries[0]![1] !== '';
  if (isDetail) return [];
  const isFieldErrors =
    entries.length > 0 &&
    entries.every(([name, messages]) => name !== 'detail' && Array.isArray(messages) && messages.length > 0 && messages.every((m) => typeof m === 'string' && m !== ''));
  if (status === 400 && isFieldErrors) return [];
  return [`a ${status} error not in the contract's shape: ${JSON.stringify(body).slice(0, 200)}`];
}

function corsProblems(reply: Reply, context: ReplyContext): string[] {
  const origins = context.headers.filter(([name]) => name === 'origin').map(([, value]) => value);
  const allowOrigin = header(reply, 'access-control-allow-origin');
  if (!context.parsed) return [];
  if (origins.length !== 1) return allowOrigin === undefined ? [] : [`Access-Control-Allow-Origin ${allowOrigin} for ${origins.length} origins`];
  const [origin] = origins as [string];
  if (!ALLOWED_ORIGINS.includes(origin)) return allowOrigin === undefined ? [] : [`Access-Control-Allow-Origin ${allowOrigin} for disallowed origin ${origin}`];
  if (allowOrigin !== origin) return [`allowed origin ${origin} not echoed (${allowOrigin})`];
  // Browser clients make conditional requests: preflights allow the headers, replies expose the tag.
  const problems: string[] = [];
  const preflight = context.method.toUpperCase() === 'OPTIONS' && context.headers.some(([name]) => name === 'access-control-request-method');
  const allowed = (header(reply, 'access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
  if (preflight && !(allowed.includes('if-match') && allowed.includes('if-none-match'))) problems.push(`a preflight that does not allow If-Match and If-None-Match (${allowed.join(', ')})`);
  const exposed = (header(reply, 'access-control-expose-headers') ?? '').toLowerCase().split(/\s*,\s*/);
  if (header(reply, 'etag') !== undefined && !exposed.includes('etag')) problems.push('an ETag not exposed to the allowed origin');
  return problems;
}

/** Absolute links in a reply (the root's, pagination's) point at an allowed host, never elsewhere. */
function linkProblems(body: unknown): string[] {
  const links: string[] = [];
  const visit = (value: unknown): void => {
    if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:/i.test(value) && value.includes('/')) links.push(value);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'object' && value !== null) Object.values(value).forEach(visit);
  };
  visit(body);
  return links.filter((link) => !onAllowedHost(link)).map((link) => `a link off the allowed hosts: ${link}`);
}

function onAllowedHost(reference: string): boolean {
  let url: URL;
  try {
    url = new URL(reference, 'http://127.0.0.1/');
  } catch {
    return false;
  }
  // `localhost.` is `localhost` written as a fully qualified name.
  const hostname = url.hostname.replace(/\.$/, '');
  return ['http:', 'https:'].includes(url.protocol) && url.username === '' && url.password === '' && ALLOWED_HOSTNAMES.includes(hostname);
}

type Table = 'users' | 'tasks' | 'auth_tokens' | 'deleted_tasks';
interface StoredRow {
  owner: number;
  row: Record<string, unknown>;
}
export type Snapshot = Record<Table, Map<string, StoredRow>>;

/** Every row of the four tables, keyed by table and id, with the user each belongs to. */
export async function snapshot({ db }: Database): Promise<Snapshot> {
  const keyed = <R extends Record<string, unknown>>(rows: R[], key: (row: R) => unknown, owner: (row: R) => number) =>
    new Map(rows.map((row) => [String(key(row)), { owner: owner(row), row }]));
  const [users, tasks, tokens, deleted] = await Promise.all([
    db.selectFrom('users').selectAll().execute(),
    db.selectFrom('tasks').selectAll().execute(),
    db.selectFrom('auth_tokens').selectAll().execute(),
    db.selectFrom('deleted_tasks').selectAll().execute(),
  ]);
  return {
    users: keyed(users, (row) => row.id, (row) => row.id),
    tasks: keyed(tasks, (row) => row.id, (row) => row.owner_id),
    auth_tokens: keyed(tokens, (row) => row.id, (row) => row.user_id),
    deleted_tasks: keyed(deleted, (row) => row.task_id, (row) => row.owner_id),
  };
}

/** A session's use moves these; nothing else about a request that was refused may change. */
const TOUCH_COLUMNS = ['last_used_at', 'expires_at'];

export interface WriteContext {
  method: string;
  status: number;
  /** The stored session the request presented (its use may be recorded, whatever the reply). */
  session?: { userId: number; sessionId: number };
  /** The user a successful login in this request signed in. */
  loggedInUserId?: number;
}

/**
 * Only a successful write may change rows, and only the rows of the user who made it (or the
 * account a sign-up created). A refused request, a read, or a request by someone else changes
 * nothing, except that using a session may record its use.
 */
export function writeProblems(before: Snapshot, after: Snapshot, context: WriteContext): string[] {
  const write = context.status >= 200 && context.status < 300 && !SAFE_METHODS.has(context.method.toUpperCase());
  const owners = new Set<number>();
  if (write) {
    if (context.session) owners.add(context.session.userId);
    if (context.loggedInUserId !== undefined) owners.add(context.loggedInUserId);
    for (const id of after.users.keys()) if (!before.users.has(id)) owners.add(Number(id));
  }
  const problems: string[] = [];
  for (const table of Object.keys(before) as Table[]) {
    const keys = new Set([...before[table].keys(), ...after[table].keys()]);
    for (const key of keys) {
      const old = before[table].get(key);
      const now = after[table].get(key);
      const changed = changedColumns(old?.row, now?.row);
      if (changed.length === 0) continue;
      const owner = (old ?? now)!.owner;
      if (owners.has(owner)) continue;
      const touched = table === 'auth_tokens' && old && now && String(context.session?.sessionId) === key && changed.every((column) => TOUCH_COLUMNS.includes(column));
      if (touched) continue;
      const what = !old ? 'added' : !now ? 'removed' : `changed (${changed.join(', ')})`;
      problems.push(`${table} row ${key} of user ${owner} ${what} by a ${context.method} answered ${context.status}`);
    }
  }
  return problems;
}

function changedColumns(old: Record<string, unknown> | undefined, now: Record<string, unknown> | undefined): string[] {
  if (!old || !now) return old === now ? [] : ['*'];
  return Object.keys({ ...old, ...now }).filter((column) => JSON.stringify(old[column]) !== JSON.stringify(now[column]));
}
