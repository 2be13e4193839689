import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { browserMissing, launchBrowser } from '../browser.js';
import { buildTestApp, createTask, createUser, dialectName } from '../helpers.js';

const SCREENSHOT = join(import.meta.dirname, '..', '..', 'test-results', 'api-docs.png');

describe(`[${dialectName}] the interactive API documentation in a browser`, { skip: browserMissing }, () => {
  test('when a user opens /api/docs/, authorizes with a token and tries GET /api/tasks/, then the page lists the task routes and shows their tasks', async (t) => {
    const { app } = await buildTestApp(t);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const alice = await createUser(app);
    await createTask(app, alice, { title: 'Seen through the docs page' });

    const browser = await launchBrowser(t);
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    page.on('requestfailed', (request) => failures.push(`${request.url()}: ${request.failure()?.errorText}`));
    // Everything the page loads comes from this server: no CDN.
    page.on('request', (request) => {
      if (!request.url().startsWith(base) && !request.url().startsWith('data:')) failures.push(`off-site request: ${request.url()}`);
    });

    await page.goto(`${base}/api/docs/`);
    const tasksOperation = page.locator('.opblock', { has: page.locator('.opblock-summary-path', { hasText: /^\/api\/tasks\/$/ }) }).filter({ has: page.locator('.opblock-summary-method', { hasText: 'GET' }) });
    await tasksOperation.waitFor();
    const paths = await page.locator('#operations-tag-tasks ~ * .opblock-summary-path, .opblock-tag-section .opblock-summary-path').allTextContents();
    for (const path of ['/api/tasks/', '/api/tasks/{id}/', '/api/tasks/deleted/', '/api/tasks/sync/']) {
      assert.ok(paths.some((shown) => shown.replace(/\u200b/g, '') === path), `${path} in ${paths.join(' ')}`);
    }

    await page.locator('.auth-wrapper button.authorize').click();
    // The header scheme's form (the cookie scheme of browser sessions has one too).
    const tokenForm = page.locator('.modal-ux .auth-container').filter({ hasText: /Name:\s*Authorization/ });
    await tokenForm.locator('input[type=text]').fill(alice.auth.authorization);
    await tokenForm.locator('button.authorize').click();
    await page.locator('.modal-ux button.btn-done').first().click();

    await tasksOperation.locator('.opblock-summary').click();
    await tasksOperation.getByRole('button', { name: 'Try it out' }).click();
    const reply = page.waitForResponse((response) => new URL(response.url()).pathname === '/api/tasks/');
    await tasksOperation.getByRole('button', { name: 'Execute' }).click();
    const answered = await reply;
    assert.equal(answered.status(), 200);
    assert.equal(new URL(answered.url()).search, '', 'no filter filled in by the page');
    assert.equal(answered.request().headers().authorization, alice.auth.authorization);

    const liveReply = tasksOperation.locator('.live-responses-table');
    await liveReply.locator('.response-col_status', { hasText: '200' }).waitFor();
    assert.match(await liveReply.textContent() ?? '', /Seen through the docs page/);
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    t.diagnostic(`screenshot: ${SCREENSHOT}`);
    assert.deepEqual(failures, []);
  });
});
