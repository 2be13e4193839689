import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { PASSWORD, dialectName } from '../helpers.js';
import { freePort, startServer, tempDatabaseUrl, type Running } from '../server-process.js';
import { CONFIRM_URL, MAIL_SENT, NEW_PASSWORD, PASSWORD_RESET, REQUEST_URL, resetLink, startMailServer } from './support.js';

/**
 * The mailer as the server runs it, in its own process: what it sends, and what it writes to
 * its log when there is nowhere to send or sending fails.
 */

const SECRET = 'p@ss:w/rd% of the mail server';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function logLines(server: Running): LogLine[] {
  return server
    .output()
    .stdout.split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

/** The first log line with this message, waiting up to `ms` for it. */
async function logLine(server: Running, message: string, ms = 15_000): Promise<LogLine> {
  const deadline = Date.now() + ms;
  for (;;) {
    const line = logLines(server).find((candidate) => candidate.msg === message);
    if (line) return line;
    assert.ok(Date.now() < deadline, `no "${message}" in the log within ${ms} ms:\n${server.output().stdout}\n${server.output().stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The server on a fresh database, logging at info, with `env` for its mail settings. */
async function startLoggingServer(t: TestContext, env: Record<string, string>): Promise<Running> {
  return startServer(t, { DATABASE_URL: await tempDatabaseUrl(t), LOG_LEVEL: 'info', ...env });
}

async function post(server: Running, path: string, body: unknown) {
  return fetch(`${server.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Registers a user with this address over HTTP. */
async function register(server: Running, username: string, email: string) {
  const reply = await post(server, '/api/register/', { username, email, password: PASSWORD });
  assert.equal(reply.status, 201);
}

/** Asks for a reset and checks the usual reply, within `ms`: it never waits for the mail. */
async function requestReset(server: Running, email: string, ms = 2000) {
  const started = Date.now();
  const reply = await post(server, REQUEST_URL, { email });
  assert.equal(reply.status, 200);
  assert.deepEqual(await reply.json(), MAIL_SENT);
  assert.ok(Date.now() - started < ms, `the reply took ${Date.now() - started} ms`);
}

function assertNoSecret(server: Running) {
  const { stdout, stderr } = server.output();
  for (const form of [SECRET, encodeURIComponent(SECRET), Buffer.from(SECRET).toString('base64')]) {
    assert.ok(!stdout.includes(form) && !stderr.includes(form), `the mail server's password appears in the output as ${form}`);
  }
}

describe(`[${dialectName}] reset mails from the running server`, () => {
  test('when no mail server is configured, then the mail is written to the log at info, and its link works', async (t) => {
    const server = await startLoggingServer(t, {});
    await register(server, 'logged', 'logged@example.com');
    await requestReset(server, 'logged@example.com');

    const line = await logLine(server, 'mail written to the log, not sent (set EMAIL_URL or EMAIL_HOST to send mail)');
    assert.equal(line.level, 30);
    const mail = line.mail as { from: string; to: string; subject: string; text: string };
    assert.deepEqual({ ...mail, text: undefined }, { from: 'webmaster@localhost', to: 'logged@example.com', subject: 'Password reset on Task Tracker', text: undefined });
    const link = resetLink(mail.text);
    const reply = await post(server, CONFIRM_URL, { uid: link.uid, token: link.token, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD });
    assert.equal(reply.status, 200);
    assert.deepEqual(await reply.json(), PASSWORD_RESET);
  });

  test('when the mail server takes mail after a login set by EMAIL_HOST and its companions, then the mail arrives', async (t) => {
    const mail = await startMailServer(t, { user: 'mailer', password: SECRET });
    const server = await startLoggingServer(t, {
      EMAIL_HOST: '127.0.0.1',
      EMAIL_PORT: String(mail.port),
      EMAIL_HOST_USER: 'mailer',
      EMAIL_HOST_PASSWORD: SECRET,
      DEFAULT_FROM_EMAIL: 'reset@example.com',
      PASSWORD_RESET_URL: 'https://app.example.com/#/reset?uid={uid}&token={token}',
    });
    await register(server, 'hosted', 'hosted@example.com');
    await requestReset(server, 'hosted@example.com');

    const received = await mail.next();
    assert.deepEqual(received.to, ['hosted@example.com']);
    assert.equal(received.from, 'reset@example.com');
    assert.match(received.parsed.text!, /^https:\/\/app\.example\.com\/#\/reset\?uid=[\w-]+&token=[\w-]{43}$/m);
    assert.deepEqual(mail.logins.map((login) => login.username), ['mailer']);
    await logLine(server, 'password reset mail sent');
    assertNoSecret(server);
  });

  test('when the mail server refuses the login of EMAIL_URL, then the reply is the usual one and the log says why without the password', async (t) => {
    const mail = await startMailServer(t, { user: 'mailer', password: 'another password' });
    const server = await startLoggingServer(t, { EMAIL_URL: `smtp://mailer:${encodeURIComponent(SECRET)}@127.0.0.1:${mail.port}` });
    await register(server, 'refused', 'refused@example.com');
    await requestReset(server, 'refused@example.com');

    const line = await logLine(server, 'password reset mail not sent');
    assert.equal(line.level, 50);
    const error = line.err as { type: string; message: string; code: string };
    assert.equal(error.type, 'MailError');
    assert.equal(error.code, 'EAUTH');
    assert.match(error.message, new RegExp(`^SMTP delivery through 127\\.0\\.0\\.1:${mail.port} failed: Invalid login`));
    // The password in the URL reached the server as it is, percent-decoded.
    assert.deepEqual(mail.logins.map((login) => [login.username, login.password]), [['mailer', SECRET]]);
    assert.deepEqual(mail.received, []);
    assertNoSecret(server);
  });

  test('when the mail server is down, then the reply is the usual one and the failure is logged without the password', async (t) => {
    const closedPort = await freePort();
    const server = await startLoggingServer(t, { EMAIL_URL: `smtp://mailer:${encodeURIComponent(SECRET)}@127.0.0.1:${closedPort}` });
    await register(server, 'nomail', 'nomail@example.com');
    await requestReset(server, 'nomail@example.com');

    const line = await logLine(server, 'password reset mail not sent');
    const error = line.err as { message: string; code: string };
    assert.equal(error.code, 'ESOCKET');
    assert.match(error.message, /ECONNREFUSED/);
    assertNoSecret(server);
    // The server goes on serving.
    assert.equal((await fetch(`${server.base}/healthz`)).status, 200);
  });

  test('when the mail server accepts the connection and never answers, then the reply does not wait, and the delivery gives up after EMAIL_TIMEOUT', async (t) => {
    const silent = createServer((socket) => sockets.push(socket));
    const sockets: Socket[] = [];
    const port = await freePort();
    await new Promise<void>((listening) => silent.listen(port, '127.0.0.1', listening));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });
    const server = await startLoggingServer(t, { EMAIL_URL: `smtp://127.0.0.1:${port}`, EMAIL_TIMEOUT: '1' });
    await register(server, 'silent', 'silent@example.com');
    await requestReset(server, 'silent@example.com', 500);

    const line = await logLine(server, 'password reset mail not sent');
    assert.equal((line.err as { code: string }).code, 'ETIMEDOUT');
    assert.ok(sockets.length >= 1, 'the mailer connected');
  });
});
