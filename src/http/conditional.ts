import { hash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/** A strong entity tag for the given representation or version text. */
export function entityTag(text: string): string {
  return `"${hash('sha256', text, 'base64url').slice(0, 27)}"`;
}

/** Whether a conditional header (`*`, or a comma-separated list of tags) names the tag. */
export function conditionMatches(header: string, tag: string, { weak }: { weak: boolean }): boolean {
  const wanted = weak ? tag.replace(/^W\//, '') : tag;
  return header.split(',').some((item) => {
    const candidate = item.trim();
    if (candidate === '*') return true;
    // If-Match uses the strong comparison: a weak tag never matches (RFC 9110, 13.1.1).
    if (!weak && candidate.startsWith('W/')) return false;
    return (weak ? candidate.replace(/^W\//, '') : candidate) === wanted;
  });
}

/**
 * Successful GET replies in this scope carry an ETag (the one a route set, or a digest of the
 * body), and a matching If-None-Match gets 304 without the body.
 */
export function registerEtags(app: FastifyInstance): void {
  // A callback hook, not an async one: it runs on every read, and a promise per reply adds up.
  app.addHook('onSend', (request, reply, payload, done) => {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || reply.statusCode !== 200 || typeof payload !== 'string') {
      return done(null, payload);
    }
    let tag = reply.getHeader('etag') as string | undefined;
    if (tag === undefined) {
      tag = entityTag(payload);
      reply.header('etag', tag);
    }
    // Clients may keep the reply but must revalidate it; shared caches must not keep it.
    reply.header('cache-control', 'private, no-cache');
    const condition = request.headers['if-none-match'];
    if (condition !== undefined && conditionMatches(condition, tag, { weak: true })) {
      reply.code(304);
      reply.removeHeader('content-type');
      reply.removeHeader('content-length');
      return done(null, '');
    }
    done(null, payload);
  });
}
