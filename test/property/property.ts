import http from 'node:http';
import type { TestContext } from 'node:test';
import { accessOf, accessProblems, departureProblems, replyProblems, snapshot, writeProblems } from './contract.js';
import { resolve, routedPath, send, transportOf, type Resolved } from './execute.js';
import type { Fixture } from './fixture.js';
import type { RequestPlan } from './plan.js';
import { ROUTES, type RouteSpec } from './routes.js';
import { viaHttp, type Outcome, type Reply } from './wire.js';

/** One request: its reply, the database around it, and the server's health afterwards. */
export async function problemsOf(fixture: Fixture, plan: RequestPlan, route: RouteSpec, crashes: CrashWatch): Promise<string[]> {
  const problems: string[] = [];
  const before = await snapshot(fixture.database);
  const secrets = await fixture.secrets();
  const resolved = await resolve(fixture, plan, route);
  const method = resolved.wire.method;
  const callerId = resolved.session?.userId;
  const path = routedPath(plan, resolved.wire);
  const access = accessOf(before, { path, method, callerId, body: resolved.wire.body.toString('latin1') }, ROUTES);
  const outcome = await Promise.race([send(plan, resolved), crashes.next()]);
  if ('failure' in outcome) {
    problems.push(outcome.failure);
  } else {
    const { reply } = outcome;
    problems.push(
      ...replyProblems(reply, {
        method,
        headers: resolved.wire.headers.map(([name, value]) => [name.toLowerCase(), value]),
        servesDocuments: route.servesDocuments === true,
        unhandledMethodOnKnownUrl: plan.mutation === 'none' && !route.path.includes(':') && !handles(route, method),
        parsed: wellFormed(plan, resolved) && reply.status !== 431,
        callerId,
        secrets,
      }),
      // A request head too large to read (431) is refused before anything else.
      ...accessProblems(reply, access, { method, direct: reachesObject(plan, route, resolved) && reply.status !== 431 }),
    );
    const after = await snapshot(fixture.database);
    const loggedInUserId = await signedInBy(fixture, reply);
    problems.push(...writeProblems(before, after, { method, status: reply.status, session: resolved.session, loggedInUserId }));
    problems.push(...departureProblems(before, after, { method, status: reply.status }));
  }
  problems.push(...crashes.take());
  try {
    await fixture.repair();
    problems.push(...(await stillAnswers(fixture, resolved)));
  } catch (error) {
    problems.push(`the server no longer serves a normal request: ${(error as Error).message}`);
  }
  problems.push(...crashes.take());
  return problems.length === 0 ? [] : [...new Set(problems), summary(plan, resolved, outcome)];
}

/**
 * Whether the route has a handler of its own for the method (HEAD goes with GET), whose 404s
 * mean "no such object" (DRF's "Invalid page.", say); OPTIONS and the rest must never be 404.
 */
function handles(route: RouteSpec, method: string): boolean {
  const methods = [...route.methods, ...(route.methods.includes('GET') ? ['HEAD'] : [])];
  return methods.includes(method.toUpperCase());
}

/**
 * Whether the request reaches the server as HTTP it can parse. Node's parser knows only its own
 * methods, in capitals (BREW or `get` are refused before anything is read); the injector and
 * Node's client send nothing else, while on a raw socket a tweak, or a byte in the target that
 * a request line cannot hold (a space, a control or non-ASCII byte from a query sent raw),
 * makes it garbage.
 */
function wellFormed(plan: RequestPlan, { wire }: Resolved): boolean {
  if (!http.METHODS.includes(wire.method)) return false;
  return transportOf(plan) !== 'raw' || (plan.tweak === 'none' && /^[\x21-\x7e]*$/.test(wire.target));
}

/**
 * Whether nothing but the object of the path can decide the outcome: the request is plain HTTP
 * with no unusual header, its path unchanged with named ids, its method one the route handles,
 * and it presents the caller's own token as the API expects it.
 */
