import { Type } from 'typebox';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { accountGone } from '../accounts/authenticate.js';
import { now } from '../db/clock.js';
import type { Database } from '../db/database.js';
import type { Role } from '../db/tables.js';
import { readBody } from '../http/body.js';
import { REVALIDATED } from '../docs/openapi.js';
import { registerEtags } from '../http/conditional.js';
import { detail, forbidden, nonFieldError, notFound, validation } from '../http/errors.js';
import { parsePathId } from '../http/fields.js';
import { completeResource } from '../http/methods.js';
import { parsePaginationQuery } from '../tasks/query.js';
import { PaginationQuery } from '../tasks/schemas.js';
import { scopeOf } from '../tasks/routes.js';
import { paginate } from './pages.js';
import * as lists from './repository.js';
import * as schemas from './schemas.js';
import type { List, Member } from './schemas.js';
import { parseListChanges, parseNewMember, parseRoleChange, type ListWriteMode } from './validate.js';

export interface ListRoutesOptions {
  database: Database;
  authenticate: onRequestHookHandler;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** On routes of one list: the list as the caller sees it, with their role. */
    list: List | null;
    /** On routes of one membership: that member. */
    member: Member | null;
  }
}

const lastOwner = 'A list must keep at least one owner.';
const OWNERS_ONLY = "The caller is a member without the list's owner role.";

/**
 * The refusals a change can still meet once the list is locked: a list, member or membership
 * gone meanwhile (404), or a role lost meanwhile (403).
 */
function refuseUnless(outcome: lists.Outcome): void {
  if (outcome === 'missing') throw notFound();
  if (outcome === 'forbidden') throw forbidden();
}

/**
 * Lists and their members. The order of outcomes is declared on each route as hooks that run
 * before the body is parsed: authentication (401), the method (405), the list through the
 * caller's membership (404: a list they are not in is one that does not exist), the member
 * (404), the role the action needs (403); the handler then decodes the body (400).
 */
