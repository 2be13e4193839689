import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildTestApp, dialectName, sharedTestApp } from '../helpers.js';

const MAIN_PATHS = ['/api/tasks/', '/api/tasks/{id}/', '/api/login/', '/api/register/', '/api/user/', '/api/sessions/'];

/** GETs `url`, following redirects as a browser would; returns the final reply and its URL. */
async function browse(app: FastifyInstance, url: string): Promise<{ response: LightMyRequestResponse; url: URL }> {
  let current = new URL(url, 'http://localhost');
  for (let hop = 0; hop < 5; hop += 1) {
    const response = await app.inject({ method: 'GET', url: current.pathname + current.search });
    if (response.statusCode < 300 || response.statusCode >= 400) return { response, url: current };
    current = new URL(String(response.headers.location), current);
  }
  assert.fail(`too many redirects from ${url}`);
}

describe(`[${dialectName}] API documentation`, () => {
  const testApp = sharedTestApp();

  test('when the OpenAPI document is fetched, then it is OpenAPI 3.1 and lists the main paths', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: '/api/docs/json' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    const document = response.json();
    assert.equal(document.openapi, '3.1.0');
    assert.equal(document.info.title, 'Task Tracker API');
    for (const path of MAIN_PATHS) assert.ok(path in document.paths, `${path} in ${Object.keys(document.paths).join(' ')}`);
    assert.deepEqual(Object.keys(document.paths['/api/tasks/{id}/']).sort(), ['delete', 'get', 'patch', 'put']);
  });

  test('when the OpenAPI document is read, then it declares the token scheme and the authenticated operations require it', async () => {
    const document = (await testApp().app.inject({ method: 'GET', url: '/api/docs/json' })).json();
    assert.deepEqual(document.components.securitySchemes.token, {
      type: 'apiKey',
      in: 'header',
      name: 'Authorization',
      description: '`Token <key>` (or `Bearer <key>`, or `Bearer <access token>` of a browser session), the key that POST /api/login/ returns',
    });
    for (const [path, method] of [['/api/tasks/', 'get'], ['/api/tasks/', 'post'], ['/api/tasks/{id}/', 'patch'], ['/api/user/', 'get'], ['/api/sessions/', 'get']]) {
      assert.deepEqual(document.paths[path!][method!].security, [{ token: [] }], `${method} ${path}`);
    }
    for (const path of ['/api/login/', '/api/register/']) {
      assert.equal(document.paths[path].post.security, undefined, path);
    }
  });

  test('when the docs page is opened at /api/docs/, then an HTML page is served with a policy that lets its own scripts run', async () => {
    const { response } = await browse(testApp().app, '/api/docs/');
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/html/);
    assert.match(response.body, /swagger-ui/);
    const policy = String(response.headers['content-security-policy']);
    assert.match(policy, /script-src 'self'/);
  });

  for (const entry of ['/api/docs/', '/api/docs']) {
    test(`when the docs page is opened at ${entry}, then every script and style sheet it links is served`, async () => {
      const { response, url } = await browse(testApp().app, entry);
      assert.equal(response.statusCode, 200);
      const assets = [...response.body.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"/g)].map((match) => match[1]!);
      assert.ok(assets.some((asset) => asset.endsWith('.js')), `scripts in ${response.body}`);
      for (const asset of assets) {
        const target = new URL(asset, url);
        const fetched = await testApp().app.inject({ method: 'GET', url: target.pathname });
        assert.equal(fetched.statusCode, 200, `${asset} from ${url.pathname} is ${target.pathname}`);
      }
    });
  }
});

describe(`[${dialectName}] API documentation switched off`, () => {
  const testApp = sharedTestApp({ env: { API_DOCS: 'false' } });

  for (const url of ['/api/docs/json', '/api/docs/', '/api/docs', '/api/docs/static/index.html']) {
    test(`when API_DOCS is false and ${url} is asked for, then it is not found`, async () => {
      const { response } = await browse(testApp().app, url);
      assert.equal(response.statusCode, 404);
    });
  }

  test('when API_DOCS is false, then the welcome page does not link to the docs', async () => {
    const response = await testApp().app.inject({ method: 'GET', url: '/' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(Object.keys(response.json().links).sort(), ['login', 'register', 'tasks', 'user']);
  });

  test('when API_DOCS is true, then the welcome page links to the docs page and the document', async (t) => {
    const { app } = await buildTestApp(t);
    const links = (await app.inject({ method: 'GET', url: '/' })).json().links;
    assert.equal(links.docs, 'http://localhost:80/api/docs/');
    assert.equal(links.openapi, 'http://localhost:80/api/schema/');
  });
});
