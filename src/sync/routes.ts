import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { detail, validation } from '../http/errors.js';
import { completeResource } from '../http/methods.js';
import { nextPage, PAGE_SIZE } from './feed.js';
import type { SyncRepository, SyncScope } from './repository.js';
import * as schemas from './schemas.js';
import { encodeToken, parseToken, type SyncPosition } from './token.js';

export interface SyncRoutesOptions {
  sync: SyncRepository;
  authenticate: onRequestHookHandler;
  tombstoneRetentionSeconds: number;
}

const invalidToken = () => validation({ token: ['Invalid sync token.'] });

/** The caller's changes since their last sync, a page at a time (see feed.ts). */
export async function syncRoutes(app: FastifyInstance, options: SyncRoutesOptions): Promise<void> {
  const { sync, authenticate, tombstoneRetentionSeconds } = options;
  app.addHook('onRequest', authenticate);

  app.get('/api/tasks/sync/', {
    schema: {
      tags: ['tasks'],
      security: [{ token: [] }],
      summary: "Changes to the caller's tasks since the previous sync",
      description:
        `At most ${PAGE_SIZE} changes per reply, fewer when tasks are long. Without a token, a first ` +
        'sync: the tasks, no deletions. Apply `changed` (replace by id), then `deleted` ' +
        '(remove by id), store `token`, and sync again at once while `more` is true. A change may ' +
        'come twice; none is ever missed. 410: deletions since the token were forgotten; sync ' +
        'again without a token.',
      querystring: schemas.SyncQuery,
      response: { 200: schemas.SyncReply },
    },
    config: { documentedReplies: { 410: 'Deletions since the token were forgotten: sync again without a token.' } },
    handler: async (request) => {
      const scope: SyncScope = { userId: request.caller!.userId };
      const outcome = await nextPage(sync, scope, positionOf(request, scope));
      if (outcome.kind === 'invalid') throw invalidToken();
      if (outcome.kind === 'gone') {
        throw detail(410, `Deletions are kept for ${tombstoneRetentionSeconds} seconds; sync again without a token.`);
      }
      const { position, more, changed, deleted } = outcome;
      return { token: encodeToken(position), more, changed, deleted };
    },
  });
  completeResource(app, {
    url: '/api/tasks/sync/',
    name: 'Task Sync',
    description: "Changes to the caller's tasks since the previous sync.",
    methods: ['GET'],
  });
}

function positionOf(request: FastifyRequest, scope: SyncScope): SyncPosition {
  const token = (request.query as Record<string, unknown>).token;
  if (token === undefined || token === '') return { userId: scope.userId, from: 0 };
  const position = typeof token === 'string' ? parseToken(token) : undefined;
  // Another user's token would skip this user's changes below its position.
  if (position === undefined || position.userId !== scope.userId) throw invalidToken();
  return position;
}
