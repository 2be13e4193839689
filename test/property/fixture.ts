import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createAccountsRepository } from '../../src/accounts/repository.js';
import { hashPassword } from '../../src/accounts/passwords.js';
import { tokenDigest } from '../../src/accounts/tokens.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { taskTag } from '../../src/tasks/routes.js';
import { PASSWORD, buildTestApp, createTask, createUser, login, type TestUser } from '../helpers.js';
import type { RoleName } from './plan.js';

/** Far above anything a run reaches, so only the requests themselves decide (429 stays acceptable). */
const UNTHROTTLED = { max: 1_000_000, windowSeconds: 60 };
const TASKS_PER_USER = { least: 3, most: 12 };

export interface Server {
  app: FastifyInstance;
  port: number;
}

interface Role {
  user: TestUser;
  /** Written into this user's task titles: a reply to anyone else must never contain it. */
  secret: string;
}

/**
 * Two apps on one fresh database, both listening on a socket: one as deployed by default, one
 * with TRUST_PROXY (so forwarded headers are believed). Alice and Bob own a few tasks each;
 * Carol is deactivated with a session still stored; one of Alice's tokens is logged out.
 * After each request `repair` brings the users back (a request may log a user out, change
 * their password or delete their account), so every run starts from the same situation.
 */
export class Fixture {
  readonly roles = {} as Record<RoleName, Role>;
  revokedToken = '';
  inactive!: TestUser;

  private constructor(
    readonly database: Database,
    readonly direct: Server,
    readonly proxied: Server,
  ) {}

  static async build(t: TestContext): Promise<Fixture> {
    const limits = Object.keys(loadConfig({}).throttle).map((name) => [name, UNTHROTTLED]);
    const config = { throttle: Object.fromEntries(limits) as Config['throttle'] };
    const direct = await buildTestApp(t, { config });
    const proxied = await buildTestApp(t, { config, database: direct.database, env: { TRUST_PROXY: 'true' } });
    const fixture = new Fixture(direct.database, await listen(direct.app), await listen(proxied.app));
    await fixture.setUp();
    return fixture;
  }

  get app(): FastifyInstance {
    return this.direct.app;
  }

  private async setUp(): Promise<void> {
    const suffix = randomBytes(3).toString('hex');
    for (const name of ['alice', 'bob'] as const) {
      this.roles[name] = { user: await createUser(this.app, { username: `${name}_${suffix}` }), secret: `secret-of-${name}-${randomBytes(8).toString('hex')}` };
    }
    const alice = this.roles.alice.user;
    this.revokedToken = await login(this.app, alice.username, alice.password);
    await this.app.inject({ method: 'POST', url: '/api/logout/', headers: { authorization: `Token ${this.revokedToken}` } });

    this.inactive = await createUser(this.app, { username: `carol_${suffix}` });
    await createTask(this.app, this.inactive, { title: 'carol keeps this' });
    await createAccountsRepository(this.database).setActive(this.inactive.username, false);
    await this.repair();
  }

  usernames(): string[] {
    return [this.roles.alice.user.username, this.roles.bob.user.username, this.inactive.username];
  }

  secrets(): { userId: number; secret: string }[] {
    return Object.values(this.roles).map((role) => ({ userId: role.user.id, secret: role.secret }));
  }

  userOf(name: RoleName | 'inactive'): TestUser {
    return name === 'inactive' ? this.inactive : this.roles[name].user;
  }

  /** The active user whose stored, unexpired session this token is, if any. */
  async sessionOf(token: string): Promise<{ userId: number; sessionId: number } | undefined> {
    const row = await this.database.db
      .selectFrom('auth_tokens')
      .innerJoin('users', 'users.id', 'auth_tokens.user_id')
      .select(['auth_tokens.id as sessionId', 'auth_tokens.user_id as userId', 'users.is_active as active'])
      .where('auth_tokens.digest', '=', tokenDigest(token))
      .executeTakeFirst();
    return row && Boolean(row.active) ? { userId: row.userId, sessionId: row.sessionId } : undefined;
  }

  async taskIds(userId: number): Promise<number[]> {
    const rows = await this.database.db.selectFrom('tasks').select('id').where('owner_id', '=', userId).orderBy('id').execute();
    return rows.map((row) => row.id);
  }

  async deletedTaskIds(userId: number): Promise<number[]> {
    const rows = await this.database.db
      .selectFrom('deleted_tasks')
      .select('task_id')
      .where('owner_id', '=', userId)
      .where('task_id', 'is not', null)
      .orderBy('task_id')
      .execute();
    return rows.map((row) => row.task_id!);
  }

  async sessionIds(userId: number): Promise<number[]> {
    const rows = await this.database.db.selectFrom('auth_tokens').select('id').where('user_id', '=', userId).orderBy('id').execute();
    return rows.map((row) => row.id);
  }

  /** The current entity tag of a task, as the API computes it. */
  async currentTag(taskId: number): Promise<string | undefined> {
    const row = await this.database.db.selectFrom('tasks').select(['id', 'updated_at']).where('id', '=', taskId).executeTakeFirst();
    return row && taskTag({ id: row.id, updated_at: row.updated_at } as Parameters<typeof taskTag>[0]);
  }

  /**
   * Puts Alice and Bob back as they were meant to be: a working session, the known password,
   * and a handful of tasks titled with their secret. Done through the API where it can be, and
   * in the database only to undo a password change the fuzzer made.
   */
  async repair(): Promise<void> {
    for (const name of ['alice', 'bob'] as const) {
      const role = this.roles[name];
      if (!(await this.sessionWorks(role.user))) role.user = await this.restoreUser(role.user);
      const ids = await this.taskIds(role.user.id);
      for (let count = ids.length; count < TASKS_PER_USER.least; count++) {
        await createTask(this.app, role.user, { title: `${role.secret} ${count}`, description: `${role.secret} notes` });
      }
      for (const id of ids.slice(TASKS_PER_USER.most)) {
        const response = await this.app.inject({ method: 'DELETE', url: `/api/tasks/${id}/`, headers: role.user.auth });
        if (response.statusCode !== 204) throw new Error(`could not trim tasks: ${response.statusCode} ${response.body}`);
      }
    }
  }

  private async sessionWorks(user: TestUser): Promise<boolean> {
    const response = await this.app.inject({ method: 'GET', url: '/api/user/', headers: user.auth });
    return response.statusCode === 200 && response.json().id === user.id;
  }

  private async restoreUser(user: TestUser): Promise<TestUser> {
    const accounts = createAccountsRepository(this.database);
    const existing = await this.database.db.selectFrom('users').select('id').where('username', '=', user.username).executeTakeFirst();
    if (existing === undefined) return createUser(this.app, { username: user.username });
    const { password: storedHash } = await this.database.db.selectFrom('users').select('password').where('id', '=', existing.id).executeTakeFirstOrThrow();
    await accounts.upgradePasswordHash(existing.id, storedHash, await hashPassword(PASSWORD));
    const token = await login(this.app, user.username, PASSWORD);
    return { ...user, id: existing.id, password: PASSWORD, token, auth: { authorization: `Token ${token}` } };
  }
}

async function listen(app: FastifyInstance): Promise<Server> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as AddressInfo).port };
}
