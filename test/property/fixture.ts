import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createAccountsRepository, usernameKey } from '../../src/accounts/repository.js';
import { hashPassword } from '../../src/accounts/passwords.js';
import { tokenDigest } from '../../src/accounts/tokens.js';
import { now } from '../../src/db/clock.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import type { Role as MemberRole } from '../../src/db/tables.js';
import { taskTag } from '../../src/tasks/routes.js';
import { PASSWORD, buildTestApp, createTask, createUser, login, type TestUser } from '../helpers.js';
import type { ListName, RoleName, UserName } from './plan.js';

/** Far above anything a run reaches, so only the requests themselves decide (429 stays acceptable). */
const UNTHROTTLED = { max: 1_000_000, windowSeconds: 60 };
const TASKS_PER_USER = { least: 3, most: 12 };
const TASKS_PER_LIST = { least: 2, most: 8 };
/** Ids of lists that are gone, kept for `deleted` references: the most recent ones. */
const DELETED_LISTS_KEPT = 16;

export interface Server {
  app: FastifyInstance;
  port: number;
}

interface Role {
  user: TestUser;
  /** Written into this user's task titles: a reply to anyone else must never contain it. */
  secret: string;
}

type Member = RoleName | 'inactive';

/**
 * The shared lists, so that every role meets every kind of request: Alice owns `alices`, which
 * Bob views (his writes there are refused, 403); `bobs` is Bob's alone (to Alice it does not
 * exist, 404); Bob owns `team`, which Alice edits (she writes its tasks, not the list or its
 * members). Carol, who cannot sign in, views the team: a member only its owner may remove, and
 * one whom a task moved from the team to Alice's list leaves. Their tasks are assigned round
 * the members, the viewers included.
 */
const LISTS: Record<ListName, { owner: RoleName; others: Partial<Record<Member, MemberRole>> }> = {
  alices: { owner: 'alice', others: { bob: 'viewer' } },
  bobs: { owner: 'bob', others: {} },
  team: { owner: 'bob', others: { alice: 'editor', inactive: 'viewer' } },
};

interface SharedList {
  id: number;
  /** In the list's name and its tasks' titles: a reply to anyone not in the list must never contain it. */
  secret: string;
}

/** Text only some users may read: a reply to anyone else must never contain it. */
export interface Secret {
  readers: number[];
  secret: string;
}

/**
 * Two apps on one fresh database, both listening on a socket: one as deployed by default, one
 * with TRUST_PROXY (so forwarded headers are believed). Alice and Bob own a few tasks each and
 * share the lists above, each with a few tasks; Carol is deactivated with a session still
 * stored, and views the team; one of Alice's tokens is logged out. After each request `repair`
 * brings the users, lists, memberships and tasks back (a request may log a user out, change
 * their password, delete their account, leave a list, move a task), so every run starts from
 * the same situation.
 */
export class Fixture {
  readonly roles = {} as Record<RoleName, Role>;
  readonly lists = {} as Record<ListName, SharedList>;
  /** Lists that no longer exist, most recent last. */
  readonly deletedListIds: number[] = [];
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

