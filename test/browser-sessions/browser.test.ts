import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { browserMissing, launchBrowser } from '../browser.js';
import { createUser, dialectName, PASSWORD } from '../helpers.js';
import { browserSessions, serve } from './support.js';

const ACCESS_LIFETIME_SECONDS = 2;

/**
 * The client's script, as a page of the React client would run it: every request with
 * `credentials: 'include'`, the CSRF token taken from the login's reply and sent back in
 * X-CSRFToken. It never sees a token of the API.
 */
const CLIENT_SCRIPT = `
async function call(apiBase, method, path, csrf, body) {
  const headers = { 'content-type': 'application/json' };
  if (csrf) headers['X-CSRFToken'] = csrf;
  const response = await fetch(apiBase + path, { method, credentials: 'include', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, csrf: response.headers.get('X-CSRFToken'), body: await response.json().catch(() => null) };
}

async function story(apiBase, username, password, waitMs) {
  const login = await call(apiBase, 'POST', '/dj-rest-auth/login/', undefined, { username, password });
  const csrf = login.csrf;
  const created = await call(apiBase, 'POST', '/api/tasks/', csrf, { title: 'Written from the page' });
  const withoutToken = await call(apiBase, 'POST', '/api/tasks/', undefined, { title: 'Forged' });
  const listed = await call(apiBase, 'GET', '/api/tasks/');
  await new Promise((done) => setTimeout(done, waitMs));
  const expired = await call(apiBase, 'GET', '/api/tasks/');
  const refreshed = await call(apiBase, 'POST', '/dj-rest-auth/token/refresh/', csrf);
  const afterRefresh = await call(apiBase, 'GET', '/api/tasks/');
  const loggedOut = await call(apiBase, 'POST', '/dj-rest-auth/logout/', refreshed.csrf || csrf);
  const afterLogout = await call(apiBase, 'GET', '/api/tasks/');
  const refreshAfterLogout = await call(apiBase, 'POST', '/dj-rest-auth/token/refresh/', csrf);
  return { login, created, withoutToken, listed, expired, refreshed, afterRefresh, loggedOut, afterLogout, refreshAfterLogout, pageCookies: document.cookie };
}

async function readTasks(apiBase) {
  try {
    await fetch(apiBase + '/api/tasks/', { credentials: 'include' });
    return 'read';
  } catch (error) {
    return error.name;
  }
}
`;

/** A reply as the page's script saw it. */
interface Seen {
  status: number;
  csrf: string | null;
  body: unknown;
}

type Story = Record<'login' | 'created' | 'withoutToken' | 'listed' | 'expired' | 'refreshed' | 'afterRefresh' | 'loggedOut' | 'afterLogout' | 'refreshAfterLogout', Seen> & {
  pageCookies: string;
};

/** A web page of its own origin on loopback, as the React client is served apart from the API. */
async function servePage(t: TestContext): Promise<string> {
  const server: Server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>Tasks</title><script>${CLIENT_SCRIPT}</script>`);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  t.after(() => new Promise((done) => server.close(done)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}


describe(`[${dialectName}] a browser on another origin, in cookie mode`, () => {
  test(
    'when a page logs in, uses the task API, outlives its access token and logs out, then cookies alone carry the session and the API refuses it afterwards',
    { skip: browserMissing },
    async (t) => {
      const page = await servePage(t);
      const foreignPage = await servePage(t);
      const api = await serve(t, { env: { CORS_ALLOWED_ORIGINS: page, JWT_ACCESS_LIFETIME_SECONDS: String(ACCESS_LIFETIME_SECONDS) } });
      const alice = await createUser(api.app);

      const browser = await launchBrowser(t);
      const tab = await browser.newPage();
      await tab.goto(`${page}/`);

      const args = [api.base, alice.username, PASSWORD, (ACCESS_LIFETIME_SECONDS + 1) * 1000].map((value) => JSON.stringify(value));
      const story = (await tab.evaluate(`story(${args.join(', ')})`)) as Story;

      assert.equal(story.login.status, 200);
      assert.equal((story.login.body as { refresh: string }).refresh, '', 'the refresh token stays in its HttpOnly cookie');
      assert.match(String(story.login.csrf), /^[\w-]{43}$/, 'the page reads the CSRF token from the exposed header');
      assert.equal(story.created.status, 201);
      assert.deepEqual(story.withoutToken, { status: 403, csrf: null, body: { detail: 'CSRF Failed: CSRF token missing.' } });
      assert.deepEqual((story.listed.body as { title: string }[]).map((task) => task.title), ['Written from the page']);
      assert.equal(story.expired.status, 401, 'the access token expired');
      assert.equal(story.refreshed.status, 200);
      assert.equal((story.refreshed.body as { refresh: string }).refresh, '');
      assert.equal(story.afterRefresh.status, 200);
      assert.deepEqual(story.loggedOut.body, { detail: 'Successfully logged out.' });
      assert.equal(story.afterLogout.status, 401);
      assert.equal(story.refreshAfterLogout.status, 401);
      assert.equal(story.pageCookies, '', 'the page holds no token of the API');
      assert.deepEqual(await browserSessions(api, alice.id), []);

      // A page of an origin the API does not allow gets no reply it may read, credentials or not.
      const foreign = await browser.newPage();
      await foreign.goto(`${foreignPage}/`);
      const refused = await foreign.evaluate(`readTasks(${JSON.stringify(api.base)})`);
      assert.equal(refused, 'TypeError');
    },
  );
});
