import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dialectName } from '../helpers.js';
import { CONFIRM_URL, REQUEST_URL, resetLink, startMailServer } from '../password-reset/support.js';
import { startServer, tempDatabaseUrl } from '../server-process.js';

/**
 * Every secret the server is given or gives out, sent through every way in (bodies as JSON, form
 * and multipart, headers, cookies, query strings) at every log level: none may appear in any
 * log line. Mail goes to a real SMTP server: without one, the development mailer writes each
 * mail, reset link included, to the log on purpose.
 */

const PASSWORD = 'Secret-Password-Hunter-2-correct';
const NEW_PASSWORD = 'Another-Secret-Passphrase-Staple-9';
const WRONG_PASSWORD = 'Wrong-Secret-Guess-Battery-77';
const METRICS_TOKEN = 'metrics-secret-0123456789abcdef0123456789abcdef';
const MAIL_PASSWORD = 'mail-server-secret-pw';
const COOKIE_SECRET = 'cookie-secret-value-5f3a';
const QUERY_SECRET = 'query-secret-value-77aa';
const FORGED_TOKEN = 'forged0123456789forged0123456789forged01';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;

function form(fields: Record<string, string>) {
  return { type: 'application/x-www-form-urlencoded', body: new URLSearchParams(fields).toString() };
}

function multipart(fields: Record<string, string>) {
  const boundary = 'secretsboundary';
  const body = Object.entries(fields)
    .map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
    .join('');
  return { type: `multipart/form-data; boundary=${boundary}`, body: `${body}--${boundary}--\r\n` };
}

const json = (fields: Record<string, unknown>) => ({ type: 'application/json', body: JSON.stringify(fields) });

describe(`[${dialectName}] secrets never reach the log`, () => {
  for (const level of LEVELS) {
    test(`when every endpoint is driven with passwords, tokens, cookies and reset tokens at LOG_LEVEL=${level}, then none appears in any log line`, async (t) => {
      const mail = await startMailServer(t, { user: 'mailer', password: MAIL_PASSWORD });
      const server = await startServer(t, {
        DATABASE_URL: await tempDatabaseUrl(t),
        LOG_LEVEL: level,
        METRICS_TOKEN,
        EMAIL_URL: `smtp://mailer:${MAIL_PASSWORD}@127.0.0.1:${mail.port}`,
      });
      const secrets = new Set([PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, METRICS_TOKEN, MAIL_PASSWORD, COOKIE_SECRET, QUERY_SECRET, FORGED_TOKEN]);
      const send = async (method: string, path: string, options: { body?: { type: string; body: string }; token?: string; headers?: Record<string, string> } = {}) => {
        const response = await fetch(server.base + path, {
          method,
          headers: {
            cookie: `sessionid=${COOKIE_SECRET}; csrftoken=${COOKIE_SECRET}`,
            ...(options.token ? { authorization: `Token ${options.token}` } : {}),
            ...(options.body ? { 'content-type': options.body.type } : {}),
            ...options.headers,
          },
          body: options.body?.body,
        });
        const text = await response.text();
        return { status: response.status, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : undefined };
      };
      const secretQuery = `?password=${QUERY_SECRET}&token=${QUERY_SECRET}&api_key=${QUERY_SECRET}`;

      // Accounts: every body encoding, right and wrong passwords.
      const email = 'secret-keeper@example.com';
      assert.equal((await send('POST', `/api/register/${secretQuery}`, { body: json({ username: 'keeper', password: PASSWORD, email }) })).status, 201);
      assert.equal((await send('POST', '/api/register/', { body: form({ username: 'keeper2', password: PASSWORD }) })).status, 201);
      assert.equal((await send('POST', '/api/register/', { body: multipart({ username: 'keeper3', password: WRONG_PASSWORD.slice(0, 3) }) })).status, 400);
      for (const body of [json({ username: 'keeper', password: WRONG_PASSWORD }), form({ username: 'keeper', password: WRONG_PASSWORD }), multipart({ username: 'keeper', password: WRONG_PASSWORD })]) {
        assert.equal((await send('POST', `/api/login/${secretQuery}`, { body })).status, 400);
      }
      const token = (await send('POST', '/api/login/', { body: multipart({ username: 'keeper', password: PASSWORD }) })).json!.token as string;
      const other = (await send('POST', '/api/login/', { body: form({ username: 'keeper2', password: PASSWORD }) })).json!.token as string;
      secrets.add(token).add(other);

      // Authenticated endpoints with the token, a forged one and the token in the query string too.
      for (const path of ['/api/user/', '/api/sessions/', '/api/tasks/', '/api/lists/', '/api/tasks/sync/', `/api/tasks/${secretQuery}`, `/api/tasks/?token=${token}`]) {
        assert.equal((await send('GET', path, { token })).status < 500, true);
        assert.equal((await send('GET', path, { token: FORGED_TOKEN })).status, 401);
      }
      assert.equal((await send('POST', '/api/tasks/', { token, body: json({ title: 'Keep the secrets' }) })).status, 201);
      assert.equal((await send('PATCH', '/api/user/', { token, body: json({ email, password: PASSWORD }) })).status, 200);
      assert.equal((await send('POST', '/api/user/password/', { token, body: json({ current_password: WRONG_PASSWORD, new_password: NEW_PASSWORD }) })).status, 400);
      assert.equal((await send('POST', '/api/user/password/', { token: other, body: form({ current_password: PASSWORD, new_password: NEW_PASSWORD }) })).status, 204);
      assert.equal((await send('DELETE', '/api/user/', { token, body: json({ current_password: WRONG_PASSWORD }) })).status, 400);
      assert.equal((await send('GET', '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 200);
      assert.equal((await send('GET', '/metrics', { headers: { authorization: `Bearer ${FORGED_TOKEN}` } })).status, 401);
      assert.equal((await send('GET', '/api/admin/users/', { token })).status, 403);

      // Password reset: the mailed token in the confirm body, used twice.
      assert.equal((await send('POST', REQUEST_URL, { body: json({ email }) })).status, 200);
      const link = resetLink((await mail.next()).parsed.text ?? '');
      secrets.add(link.token);
      const confirm = json({ uid: link.uid, token: link.token, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD });
      assert.equal((await send('POST', CONFIRM_URL, { body: confirm })).status, 200);
      assert.equal((await send('POST', CONFIRM_URL, { body: confirm })).status, 400);
      assert.equal((await send('POST', `${CONFIRM_URL}${secretQuery}`, { body: multipart({ uid: link.uid, token: FORGED_TOKEN, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }) })).status, 400);

      // Logging out and a request after it, then a clean stop, which logs too.
      assert.equal((await send('POST', '/api/logout/', { token: other })).status, 204);
      assert.equal((await send('GET', '/api/user/', { token: other })).status, 401);
      server.child.kill('SIGTERM');
      await server.exited;

      const { stdout, stderr } = server.output();
      const log = stdout + stderr;
      if (level === 'trace' || level === 'debug' || level === 'info') assert.match(log, /"msg":"incoming request"/, 'the requests were logged');
      const leaks = [...secrets].filter((secret) => log.includes(secret) || log.includes(encodeURIComponent(secret)));
      assert.deepEqual(leaks, [], `secrets in the log:\n${leakingLines(log, leaks).join('\n')}`);
    });
  }
});

function leakingLines(log: string, leaks: string[]): string[] {
  return log.split('\n').filter((line) => leaks.some((secret) => line.includes(secret) || line.includes(encodeURIComponent(secret)))).slice(0, 5);
}