    for (const name of Object.keys(LISTS) as ListName[]) {
      const secret = `secret-of-list-${name}-${randomBytes(8).toString('hex')}`;
      this.lists[name] = { id: await this.createList(LISTS[name].owner, secret, LISTS[name].others), secret };
    }
    // A list that is gone from the start, so that `deleted` list references have one.
    const gone = await this.createList('alice', 'gone');
    await this.send('alice', 'DELETE', `/api/lists/${gone}/`, undefined, 204);
    this.deletedListIds.push(gone);
    await this.repair();
  }

  usernames(): string[] {
    return [this.roles.alice.user.username, this.roles.bob.user.username, this.inactive.username];
  }

  /** The users' secrets, each read by its user; the lists', each read by the list's members now. */
  async secrets(): Promise<Secret[]> {
    const members = await this.database.db
      .selectFrom('list_members')
      .select(['list_id', 'user_id'])
      .where('list_id', 'in', Object.values(this.lists).map((list) => list.id))
      .execute();
    return [
      ...Object.values(this.roles).map((role) => ({ readers: [role.user.id], secret: role.secret })),
      ...Object.values(this.lists).map((list) => ({
        readers: members.filter((member) => Number(member.list_id) === list.id).map((member) => Number(member.user_id)),
        secret: list.secret,
      })),
    ];
  }

  userOf(name: RoleName | 'inactive'): TestUser {
    return name === 'inactive' ? this.inactive : this.roles[name].user;
  }

  /** The id of a named user; `gone`, an id no user has. */
  async userIdOf(name: UserName): Promise<number> {
    if (name !== 'gone') return this.userOf(name).id;
    const row = await this.database.db.selectFrom('users').select((eb) => eb.fn.max('id').as('id')).executeTakeFirstOrThrow();
    return Number(row.id) + 1_000_000;
  }

  /** The active user whose stored, unexpired session this token is, if any. */
  async sessionOf(token: string): Promise<{ userId: number; sessionId: number } | undefined> {
    const row = await this.database.db
      .selectFrom('auth_tokens')
      .innerJoin('users', 'users.id', 'auth_tokens.user_id')
      .select(['auth_tokens.id as sessionId', 'auth_tokens.user_id as userId', 'users.is_active as active'])
      .where('auth_tokens.digest', '=', tokenDigest(token))
      .executeTakeFirst();
    return row && Boolean(row.active) ? { userId: Number(row.userId), sessionId: Number(row.sessionId) } : undefined;
  }

  /** The user's personal tasks (in no list). */
  async personalTaskIds(userId: number): Promise<number[]> {
    const rows = await this.database.db.selectFrom('tasks').select('id').where('owner_id', '=', userId).where('list_id', 'is', null).orderBy('id').execute();
    return rows.map((row) => Number(row.id));
  }

  /** Every task the user sees: their personal tasks and the tasks of every list they are in. */
  async visibleTaskIds(userId: number): Promise<number[]> {
    const rows = await this.database.db
      .selectFrom('tasks')
      .select('id')
      .where((eb) =>
        eb.or([
          eb.and([eb('owner_id', '=', userId), eb('list_id', 'is', null)]),
          eb('list_id', 'in', eb.selectFrom('list_members').select('list_id').where('user_id', '=', userId)),
        ]),
      )
      .orderBy('id')
      .execute();
    return rows.map((row) => Number(row.id));
  }

  /** Tasks that left the user's view (deleted, moved away, their list left or deleted): their deletion records. */
  async deletedTaskIds(userId: number): Promise<number[]> {
    const rows = await this.database.db
      .selectFrom('deleted_tasks')
      .select('task_id')
      .distinct()
      .where('owner_id', '=', userId)
      .where('task_id', 'is not', null)
      .orderBy('task_id')
      .execute();
    return rows.map((row) => Number(row.task_id));
  }

  /** The tasks of a list. */
  async listTaskIds(listId: number): Promise<number[]> {
    const rows = await this.database.db.selectFrom('tasks').select('id').where('list_id', '=', listId).orderBy('id').execute();
    return rows.map((row) => Number(row.id));
  }

  /** The lists the user belongs to. */
  async listIds(userId: number): Promise<number[]> {
    const rows = await this.database.db.selectFrom('list_members').select('list_id').where('user_id', '=', userId).orderBy('list_id').execute();
    return rows.map((row) => Number(row.list_id));
  }

  async sessionIds(userId: number): Promise<number[]> {
    const rows = await this.database.db.selectFrom('auth_tokens').select('id').where('user_id', '=', userId).orderBy('id').execute();
    return rows.map((row) => Number(row.id));
  }

  /** The current entity tag of a task, as the API computes it. */
  async currentTag(taskId: number): Promise<string | undefined> {
    const row = await this.database.db.selectFrom('tasks').select(['id', 'updated_at']).where('id', '=', taskId).executeTakeFirst();
    return row && taskTag({ id: Number(row.id), updated_at: row.updated_at } as Parameters<typeof taskTag>[0]);
  }

  /**
   * Puts Alice, Bob and their lists back as they were meant to be: a working session, the known
   * password, the three lists with their members and roles, and a handful of tasks in each
   * place, titled with the secret of that place. Done through the API where it can be, and in
   * the database to undo a password change, to put memberships back (whoever is left to own
   * the list) and to remove what no one left may remove.
   */
  async repair(): Promise<void> {
    for (const name of ['alice', 'bob'] as const) {
      const role = this.roles[name];
      await this.restoreDetails(role.user);
      if (!(await this.sessionWorks(role.user))) role.user = await this.restoreUser(role.user);
    }
    await this.repairLists();
    await this.removeMisplacedTasks();
    for (const name of ['alice', 'bob'] as const) {
      const role = this.roles[name];
      const ids = await this.personalTaskIds(role.user.id);
      for (let count = ids.length; count < TASKS_PER_USER.least; count++) {
        await createTask(this.app, role.user, { title: `${role.secret} ${count}`, description: `${role.secret} notes` });
      }
      for (const id of ids.slice(TASKS_PER_USER.most)) await this.send(name, 'DELETE', `/api/tasks/${id}/`, undefined, 204);
    }
    for (const name of Object.keys(LISTS) as ListName[]) await this.repairListTasks(name);
  }

  /** The lists as planned (recreated if deleted), with their members and roles; the fuzzer's own lists removed. */
  private async repairLists(): Promise<void> {
    const { db } = this.database;
    for (const [name, plan] of Object.entries(LISTS) as [ListName, (typeof LISTS)[ListName]][]) {
      const list = this.lists[name];
      const row = await db.selectFrom('lists').select(['name', 'description']).where('id', '=', list.id).executeTakeFirst();
      if (row === undefined) {
        this.forgetList(list.id);
        list.id = await this.createList(plan.owner, list.secret, plan.others);
      } else if (row.name !== list.secret || row.description !== '') {
        await db.updateTable('lists').set({ name: list.secret, description: '' }).where('id', '=', list.id).execute();
      }
      const wanted = new Map<number, MemberRole>([[this.roles[plan.owner].user.id, 'owner']]);
      for (const [member, role] of Object.entries(plan.others) as [Member, MemberRole][]) wanted.set(this.userOf(member).id, role);
      const members = await db.selectFrom('list_members').select(['user_id', 'role']).where('list_id', '=', list.id).execute();
      for (const member of members) {
        const userId = Number(member.user_id);
        const role = wanted.get(userId);
        if (role === undefined) {
          await db.updateTable('tasks').set({ assignee_id: null }).where('list_id', '=', list.id).where('assignee_id', '=', userId).execute();
          await db.deleteFrom('list_members').where('list_id', '=', list.id).where('user_id', '=', userId).execute();
        } else if (role !== member.role) {
          await db.updateTable('list_members').set({ role }).where('list_id', '=', list.id).where('user_id', '=', userId).execute();
        }
      }
      for (const [userId, role] of wanted) {
        if (members.some((member) => Number(member.user_id) === userId)) continue;
        await db.insertInto('list_members').values({ list_id: list.id, user_id: userId, role, joined_at: now() }).execute();
      }
    }
    const kept = Object.values(this.lists).map((list) => list.id);
    const extra = await db.selectFrom('lists').select('id').where('id', 'not in', kept).execute();
    for (const { id } of extra) {
      const listId = Number(id);
      const owners = await db.selectFrom('list_members').select('user_id').where('list_id', '=', listId).where('role', '=', 'owner').execute();
      const owner = (['alice', 'bob'] as const).find((name) => owners.some((row) => Number(row.user_id) === this.roles[name].user.id));
      if (owner === undefined || (await this.send(owner, 'DELETE', `/api/lists/${listId}/`)) !== 204) {
        await db.deleteFrom('tasks').where('list_id', '=', listId).execute();
        await db.deleteFrom('lists').where('id', '=', listId).execute();
      }
      this.forgetList(listId);
    }
  }

  private forgetList(id: number): void {
    this.deletedListIds.push(id);
    this.deletedListIds.splice(0, Math.max(0, this.deletedListIds.length - DELETED_LISTS_KEPT));
  }

  /**
   * A task titled with a secret that is no longer where that secret may be read (moved into a
   * list, out of one, into another) is deleted, by whoever of Alice and Bob may, else in the
   * database: its secret would otherwise reach readers it is not meant for.
   */
  private async removeMisplacedTasks(): Promise<void> {
    const { db } = this.database;
    const homes = [
      ...(['alice', 'bob'] as const).map((name) => ({ secret: this.roles[name].secret, owner: this.roles[name].user.id, list: null as number | null })),
      ...Object.values(this.lists).map((list) => ({ secret: list.secret, owner: undefined, list: list.id as number | null })),
    ];
    const tasks = await db.selectFrom('tasks').select(['id', 'owner_id', 'list_id', 'title', 'description']).execute();
    for (const task of tasks) {
      const list = task.list_id === null ? null : Number(task.list_id);
      const misplaced = homes.some(
        (home) => (task.title.includes(home.secret) || task.description.includes(home.secret)) && (home.list !== list || (home.owner !== undefined && home.owner !== Number(task.owner_id))),
      );
      if (!misplaced) continue;
      const id = Number(task.id);
      if ((await this.send('alice', 'DELETE', `/api/tasks/${id}/`)) === 204 || (await this.send('bob', 'DELETE', `/api/tasks/${id}/`)) === 204) continue;
      await db.deleteFrom('tasks').where('id', '=', id).execute();
    }
  }

  /** Between a few and several tasks in the list, titled with its secret, written by its writers in turn and assigned round its members. */
  private async repairListTasks(name: ListName): Promise<void> {
    const { db } = this.database;
    const list = this.lists[name];
    const plan = LISTS[name];
    const rows = await db.selectFrom('tasks').select('id').where('list_id', '=', list.id).orderBy('id').execute();
    const members: Member[] = [plan.owner, ...(Object.keys(plan.others) as Member[])];
    const writers = members.filter((member): member is RoleName => member === plan.owner || (member !== 'inactive' && plan.others[member] !== 'viewer'));
    for (let count = rows.length; count < TASKS_PER_LIST.least; count++) {
      const writer = writers[count % writers.length]!;
      const assignee = this.userOf(members[count % members.length]!).id;
      const body = { title: `${list.secret} ${count}`, description: `${list.secret} notes`, list: list.id, assignee };
      await this.send(writer, 'POST', '/api/tasks/', body, 201);
    }
    for (const { id } of rows.slice(TASKS_PER_LIST.most)) await this.send(plan.owner, 'DELETE', `/api/tasks/${Number(id)}/`, undefined, 204);
  }

  /** A list made through the API by its owner, with its other members added by username. */
  private async createList(owner: RoleName, name: string, others: Partial<Record<Member, MemberRole>> = {}): Promise<number> {
    const response = await this.app.inject({ method: 'POST', url: '/api/lists/', headers: this.roles[owner].user.auth, payload: { name } });
    if (response.statusCode !== 201) throw new Error(`could not create a list: ${response.statusCode} ${response.body}`);
    const id = Number(response.json().id);
    for (const [member, role] of Object.entries(others) as [Member, MemberRole][]) {
      await this.send(owner, 'POST', `/api/lists/${id}/members/`, { username: this.userOf(member).username, role }, 201);
    }
    return id;
  }

  /** A request as one of the users; the status, or a failure when it is not the one expected. */
  private async send(as: RoleName, method: 'POST' | 'DELETE', url: string, payload?: Record<string, unknown>, expected?: number): Promise<number> {
    const response = await this.app.inject({ method, url, headers: this.roles[as].user.auth, ...(payload === undefined ? {} : { payload }) });
    if (expected !== undefined && response.statusCode !== expected) throw new Error(`${method} ${url} as ${as}: ${response.statusCode} ${response.body}`);
    return response.statusCode;
  }

  private async sessionWorks(user: TestUser): Promise<boolean> {
    const response = await this.app.inject({ method: 'GET', url: '/api/user/', headers: user.auth });
    return response.statusCode === 200 && response.json().id === user.id;
  }

  /** The username and details the user signed up with, which dj-rest-auth's user endpoint may have changed. */
  private async restoreDetails(user: TestUser): Promise<void> {
    await this.database.db
      .updateTable('users')
      .set({ username: user.username, username_key: usernameKey(user.username), email: '', first_name: '', last_name: '' })
      .where('id', '=', user.id)
      .execute();
  }

  private async restoreUser(user: TestUser): Promise<TestUser> {
    const accounts = createAccountsRepository(this.database);
    const existing = await this.database.db.selectFrom('users').select('id').where('username', '=', user.username).executeTakeFirst();
    if (existing === undefined) return createUser(this.app, { username: user.username });
    const { password: storedHash } = await this.database.db.selectFrom('users').select('password').where('id', '=', existing.id).executeTakeFirstOrThrow();
    await accounts.upgradePasswordHash(existing.id, storedHash, await hashPassword(PASSWORD));
    const token = await login(this.app, user.username, PASSWORD);
    return { ...user, id: Number(existing.id), password: PASSWORD, token, auth: { authorization: `Token ${token}` } };
  }
}

async function listen(app: FastifyInstance): Promise<Server> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as AddressInfo).port };
}
