import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildTestApp, createUser, type TestUser } from '../helpers.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Requests as one user: `api(app, alice).patch(url, body)`. */
export function api(app: FastifyInstance, user: TestUser) {
  const send = (method: Method) => (url: string, payload?: unknown) =>
    app.inject({ method, url, headers: user.auth, payload: payload as Record<string, unknown> | undefined });
  return { get: send('GET'), post: send('POST'), put: send('PUT'), patch: send('PATCH'), delete: send('DELETE') };
}

export async function newList(app: FastifyInstance, owner: TestUser, name = 'Team') {
  const created = await api(app, owner).post('/api/lists/', { name });
  assert.equal(created.statusCode, 201, created.body);
  return created.json() as { id: number };
}

export async function addMember(app: FastifyInstance, owner: TestUser, listId: number, user: TestUser, role = 'viewer') {
  const added = await api(app, owner).post(`/api/lists/${listId}/members/`, { username: user.username, role });
  assert.equal(added.statusCode, 201, added.body);
}

/** An app with an owner, an editor, a viewer and an outsider around one list. */
export async function team(t: TestContext) {
  const { app, database } = await buildTestApp(t);
  const [owner, editor, viewer, outsider] = await Promise.all([createUser(app), createUser(app), createUser(app), createUser(app)]);
  const list = await newList(app, owner);
  await addMember(app, owner, list.id, editor, 'editor');
  await addMember(app, owner, list.id, viewer, 'viewer');
  return { app, database, owner, editor, viewer, outsider, list };
}

export { blockerFor, untilWaiting } from '../postgres-locks.js';

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
