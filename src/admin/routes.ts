import { Type } from 'typebox';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { endSessions, setActiveById } from '../accounts/repository.js';
import { now } from '../db/clock.js';
import { atomically, type Database } from '../db/database.js';
import { detail, forbidden, notFound, validation } from '../http/errors.js';
import { parsePathId } from '../http/fields.js';
import { completeResource } from '../http/methods.js';
import { linkBuilder, numberedLinks, type PaginationOf } from '../tasks/listing.js';
import { DEFAULT_PAGE_SIZE, parsePaginationQuery } from '../tasks/query.js';
import { NumberedPaginationQuery } from '../tasks/schemas.js';
import * as admin from './repository.js';
import * as schemas from './schemas.js';
import type { ManagedUser } from './schemas.js';

export interface AdminRoutesOptions {
  database: Database;
  authenticate: onRequestHookHandler;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** On admin routes: the member of staff making the request. */
    staff: admin.Staff | null;
    /** On admin routes of one account: that account. */
    managed: ManagedUser | null;
  }
}

/**
 * The admin API, for staff: accounts with their task and session counts, blocking and
 * unblocking them, ending their sessions, totals, and the audit log every change writes to.
 * Outcomes keep the API's order: 401, 405, then 403 for callers who are not staff, 404 for an
 * unknown account, 403 for staff acting on staff without being a superuser, then 400.
 */
