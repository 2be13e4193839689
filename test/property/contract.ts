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
  /** Text only its readers may be shown (a user's tasks, a list's name and tasks). */
  secrets: { readers: number[]; secret: string }[];
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
  for (const { readers, secret } of context.secrets) {
    const reader = context.callerId !== undefined && readers.includes(context.callerId);
    if (!reader && text.includes(secret)) problems.push(`data only users ${readers.join(', ')} may read in a reply to someone else`);
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

/**
 * `{"detail": "..."}`, or for a 400 `{"field": ["message", ...]}` with every value a list of
 * messages, or for a refused JWT SimpleJWT's `{"detail", "code", "messages"}`.
 */
function errorShapeProblems(status: number, body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [`a ${status} error that is not an object`];
  const entries = Object.entries(body);
  const isDetail = entries.length === 1 && entries[0]![0] === 'detail' && typeof entries[0]![1] === 'string' && entries[0]![1] !== '';
  if (isDetail) return [];
  if (status === 401 && isTokenRefusal(body as Record<string, unknown>)) return [];
  const isFieldErrors =
    entries.length > 0 &&
    entries.every(([name, messages]) => name !== 'detail' && Array.isArray(messages) && messages.length > 0 && messages.every((m) => typeof m === 'string' && m !== ''));
  if (status === 400 && isFieldErrors) return [];
  return [`a ${status} error not in the contract's shape: ${JSON.stringify(body).slice(0, 200)}`];
}

function isTokenRefusal(body: Record<string, unknown>): boolean {
  const keys = Object.keys(body);
  const known = keys.every((key) => ['detail', 'code', 'messages'].includes(key));
  return known && typeof body.detail === 'string' && body.detail !== '' && body.code === 'token_not_valid' && (body.messages === undefined || Array.isArray(body.messages));
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

type Table = 'users' | 'tasks' | 'auth_tokens' | 'deleted_tasks' | 'lists' | 'list_members';
type Row = Record<string, unknown>;
type ListRole = 'viewer' | 'editor' | 'owner';
const ROLES: ListRole[] = ['viewer', 'editor', 'owner'];
const atLeast = (role: ListRole) => ROLES.slice(0, ROLES.indexOf(role) + 1);

interface StoredRow {
  /**
   * Who may change the row: `user:<id>`, that user; `list:<id>:<role>`, a member of the list
   * with at least that role (its tasks take an editor, the list and its members an owner).
   */
  parties: string[];
  row: Row;
}
export type Snapshot = Record<Table, Map<string, StoredRow>>;

/** Every row of the six tables, keyed by table and id, with who may change it. */
export async function snapshot({ db }: Database): Promise<Snapshot> {
  const keyed = <R extends Row>(rows: R[], key: (row: R) => unknown, parties: (row: R) => string[]) =>
    new Map(rows.map((row) => [String(key(row)), { parties: parties(row), row }]));
  const [users, tasks, tokens, deleted, lists, members] = await Promise.all([
    db.selectFrom('users').selectAll().execute(),
    db.selectFrom('tasks').selectAll().execute(),
    db.selectFrom('auth_tokens').selectAll().execute(),
    // A deleted list's record stands for each task the list held.
    db
      .selectFrom('deleted_tasks')
      .leftJoin('deleted_list_tasks', 'deleted_list_tasks.list_id', 'deleted_tasks.list_id')
      .select((eb) => [
        eb.fn.coalesce('deleted_tasks.task_id', 'deleted_list_tasks.task_id').as('task_id'),
        'deleted_tasks.owner_id',
        'deleted_tasks.deleted_at',
        'deleted_tasks.change_id',
      ])
      .execute(),
    db.selectFrom('lists').selectAll().execute(),
    db.selectFrom('list_members').selectAll().execute(),
  ]);
  return {
    users: keyed(users, (row) => row.id, (row) => [`user:${row.id}`]),
    tasks: keyed(tasks, (row) => row.id, (row) => (row.list_id === null ? [`user:${row.owner_id}`] : [`list:${row.list_id}:editor`])),
    auth_tokens: keyed(tokens, (row) => row.id, (row) => [`user:${row.user_id}`]),
    // Several records of one task for one user may be kept; the change id tells them apart.
    deleted_tasks: keyed(deleted, (row) => `${row.task_id}:${row.owner_id}:${row.change_id}`, (row) => [`user:${row.owner_id}`]),
    lists: keyed(lists, (row) => row.id, (row) => [`list:${row.id}:owner`]),
    list_members: keyed(members, (row) => `${row.list_id}:${row.user_id}`, (row) => [`list:${row.list_id}:owner`]),
  };
}

/** A session's use moves these; nothing else about a request that was refused may change. */
const TOUCH_COLUMNS = ['last_used_at', 'expires_at'];
/** What clearing a user from a task (they left the list, their account went) changes. */
const HANDOVER_COLUMNS = ['assignee_id', 'owner_id', 'updated_at', 'change_id'];

export interface WriteContext {
  method: string;
  status: number;
  /** The stored session the request presented (its use may be recorded, whatever the reply). */
  session?: { userId: number; sessionId: number };
  /** The user a successful login in this request signed in. */
  loggedInUserId?: number;
}

/**
 * Only a successful write may change rows, and only rows its caller may change: their own
 * (or those of the account a sign-up created), and in the lists they were in, the tasks if
 * they edit it and the list and its members if they own it (or a list they just created).
 * Whoever sees a task that is deleted or leaves their view may get a deletion record for it.
 * A member may end their own membership (leave), which clears their assignments in the list,
 * and a departing account hands its tasks in lists over. A refused request, a read, or a request
 * by someone else changes nothing, except that using a session may record its use.
 */
export function writeProblems(before: Snapshot, after: Snapshot, context: WriteContext): string[] {
  const write = context.status >= 200 && context.status < 300 && !SAFE_METHODS.has(context.method.toUpperCase());
  const caller = write ? context.session?.userId : undefined;
  const permitted = new Set<string>();
  if (write) {
    const users = new Set<number>();
    if (caller !== undefined) users.add(caller);
    if (context.loggedInUserId !== undefined) users.add(context.loggedInUserId);
    for (const id of after.users.keys()) if (!before.users.has(id)) users.add(Number(id));
    for (const user of users) permitted.add(`user:${user}`);
    const memberships = [
      ...[...before.list_members.values()].map(({ row }) => row),
      // A list the request created: its creator owns it.
      ...[...after.list_members.values()].map(({ row }) => row).filter((row) => !before.lists.has(String(row.list_id))),
    ];
    for (const row of memberships) {
      if (Number(row.user_id) !== caller) continue;
      for (const role of atLeast(row.role as ListRole)) permitted.add(`list:${row.list_id}:${role}`);
    }
  }
  const partiesOf = (table: Table, stored: StoredRow): string[] => {
    if (table !== 'deleted_tasks') return stored.parties;
    // A deletion record is written by whoever could change the task it is about.
    return [...stored.parties, ...(before.tasks.get(String(stored.row.task_id))?.parties ?? [])];
  };
  const allowed = (table: Table, stored: StoredRow | undefined) => stored === undefined || partiesOf(table, stored).some((party) => permitted.has(party));

  const problems: string[] = [];
  for (const table of Object.keys(before) as Table[]) {
    const keys = new Set([...before[table].keys(), ...after[table].keys()]);
    for (const key of keys) {
      const old = before[table].get(key);
      const now = after[table].get(key);
      const changed = changedColumns(old?.row, now?.row);
      if (changed.length === 0) continue;
      if (allowed(table, old) && allowed(table, now)) continue;
      const touched = table === 'auth_tokens' && old && now && String(context.session?.sessionId) === key && changed.every((column) => TOUCH_COLUMNS.includes(column));
      if (touched) continue;
      if (caller !== undefined && ownDeparture(table, old?.row, now?.row, changed, caller)) continue;
      const what = !old ? 'added' : !now ? 'removed' : `changed (${changed.join(', ')})`;
      problems.push(`${table} row ${key} of ${partiesOf(table, (old ?? now)!).join(' or ')} ${what} by a ${context.method} answered ${context.status}`);
    }
  }
  return problems;
}

/**
 * What a successful request changes of a list the caller may not otherwise change, when they
 * leave it or their account goes: their membership row goes, and the list's tasks that were
 * assigned to them or that they created lose them (and their `updated_at` moves).
 */
function ownDeparture(table: Table, old: Row | undefined, now: Row | undefined, changed: string[], caller: number): boolean {
  if (table === 'list_members') return old !== undefined && now === undefined && Number(old.user_id) === caller;
  if (table !== 'tasks' || old === undefined || now === undefined) return false;
  if (!changed.every((column) => HANDOVER_COLUMNS.includes(column))) return false;
  const unassigned = !changed.includes('assignee_id') || (Number(old.assignee_id) === caller && now.assignee_id === null);
  const handedOver = !changed.includes('owner_id') || Number(old.owner_id) === caller;
  return (changed.includes('assignee_id') || changed.includes('owner_id')) && unassigned && handedOver;
}

/**
 * A deletion record is written for a user exactly when a task leaves their view (deleted, moved
 * where they cannot see it, its list deleted or left): one for each task a user who is still
 * there saw before the request and does not see after it, and no other.
 */
export function departureProblems(before: Snapshot, after: Snapshot, context: { method: string; status: number }): string[] {
  const seen = (snapshot: Snapshot) => {
    const members = new Map<string, string[]>();
    for (const { row } of snapshot.list_members.values()) members.set(String(row.list_id), [...(members.get(String(row.list_id)) ?? []), String(row.user_id)]);
    const pairs = new Set<string>();
    for (const { row } of snapshot.tasks.values()) {
      const viewers = row.list_id === null ? [String(row.owner_id)] : (members.get(String(row.list_id)) ?? []);
      for (const viewer of viewers) pairs.add(`${row.id}:${viewer}`);
    }
    return pairs;
  };
  const [was, is] = [seen(before), seen(after)];
  const lost = new Set([...was].filter((pair) => !is.has(pair) && after.users.has(pair.split(':')[1]!)));
  const recorded = new Set([...after.deleted_tasks.keys()].filter((key) => !before.deleted_tasks.has(key)).map((key) => key.split(':').slice(0, 2).join(':')));
  const problems: string[] = [];
  for (const pair of recorded) {
    if (!lost.has(pair)) problems.push(`a deletion record of task ${pair.replace(':', ' for user ')}, whose view it did not leave, by a ${context.method} answered ${context.status}`);
  }
  for (const pair of lost) {
    if (!recorded.has(pair)) problems.push(`task ${pair.replace(':', ' left the view of user ')} without a deletion record, by a ${context.method} answered ${context.status}`);
  }
  return problems;
}

function changedColumns(old: Row | undefined, now: Row | undefined): string[] {
  if (!old || !now) return old === now ? [] : ['*'];
  return Object.keys({ ...old, ...now }).filter((column) => JSON.stringify(old[column]) !== JSON.stringify(now[column]));
}

/** What the spec says about the object a request's path names, for its caller and method. */
export interface Access {
  /** Whether the caller sees the object (task, list, member); undefined when the path names none, or no one called. */
  visible?: boolean;
  /** The caller sees it, but their role is too low for the method: 403, and never a success. */
  forbidden: boolean;
  /**
   * A task write whose body may name a place the caller may not put it: a list they only view,
   * or (for someone else's task in a list) their personal tasks. 403 is then acceptable too.
   */
  bodyMayForbid: boolean;
  /** A login or sign-up in cookie mode, which a browser's untrusted page gets `403 CSRF Failed: …` for. */
  csrfMayRefuse?: boolean;
}

export interface AccessRequest {
  /** The path the server routes (routedPath). */
  path: string;
  method: string;
  callerId?: number;
  /** The body's bytes, as Latin-1 text. */
  body: string;
}

/**
 * The route of routes.ts a path reaches, with its ids as written: a missing trailing slash is
 * ignored, as the router ignores it, and a static route wins over one with an id.
 */
export function routeOfPath(path: string, routes: readonly { path: string }[]): { route: string; ids: Record<string, string> } | undefined {
  const segments = (text: string) => text.replace(/^\//, '').replace(/\/$/, '').split('/');
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  };
  const sent = segments(path);
  const matches = routes.flatMap(({ path: pattern }) => {
    const parts = segments(pattern);
    if (parts.length !== sent.length) return [];
    const ids: Record<string, string> = {};
    for (const [index, part] of parts.entries()) {
      if (part.startsWith(':')) ids[part.slice(1)] = sent[index]!;
      else if (decode(sent[index]!) !== part) return [];
    }
    return [{ route: pattern, ids }];
  });
  return matches.sort((a, b) => Object.keys(a.ids).length - Object.keys(b.ids).length)[0];
}

const WRITES = new Set(['PUT', 'PATCH', 'DELETE']);

/**
 * The spec's answer (lists-spec.md) from the rows as they were before the request, for the
 * routes whose order of outcomes it states: lists, their members, tasks and sessions.
 */
export function accessOf(before: Snapshot, request: AccessRequest, routes: readonly { path: string }[]): Access {
  const none: Access = { forbidden: false, bodyMayForbid: false };
  const caller = request.callerId;
  const routed = routeOfPath(request.path, routes);
  if (routed?.route === '/dj-rest-auth/login/' || routed?.route === '/dj-rest-auth/registration/') return { ...none, csrfMayRefuse: true };
  if (caller === undefined || routed === undefined) return none;
  const method = request.method.toUpperCase();
  const roleIn = (listId: unknown): ListRole | undefined => before.list_members.get(`${Number(listId)}:${caller}`)?.row.role as ListRole | undefined;
  const id = pathNumber(routed.ids.id);
  const hidden: Access = { visible: false, forbidden: false, bodyMayForbid: false };
  const namesList = request.body.includes('list');
  const viewerLists = [...before.list_members.values()].filter(({ row }) => Number(row.user_id) === caller && row.role === 'viewer').map(({ row }) => Number(row.list_id));
  const mentionsViewerList = namesList && numbersIn(request.body).some((number) => viewerLists.includes(number));

  switch (routed.route) {
    case '/api/tasks/':
      return { forbidden: false, bodyMayForbid: method === 'POST' && mentionsViewerList };
    case '/api/tasks/:id/': {
      const task = id === undefined ? undefined : before.tasks.get(String(id))?.row;
      if (task === undefined) return hidden;
      const inList = task.list_id !== null;
      const role = inList ? roleIn(task.list_id) : undefined;
      if (inList ? role === undefined : Number(task.owner_id) !== caller) return hidden;
      const othersTask = inList && Number(task.owner_id) !== caller;
      return {
        visible: true,
        forbidden: WRITES.has(method) && role === 'viewer',
        bodyMayForbid: (method === 'PUT' || method === 'PATCH') && (mentionsViewerList || (othersTask && namesList)),
      };
    }
    case '/api/lists/:id/':
    case '/api/lists/:id/members/':
    case '/api/lists/:id/members/:user_id/': {
      const role = id === undefined ? undefined : roleIn(id);
      if (role === undefined) return hidden;
      if (routed.route === '/api/lists/:id/') return { visible: true, forbidden: WRITES.has(method) && role !== 'owner', bodyMayForbid: false };
      if (routed.route === '/api/lists/:id/members/') return { visible: true, forbidden: method === 'POST' && role !== 'owner', bodyMayForbid: false };
      const userId = pathNumber(routed.ids.user_id);
      if (userId === undefined || !before.list_members.has(`${id}:${userId}`)) return hidden;
      // Anyone may leave; only an owner changes or removes someone else.
      const forbidden = role !== 'owner' && (method === 'PATCH' || (method === 'DELETE' && userId !== caller));
      return { visible: true, forbidden, bodyMayForbid: false };
    }
    case '/api/admin/users/':
    case '/api/admin/users/:id/':
    case '/api/admin/users/:id/deactivate/':
    case '/api/admin/users/:id/reactivate/':
    case '/api/admin/users/:id/revoke-sessions/':
    case '/api/admin/totals/':
    case '/api/admin/audit/':
    {
      // The fixture's users are not staff: whatever the id, 403 for every method the route handles.
      const handled = (routes.find((route) => route.path === routed.route) as { methods?: string[] } | undefined)?.methods ?? [];
      const forbidden = handled.includes(method) || (method === 'HEAD' && handled.includes('GET'));
      return { visible: true, forbidden, bodyMayForbid: false };
    }
    case '/api/sessions/:id/': {
      const session = id === undefined ? undefined : before.auth_tokens.get(String(id))?.row;
      return session !== undefined && Number(session.user_id) === caller ? { visible: true, forbidden: false, bodyMayForbid: false } : hidden;
    }
    default:
      return none;
  }
}

/** A path's id as the server reads it: decoded, then 1 to 16 digits naming a positive safe integer. */
function pathNumber(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    return undefined;
  }
  if (!/^\d{1,16}$/.test(decoded)) return undefined;
  const number = Number(decoded);
  return number >= 1 && Number.isSafeInteger(number) ? number : undefined;
}

/** Every run of digits in a body, as written and percent-decoded: any of them may be an id. */
function numbersIn(body: string): number[] {
  const decoded = body.replace(/\+/g, ' ').replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return [...`${body} ${decoded}`.matchAll(/\d+/g)].map((match) => Number(match[0]));
}

const FORBIDDEN = JSON.stringify({ detail: 'You do not have permission to perform this action.' });

/**
 * 403 where the spec has it and nowhere else, always in its words; never a success for a
 * request the caller's role does not allow. When nothing else can come first (`direct`: the
 * caller's own token, a method the route handles, an id that names an object, no path change
 * or unusual header), the object decides: 404 if the caller does not see it, 403 if their role
 * is too low, before any precondition or body error.
 */
export function accessProblems(reply: Reply, access: Access, context: { method: string; direct: boolean }): string[] {
  const problems: string[] = [];
  const { status } = reply;
  const csrfRefusal = access.csrfMayRefuse === true && /^\{"detail":"CSRF Failed: [^"]+"\}$/.test(canonicalJson(reply.body) ?? '');
  if (status === 403 && !csrfRefusal) {
    if (!access.forbidden && !access.bodyMayForbid) problems.push('a 403 where the spec has none (the caller may do this, or the object is not theirs to see)');
    if (context.method.toUpperCase() !== 'HEAD' && canonicalJson(reply.body) !== FORBIDDEN) problems.push(`a 403 other than ${FORBIDDEN}`);
  }
  if (access.forbidden && status >= 200 && status < 300) problems.push(`a ${status} for a ${context.method} the caller's role does not allow (403)`);
  if (context.direct) {
    if (access.visible === false && status !== 404) problems.push(`a ${status} for an object the caller does not see, where 404 comes first`);
    else if (access.forbidden && status !== 403) problems.push(`a ${status} where 403 comes first (the caller sees the object, their role is too low)`);
  }
  return problems;
}

function canonicalJson(body: Buffer): string | undefined {
  const parsed = parseJson(body);
  return parsed === undefined ? undefined : JSON.stringify(parsed.value);
}
