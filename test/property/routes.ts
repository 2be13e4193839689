/**
 * Every route of the API, as the hostile-request property sees it: one entry per URL, saying
 * which methods it handles, whether it needs a session, what its id names, which body fields
 * and query parameters it reads and what kind of value each takes. A new route is one entry
 * here; a documented route that has none is still fuzzed, with generic values (see
 * `routesOf`), so nothing the OpenAPI document lists escapes the property.
 */

/** The kinds of value a field or query parameter takes; each has its own hostile generator. */
export type ValueKind =
  | 'username'
  | 'password'
  | 'email'
  | 'title'
  | 'description'
  | 'date'
  | 'boolean'
  | 'timestamp'
  | 'integer'
  | 'ordering'
  | 'search'
  | 'cursor'
  | 'syncToken'
  | 'listName'
  | 'role'
  | 'listRef'
  | 'userRef'
  | 'text';

/**
 * What a `:id` in the path stands for: ids of this kind are generated for every user. A
 * `:user_id` after it names a user (a member of the list, the caller, or neither): see UserRef.
 */
export type IdKind = 'task' | 'session' | 'list';

export interface RouteSpec {
  path: string;
  /** Methods with a handler; every other method must be answered 405 (or 401 first). */
  methods: string[];
  /** Whether a session token is required (401 comes before everything else but routing). */
  authenticated: boolean;
  id?: IdKind;
  body?: Record<string, ValueKind>;
  query?: Record<string, ValueKind>;
  /** Routes that serve something other than JSON when they succeed (the docs page). */
  servesDocuments?: boolean;
}

const TASK_FIELDS: Record<string, ValueKind> = {
  title: 'title',
  description: 'description',
  due_date: 'date',
  completed: 'boolean',
  // Where the task is and who does it: a list id (or null), a member's user id (or null).
  list: 'listRef',
  assignee: 'userRef',
  // Read-only fields, which must be ignored.
  id: 'integer',
  owner: 'integer',
  created_at: 'timestamp',
  updated_at: 'timestamp',
};

const TASK_LIST_QUERY: Record<string, ValueKind> = {
  completed: 'boolean',
  due_before: 'date',
  due_after: 'date',
  overdue: 'boolean',
  has_due_date: 'boolean',
  search: 'search',
  updated_since: 'timestamp',
  ordering: 'ordering',
  page: 'integer',
  page_size: 'integer',
  limit: 'integer',
  offset: 'integer',
  cursor: 'cursor',
  list: 'listRef',
  assignee: 'userRef',
};

const LIST_FIELDS: Record<string, ValueKind> = {
  name: 'listName',
  description: 'description',
  // Read-only fields, which must be ignored.
  id: 'integer',
  role: 'role',
  member_count: 'integer',
  created_at: 'timestamp',
};

const PAGINATION_QUERY: Record<string, ValueKind> = {
  page: 'integer',
  page_size: 'integer',
  limit: 'integer',
  offset: 'integer',
  cursor: 'cursor',
};