export async function listRoutes(app: FastifyInstance, { database, authenticate }: ListRoutesOptions): Promise<void> {
  const { db } = database;
  const common = { tags: ['lists'], security: [{ token: [] }] };
  app.addHook('onRequest', authenticate);
  app.decorateRequest('list', null);
  app.decorateRequest('member', null);
  registerEtags(app);

  async function loadVisibleList(request: FastifyRequest): Promise<void> {
    const id = parsePathId((request.params as { id: string }).id);
    const list = id === undefined ? undefined : await lists.findList(db, scopeOf(request), id);
    if (list === undefined) throw notFound();
    request.list = list;
  }

  async function loadMember(request: FastifyRequest): Promise<void> {
    const userId = parsePathId((request.params as { user_id: string }).user_id);
    const member = userId === undefined ? undefined : await lists.findMember(db, request.list!.id, userId);
    if (member === undefined) throw notFound();
    request.member = member;
  }

  const requireRole = (role: Role) =>
    async function checkRole(request: FastifyRequest): Promise<void> {
      if (!lists.hasRole(request.list!.role, role)) throw forbidden();
    };

  /** Any member may end their own membership; only an owner may end another's. */
  async function requireOwnerOrSelf(request: FastifyRequest): Promise<void> {
    if (request.member!.user_id !== scopeOf(request).userId && !lists.hasRole(request.list!.role, 'owner')) throw forbidden();
  }

  /** The list again, after a write, as the caller now sees it. */
  async function reread(request: FastifyRequest): Promise<List> {
    const list = await lists.findList(db, scopeOf(request), request.list!.id);
    if (list === undefined) throw notFound();
    return list;
  }

  app.get('/api/lists/', {
    schema: {
      ...common,
      summary: 'The lists the caller belongs to',
      description:
        'A plain array, ascending by id, unless a pagination parameter is given (`page`/`page_size`, ' +
        '`limit`/`offset` or `cursor`), as for tasks.',
      querystring: Type.Object(PaginationQuery),
      response: { 200: schemas.ListArray },
    },
    config: { documentedReplies: { 200: { ...schemas.ListListing, description: 'The lists.' }, 304: REVALIDATED, 404: 'A page number past the last page.' } },
    handler: async (request, reply) => {
      const pagination = parsePaginationQuery(request.query as Record<string, string>);
      const all = await lists.listLists(db, scopeOf(request));
      if (pagination === undefined) return all;
      const page = paginate(request, all, pagination);
      const schema = 'count' in page ? schemas.NumberedListPage : schemas.CursorListPage;
      return reply.type('application/json; charset=utf-8').send(reply.serializeInput(page, schema as object as Record<string, unknown>));
    },
  });

  app.post('/api/lists/', {
    schema: { ...common, summary: 'Create a list; the caller becomes its owner', body: schemas.ListBody, response: { 201: schemas.List } },
    handler: async (request, reply) => {
      const changes = parseListChanges(await readBody(request), 'create');
      const created = await lists.createList(db, scopeOf(request), { name: changes.name!, description: changes.description ?? '' }, now());
      if (created === 'gone') throw accountGone();
      if (created === 'full') throw nonFieldError(`You already belong to the maximum of ${lists.MAX_LISTS_PER_USER} lists.`);
      return reply.code(201).send(created);
    },
  });
  completeResource(app, { url: '/api/lists/', name: 'List List', description: 'The lists the caller belongs to.', methods: ['GET', 'POST'] });

  const oneList = { ...common, params: schemas.ListIdParams };
  const readsList = { preParsing: [loadVisibleList], config: { documentedReplies: { 304: REVALIDATED } } };
  const ownsList = { preParsing: [loadVisibleList, requireRole('owner')], config: { documentedReplies: { 403: OWNERS_ONLY } } };

  app.get('/api/lists/:id/', {
    schema: { ...oneList, summary: 'One list', response: { 200: schemas.List } },
    ...readsList,
    handler: async (request) => request.list!,
  });

  const write = async (request: FastifyRequest, mode: ListWriteMode) => {
    const changes = parseListChanges(await readBody(request), mode);
    refuseUnless(await lists.updateList(db, scopeOf(request), request.list!.id, changes, now()));
    return reread(request);
  };
  app.put('/api/lists/:id/', {
    schema: { ...oneList, summary: 'Rename a list (owner); an omitted description is kept', body: schemas.ListBody, response: { 200: schemas.List } },
    ...ownsList,
    handler: async (request) => write(request, 'replace'),
  });
  app.patch('/api/lists/:id/', {
    schema: { ...oneList, summary: 'Change some fields of a list (owner)', body: schemas.ListPatchBody, response: { 200: schemas.List } },
    ...ownsList,
    handler: async (request) => write(request, 'partial'),
  });
  app.delete('/api/lists/:id/', {
    schema: {
      ...oneList,
      summary: 'Delete a list and its tasks (owner)',
      description: "Every member's deleted-task feed and sync then report each of the list's tasks.",
      response: { 204: Type.Null() },
    },
    ...ownsList,
    handler: async (request, reply) => {
      refuseUnless(await lists.deleteList(db, scopeOf(request), request.list!.id, now()));
      return reply.code(204).send();
    },
  });
  completeResource(app, { url: '/api/lists/:id/', name: 'List Detail', description: 'One of the caller’s lists.', methods: ['GET', 'PUT', 'PATCH', 'DELETE'] });

  app.get('/api/lists/:id/members/', {
    schema: { ...oneList, summary: "A list's members, longest-standing first", response: { 200: schemas.MemberArray } },
    ...readsList,
    handler: async (request) => lists.listMembers(db, request.list!.id),
  });

  app.post('/api/lists/:id/members/', {
    schema: {
      ...oneList,
      summary: 'Add a user to a list by username (owner); the role defaults to viewer',
      body: schemas.NewMemberBody,
      response: { 201: schemas.Member },
    },
    ...ownsList,
    handler: async (request, reply) => {
      const { username, role } = parseNewMember(await readBody(request));
      const added = await lists.addMember(db, scopeOf(request), request.list!.id, username, role, now());
      if (typeof added !== 'string') return reply.code(201).send(added);
      if (added === 'missing' || added === 'forbidden') return refuseUnless(added);
      const messages: Record<Exclude<lists.AddOutcome, Member | 'missing' | 'forbidden'>, string> = {
        unknown: 'No user with this username.',
        member: 'This user is already a member of this list.',
        'list full': `This list already has the maximum of ${lists.MAX_MEMBERS_PER_LIST} members.`,
        'user full': `This user already belongs to the maximum of ${lists.MAX_LISTS_PER_USER} lists.`,
      };
      throw validation({ username: [messages[added]] });
    },
  });
  completeResource(app, { url: '/api/lists/:id/members/', name: 'Member List', description: "A list's members.", methods: ['GET', 'POST'] });

  const oneMember = { ...common, params: schemas.MemberParams };

  app.get('/api/lists/:id/members/:user_id/', {
    schema: { ...oneMember, summary: 'One member of a list', response: { 200: schemas.Member } },
    preParsing: [loadVisibleList, loadMember],
    config: { documentedReplies: { 304: REVALIDATED } },
    handler: async (request) => request.member!,
  });

  app.patch('/api/lists/:id/members/:user_id/', {
    schema: { ...oneMember, summary: "Change a member's role (owner); the last owner stays one", body: schemas.RoleBody, response: { 200: schemas.Member } },
    preParsing: [loadVisibleList, loadMember, requireRole('owner')],
    config: { documentedReplies: { 403: OWNERS_ONLY } },
    handler: async (request) => {
      const role = parseRoleChange(await readBody(request));
      const { id } = request.list!;
      const { user_id: userId } = request.member!;
      if (role !== undefined) {
        const outcome = await lists.changeRole(db, scopeOf(request), id, userId, role);
        if (outcome === 'last owner') throw validation({ role: [lastOwner] });
        refuseUnless(outcome);
      }
      const member = await lists.findMember(db, id, userId);
      if (member === undefined) throw notFound();
      return member;
    },
  });

  app.delete('/api/lists/:id/members/:user_id/', {
    schema: {
      ...oneMember,
      summary: 'Remove a member (owner), or leave (any member, their own membership)',
      description: "The member's assignments in the list are cleared and the list's tasks leave their view; tasks they created stay.",
      response: { 204: Type.Null() },
    },
    preParsing: [loadVisibleList, loadMember, requireOwnerOrSelf],
    config: { documentedReplies: { 400: 'The member is the last owner of the list.', 403: 'Another member, and the caller is not an owner.' } },
    handler: async (request, reply) => {
      const outcome = await lists.removeMember(db, scopeOf(request), request.list!.id, request.member!.user_id, now());
      if (outcome === 'last owner') throw detail(400, lastOwner);
      refuseUnless(outcome);
      return reply.code(204).send();
    },
  });
  completeResource(app, {
    url: '/api/lists/:id/members/:user_id/',
    name: 'Member Detail',
    description: 'One member of a list.',
    methods: ['GET', 'PATCH', 'DELETE'],
  });
}