export async function adminRoutes(app: FastifyInstance, { database, authenticate }: AdminRoutesOptions): Promise<void> {
  const { db } = database;
  const common = { tags: ['admin'], security: [{ token: [] }] };
  const staffOnly = { documentedReplies: { 403: 'The caller is not staff.' } };
  const withAuthority = {
    documentedReplies: { 400: 'The account is the caller’s own.', 403: 'The caller is not staff, or the account is staff and the caller not a superuser.' },
  };
  app.addHook('onRequest', authenticate);
  app.decorateRequest('staff', null);
  app.decorateRequest('managed', null);

  async function requireStaff(request: FastifyRequest): Promise<void> {
    const staff = await admin.findStaffFlags(db, request.caller!.userId);
    if (staff === undefined || !staff.is_staff) throw forbidden();
    request.staff = staff;
  }

  async function loadManaged(request: FastifyRequest): Promise<void> {
    const id = parsePathId((request.params as { id: string }).id);
    const user = id === undefined ? undefined : await admin.findUser(db, id, now());
    if (user === undefined) throw notFound();
    request.managed = user;
  }

  /** Staff act on other accounts; only a superuser acts on staff. Nobody blocks themself here. */
  async function requireAuthority(request: FastifyRequest): Promise<void> {
    const { staff, managed } = request;
    if ((managed!.is_staff || managed!.is_superuser) && !staff!.is_superuser) throw forbidden();
    if (managed!.id === staff!.id) throw detail(400, 'Staff cannot use the admin API on their own account.');
  }

  /** A numbered window: `page`/`page_size` or `limit`/`offset`, the first 50 by default. */
  const windowOf = (request: FastifyRequest): PaginationOf<'page'> | PaginationOf<'offset'> => {
    const pagination = parsePaginationQuery(request.query as Record<string, string>) ?? { kind: 'page', page: 1, pageSize: DEFAULT_PAGE_SIZE };
    if (pagination.kind === 'cursor') throw validation({ cursor: ['Use page and page_size, or limit and offset, here.'] });
    return pagination;
  };
  const limits = (window: PaginationOf<'page'> | PaginationOf<'offset'>) =>
    window.kind === 'page' ? { limit: window.pageSize, offset: (window.page - 1) * window.pageSize } : { limit: window.limit, offset: window.offset };

  /** DRF's numbered envelope; links keep the request's parameters. */
  const envelope = <T>(request: FastifyRequest, results: T[], count: number, window: PaginationOf<'page'> | PaginationOf<'offset'>) => ({
    count,
    ...numberedLinks(linkBuilder(request), count, window),
    results,
  });

  app.get('/api/admin/users/', {
    schema: {
      ...common,
      summary: 'Accounts, with their task and session counts (staff)',
      description: '`search` matches usernames (ignoring case) and emails; `page`/`page_size` or `limit`/`offset`, 50 a page by default.',
      querystring: Type.Object({ search: Type.Optional(Type.String()), ...NumberedPaginationQuery }),
      response: { 200: schemas.UserPage },
    },
    preParsing: [requireStaff],
    config: staffOnly,
    handler: async (request) => {
      const window = windowOf(request);
      const raw = (request.query as Record<string, string | string[] | undefined>).search;
      const search = (Array.isArray(raw) ? raw.at(-1) : raw)?.trim() || undefined;
      if (search?.includes('\0')) throw validation({ search: ['Null characters are not allowed.'] });
      const [users, count] = await Promise.all([admin.listUsers(db, { search, ...limits(window) }, now()), admin.countUsers(db, search)]);
      return envelope(request, users, count, window);
    },
  });
  completeResource(app, { url: '/api/admin/users/', name: 'Admin Users', description: 'Accounts (staff).', methods: ['GET'] });

  const oneUser = { ...common, params: schemas.UserIdParams };
  app.get('/api/admin/users/:id/', {
    schema: { ...oneUser, summary: 'One account (staff)', response: { 200: schemas.ManagedUser } },
    preParsing: [requireStaff, loadManaged],
    config: staffOnly,
    handler: async (request) => request.managed!,
  });
  completeResource(app, { url: '/api/admin/users/:id/', name: 'Admin User', description: 'One account (staff).', methods: ['GET'] });

  const actions: { path: string; action: admin.Action; summary: string; run: (trx: Database['db'], id: number) => Promise<unknown> }[] = [
    { path: 'deactivate', action: 'deactivate', summary: 'Block an account: no logins, its tokens stop working at once', run: (trx, id) => setActiveById(trx, id, false) },
    { path: 'reactivate', action: 'reactivate', summary: 'Unblock an account', run: (trx, id) => setActiveById(trx, id, true) },
  ];
  for (const { path, action, summary, run } of actions) {
    const url = `/api/admin/users/:id/${path}/`;
    app.post(url, {
      schema: { ...oneUser, summary: `${summary} (staff; a superuser for staff accounts)`, response: { 200: schemas.ManagedUser } },
      preParsing: [requireStaff, loadManaged, requireAuthority],
      config: withAuthority,
      handler: async (request) => {
        const target = request.managed!;
        await atomically(db, async (trx) => {
          await run(trx, target.id);
          await admin.recordAction(trx, request.staff!, action, target, now());
        });
        const user = await admin.findUser(db, target.id, now());
        if (user === undefined) throw notFound();
        return user;
      },
    });
    completeResource(app, { url, name: `Admin ${path}`, description: summary, methods: ['POST'] });
  }

  const revokeUrl = '/api/admin/users/:id/revoke-sessions/';
  app.post(revokeUrl, {
    schema: { ...oneUser, summary: "End every session of an account (staff; a superuser for staff accounts)", response: { 200: schemas.Revoked } },
    preParsing: [requireStaff, loadManaged, requireAuthority],
    config: withAuthority,
    handler: async (request) => {
      const target = request.managed!;
      const revoked = await atomically(db, async (trx) => {
        const count = await endSessions(trx, target.id);
        await admin.recordAction(trx, request.staff!, 'revoke_sessions', target, now());
        return count;
      });
      return { revoked };
    },
  });
  completeResource(app, { url: revokeUrl, name: 'Admin revoke sessions', description: 'End every session of an account.', methods: ['POST'] });

  app.get('/api/admin/totals/', {
    schema: { ...common, summary: 'Numbers of users, active users and tasks (staff)', response: { 200: schemas.Totals } },
    preParsing: [requireStaff],
    config: staffOnly,
    handler: async () => admin.totals(db),
  });
  completeResource(app, { url: '/api/admin/totals/', name: 'Admin Totals', description: 'Totals (staff).', methods: ['GET'] });

  app.get('/api/admin/audit/', {
    schema: {
      ...common,
      summary: 'What staff did through the admin API, newest first (staff)',
      querystring: Type.Object(NumberedPaginationQuery),
      response: { 200: schemas.AuditPage },
    },
    preParsing: [requireStaff],
    config: staffOnly,
    handler: async (request) => {
      const window = windowOf(request);
      const [entries, count] = await Promise.all([admin.listAudit(db, limits(window)), admin.countAudit(db)]);
      return envelope(request, entries, count, window);
    },
  });
  completeResource(app, { url: '/api/admin/audit/', name: 'Admin Audit', description: 'The audit log (staff).', methods: ['GET'] });
}