function reachesObject(plan: RequestPlan, route: RouteSpec, resolved: Resolved): boolean {
  const authorization = plan.authorization;
  const ownToken =
    authorization !== undefined && authorization.scheme === 'Token' && authorization.separator === ' ' && authorization.suffix === '' && typeof authorization.token === 'string';
  return (
    ownToken &&
    resolved.session !== undefined &&
    resolved.namedIds &&
    plan.mutation === 'none' &&
    plan.headers.length === 0 &&
    wellFormed(plan, resolved) &&
    route.methods.includes(plan.method)
  );
}

/** The user a successful login signed in, from the token it returned (an opaque key, or a browser session's access token). */
async function signedInBy(fixture: Fixture, reply: Reply): Promise<number | undefined> {
  if (reply.status !== 200) return undefined;
  try {
    const { token, access } = JSON.parse(reply.body.toString('utf8')) as { token?: unknown; access?: unknown };
    if (typeof access === 'string') return Number(JSON.parse(Buffer.from(access.split('.')[1] ?? '', 'base64url').toString('utf8')).user_id);
    return typeof token === 'string' ? (await fixture.sessionOf(token))?.userId : undefined;
  } catch {
    return undefined;
  }
}

/** A normal request over a socket to the same server still gets its normal answer. */
async function stillAnswers(fixture: Fixture, { server }: Resolved): Promise<string[]> {
  const outcome = await viaHttp(server.port, {
    method: 'GET',
    target: '/api/tasks/',
    headers: [['authorization', fixture.roles.alice.user.auth.authorization]],
    body: Buffer.alloc(0),
    framing: 'length',
  });
  if ('failure' in outcome) return [`afterwards, a normal request failed: ${outcome.failure}`];
  const { status, body } = outcome.reply;
  return status === 200 && Array.isArray(JSON.parse(body.toString('utf8'))) ? [] : [`afterwards, a normal request got ${status} ${body.toString('utf8').slice(0, 200)}`];
}

function summary(plan: RequestPlan, { wire }: Resolved, outcome: Outcome): string {
  const request = `${wire.method} ${wire.target} via ${transportOf(plan)}${transportOf(plan) === 'raw' && plan.tweak !== 'none' ? ` (${plan.tweak})` : ''} to the ${plan.server} server\n` +
    wire.headers.map(([name, value]) => `  ${name}: ${value.slice(0, 120)}`).join('\n') +
    (wire.body.length > 0 ? `\n  body (${wire.body.length} bytes): ${JSON.stringify(wire.body.toString('latin1').slice(0, 300))}` : '');
  if ('failure' in outcome) return `request: ${request}`;
  const { status, headers, body } = outcome.reply;
  const replyHeaders = Object.entries(headers).map(([name, value]) => `  ${name}: ${String(value)}`).join('\n');
  return `request: ${request}\nreply: ${status}\n${replyHeaders}\n  body: ${JSON.stringify(body.toString('utf8').slice(0, 500))}`;
}

export interface CrashWatch {
  /** Settles when the process meets an error nothing handled. */
  next(): Promise<Outcome>;
  /** The unhandled errors since the last call, as problems. */
  take(): string[];
}

/**
 * The app runs in this process, so an error nothing handles (one that would end the server)
 * would end the test run instead. While the property runs, such errors are recorded and become
 * a failed run with its shrunk request, rather than the end of the test run.
 */
export function watchCrashes(t: TestContext): CrashWatch {
  const events = ['uncaughtException', 'unhandledRejection'] as const;
  const saved = events.map((event) => [event, process.rawListeners(event)] as const);
  let errors: string[] = [];
  let wake: ((outcome: Outcome) => void) | undefined;
  const record = (error: unknown) => {
    const message = `an unhandled error would have ended the server: ${(error as Error)?.stack ?? String(error)}`;
    errors.push(message);
    wake?.({ failure: message });
  };
  for (const event of events) {
    process.removeAllListeners(event);
    process.on(event, record);
  }
  t.after(() => {
    for (const [event, listeners] of saved) {
      process.removeAllListeners(event);
      for (const listener of listeners) process.on(event, listener as (...args: unknown[]) => void);
    }
  });
  return {
    next: () => new Promise((resolve) => (wake = resolve)),
    take: () => {
      const taken = errors;
      errors = [];
      return taken;
    },
  };
}
