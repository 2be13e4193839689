import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Config } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { foldedColumns } from '../../src/tasks/search-text.js';
import { createUser, sharedFixture, type TestUser } from '../helpers.js';

/**
 * Shared set-up for the querying tests: one app per test file (built in before(), closed in
 * after()) with two users, alice and bob. Tests in a file run one after another; each starts
 * with `reset()` and seeds the rows it needs directly in the database, which is fast and
 * lets a test choose timestamps and dates in the past.
 */
export interface QueryFixture {
  app: FastifyInstance;
  database: Database;
  config: Config;
  alice: TestUser;
  bob: TestUser;
}

export function queryFixture(options: { config?: Partial<Config> } = {}): () => QueryFixture {
  return sharedFixture(async ({ app }) => ({ alice: await createUser(app), bob: await createUser(app) }), options);
}

/** Removes every task and deletion record, so a test starts from an empty list. */
export async function reset({ database }: QueryFixture): Promise<void> {
  await database.db.deleteFrom('deleted_tasks').execute();
  await database.db.deleteFrom('tasks').execute();
}

export interface SeedRow {
  title?: string;
  description?: string;
  due_date?: string | null;
  completed?: boolean;
  created_at?: string;
  updated_at?: string;
  completed_at?: string | null;
}

/** A stored timestamp (UTC, microseconds) for epoch milliseconds. */
export function stamp(epochMs: number): string {
  return new Date(epochMs).toISOString().replace('Z', '000Z');
}

/** Today's date in UTC, shifted by whole days. */
export function day(offset = 0): string {
  return new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Inserts the owner's tasks in one statement and returns their ids in the given order. Rows
 * without timestamps get distinct ones a millisecond apart, an hour ago, in insertion order.
 */
export async function seed(database: Database, owner: TestUser, rows: SeedRow[]): Promise<number[]> {
  if (rows.length === 0) return [];
  const base = Date.now() - 3_600_000;
  const values = rows.map((row, index) => {
    const created = row.created_at ?? stamp(base + index);
    const completed = row.completed ?? false;
    const title = row.title ?? `Task ${index + 1}`;
    const description = row.description ?? '';
    return {
      owner_id: owner.id,
      title,
      description,
      // What the repository writes beside the text, so that searches find seeded rows.
      ...foldedColumns({ title, description }),
      due_date: row.due_date ?? null,
      completed,
      created_at: created,
      updated_at: row.updated_at ?? created,
      completed_at: row.completed_at !== undefined ? row.completed_at : completed ? created : null,
    };
  });
  const inserted = await database.db.insertInto('tasks').values(values).returning('id').execute();
  return inserted.map((row) => Number(row.id));
}

export async function get(app: FastifyInstance, user: TestUser, url: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url, headers: { ...user.auth, ...headers } });
}

/** The path and query of an absolute link, to request it again through inject(). */
export function pathOf(link: string): string {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
}

export function idsOf(tasks: { id: number }[]): number[] {
  return tasks.map((task) => task.id);
}

/** GET a plain list and return the ids, asserting nothing about the status beyond 200. */
export async function listIds(app: FastifyInstance, user: TestUser, query: string): Promise<number[]> {
  const response = await get(app, user, `/api/tasks/${query}`);
  if (response.statusCode !== 200) throw new Error(`GET ${query} gave ${response.statusCode} ${response.body}`);
  const body = response.json();
  if (!Array.isArray(body)) throw new Error(`GET ${query} did not give a plain array: ${response.body}`);
  return idsOf(body);
}

export interface Page {
  count?: number;
  next: string | null;
  previous: string | null;
  results: { id: number; owner: number }[];
}

export function pageOf(response: LightMyRequestResponse): Page {
  if (response.statusCode !== 200) throw new Error(`expected a page, got ${response.statusCode} ${response.body}`);
  return response.json() as Page;
}

/**
 * Follows `direction` links from the page at `url` until there are none, returning each page
 * (the first included). Stops with an error after 200 pages, so a loop of links fails the test.
 */
export async function walk(
  app: FastifyInstance,
  user: TestUser,
  url: string,
  direction: 'next' | 'previous' = 'next',
): Promise<Page[]> {
  const pages: Page[] = [];
  let current: string | null = url;
  while (current !== null) {
    if (pages.length >= 200) throw new Error(`more than 200 pages following ${direction} from ${url}`);
    const page = pageOf(await get(app, user, current));
    pages.push(page);
    current = page[direction] === null ? null : pathOf(page[direction]!);
  }
  return pages;
}

/** 400 with exactly the given fields, each with a non-empty list of messages. */
export function fieldsOf(response: LightMyRequestResponse): string[] {
  return Object.keys(response.json() as object).sort();
}