export const ROUTES: RouteSpec[] = [
  { path: '/', methods: ['GET'], authenticated: false },
  { path: '/healthz', methods: ['GET'], authenticated: false },
  { path: '/readyz', methods: ['GET'], authenticated: false },
  { path: '/api/schema/', methods: ['GET'], authenticated: false, servesDocuments: true, query: { format: 'text' } },
  { path: '/api/docs/', methods: ['GET'], authenticated: false, servesDocuments: true },
  { path: '/api/docs/json', methods: ['GET'], authenticated: false, servesDocuments: true },
  { path: '/api/docs/yaml', methods: ['GET'], authenticated: false, servesDocuments: true },
  { path: '/api/docs/static/index.html', methods: ['GET'], authenticated: false, servesDocuments: true },
  { path: '/api/docs/static/swagger-initializer.js', methods: ['GET'], authenticated: false, servesDocuments: true },
  {
    path: '/api/register/',
    methods: ['POST'],
    authenticated: false,
    body: { username: 'username', password: 'password', email: 'email', password_2: 'password', is_staff: 'boolean' },
  },
  { path: '/api/login/', methods: ['POST'], authenticated: false, body: { username: 'username', password: 'password' } },
  { path: '/api/logout/', methods: ['POST'], authenticated: true },
  { path: '/api/logout/all/', methods: ['POST'], authenticated: true },
  {
    path: '/api/user/',
    methods: ['GET', 'PATCH', 'DELETE'],
    authenticated: true,
    body: { email: 'email', current_password: 'password', username: 'username', id: 'integer' },
  },
  {
    path: '/api/user/password/',
    methods: ['POST'],
    authenticated: true,
    body: { current_password: 'password', new_password: 'password' },
  },
  { path: '/dj-rest-auth/password/reset/', methods: ['POST'], authenticated: false, body: { email: 'email' } },
  {
    path: '/dj-rest-auth/password/reset/confirm/',
    methods: ['POST'],
    authenticated: false,
    body: { uid: 'text', token: 'text', new_password1: 'password', new_password2: 'password' },
  },
  { path: '/api/sessions/', methods: ['GET'], authenticated: true },
  { path: '/api/sessions/:id/', methods: ['DELETE'], authenticated: true, id: 'session' },
  { path: '/api/tasks/', methods: ['GET', 'POST'], authenticated: true, body: TASK_FIELDS, query: TASK_LIST_QUERY },
  { path: '/api/tasks/deleted/', methods: ['GET'], authenticated: true, query: { since: 'timestamp' } },
  { path: '/api/tasks/sync/', methods: ['GET'], authenticated: true, query: { token: 'syncToken' } },
  { path: '/api/tasks/:id/', methods: ['GET', 'PUT', 'PATCH', 'DELETE'], authenticated: true, id: 'task', body: TASK_FIELDS },
  // The admin API: none of the fixture's users is staff, so every handled method is a 403.
  { path: '/api/admin/users/', methods: ['GET'], authenticated: true, query: { search: 'search', page: 'integer', page_size: 'integer', limit: 'integer', offset: 'integer' } },
  { path: '/api/admin/users/:id/', methods: ['GET'], authenticated: true, id: 'session' },
  { path: '/api/admin/users/:id/deactivate/', methods: ['POST'], authenticated: true, id: 'session' },
  { path: '/api/admin/users/:id/reactivate/', methods: ['POST'], authenticated: true, id: 'session' },
  { path: '/api/admin/users/:id/revoke-sessions/', methods: ['POST'], authenticated: true, id: 'session' },
  { path: '/api/admin/totals/', methods: ['GET'], authenticated: true },
  { path: '/api/admin/audit/', methods: ['GET'], authenticated: true, query: { page: 'integer', page_size: 'integer' } },
  // Browser sessions (dj-rest-auth's endpoints). Logout answers without credentials too.
  { path: '/dj-rest-auth/login/', methods: ['POST'], authenticated: false, body: { username: 'username', password: 'password', email: 'email' } },
  {
    path: '/dj-rest-auth/registration/',
    methods: ['POST'],
    authenticated: false,
    body: { username: 'username', email: 'email', password1: 'password', password2: 'password' },
  },
  { path: '/dj-rest-auth/logout/', methods: ['POST'], authenticated: false },
  { path: '/dj-rest-auth/token/refresh/', methods: ['POST'], authenticated: false, body: { refresh: 'text' } },
  { path: '/dj-rest-auth/token/verify/', methods: ['POST'], authenticated: false, body: { token: 'text' } },
  {
    path: '/dj-rest-auth/user/',
    methods: ['GET', 'PUT', 'PATCH'],
    authenticated: true,
    // `pk` is read-only and must be ignored.
    body: { username: 'username', email: 'email', first_name: 'text', last_name: 'text', pk: 'integer' },
  },
  {
    path: '/dj-rest-auth/password/change/',
    methods: ['POST'],
    authenticated: true,
    body: { old_password: 'password', new_password1: 'password', new_password2: 'password' },
  },
  { path: '/api/lists/', methods: ['GET', 'POST'], authenticated: true, body: LIST_FIELDS, query: PAGINATION_QUERY },
  { path: '/api/lists/:id/', methods: ['GET', 'PUT', 'PATCH', 'DELETE'], authenticated: true, id: 'list', body: LIST_FIELDS },
  {
    path: '/api/lists/:id/members/',
    methods: ['GET', 'POST'],
    authenticated: true,
    id: 'list',
    // A member is added by username; `user_id` is read-only and must be ignored.
    body: { username: 'username', role: 'role', user_id: 'userRef' },
  },
  {
    path: '/api/lists/:id/members/:user_id/',
    methods: ['GET', 'PATCH', 'DELETE'],
    authenticated: true,
    id: 'list',
    // `role` is the only writable field; the others must be ignored.
    body: { role: 'role', user_id: 'userRef', username: 'username', joined_at: 'timestamp' },
  },
];

interface OpenApiDocument {
  paths?: Record<string, Record<string, OpenApiOperation>>;
}

interface OpenApiOperation {
  security?: unknown[];
  parameters?: { name: string; in: string }[];
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
}

/**
 * The route table, completed from the API's own OpenAPI document: a documented route without
 * an entry above gets a generic one (its methods, body properties and query parameters, with
 * values of any kind), and is reported in `unlisted` so that someone adds its entry.
 */
export function routesOf(document: OpenApiDocument): { routes: RouteSpec[]; unlisted: string[] } {
  const routes = [...ROUTES];
  const unlisted: string[] = [];
  for (const [openApiPath, operations] of Object.entries(document.paths ?? {})) {
    const path = openApiPath.replace(/\{(\w+)\}/g, ':$1');
    if (ROUTES.some((route) => route.path === path)) continue;
    unlisted.push(path);
    const methods = Object.keys(operations).map((method) => method.toUpperCase()).filter((method) => method !== 'HEAD');
    const operationList = Object.values(operations);
    const body: Record<string, ValueKind> = {};
    const query: Record<string, ValueKind> = {};
    for (const operation of operationList) {
      for (const content of Object.values(operation.requestBody?.content ?? {})) {
        for (const name of Object.keys(content.schema?.properties ?? {})) body[name] = 'text';
      }
      for (const parameter of operation.parameters ?? []) if (parameter.in === 'query') query[parameter.name] = 'text';
    }
    routes.push({
      path,
      methods,
      authenticated: operationList.some((operation) => (operation.security ?? []).length > 0),
      ...(path.includes(':') ? { id: 'task' as const } : {}),
      body,
      query,
    });
  }
  return { routes, unlisted };
}
