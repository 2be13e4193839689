import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { buildTestApp, dialectName } from '../helpers.js';
import { replies } from './raw.js';

/** A listening app with short timeouts; its port. */
async function listening(t: TestContext, env: Record<string, string>) {
  const { app } = await buildTestApp(t, { env });
  // A handler that never answers, as one stuck on a lock would.
  app.get('/test/stuck/', () => new Promise(() => {}));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as AddressInfo).port };
}

/** Writes `text` and waits, without closing, for whatever the server sends until it closes the connection. */
function sendAndWait(port: number, text: string): Promise<{ received: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
    socket.on('close', () => resolve({ received }));
    // A bound on the test, not an assertion on timing: without the server's deadlines it would wait for ever.
    socket.setTimeout(20_000, () => socket.destroy(new Error(`the server kept the connection open: ${JSON.stringify(received)}`)));
  });
}

describe(`[${dialectName}] deadlines on connections`, { concurrency: true }, () => {
  test('when a client sends part of its headers and stops, then it gets 408 in the contract shape and the connection is closed', async (t) => {
    const { port } = await listening(t, { HEADERS_TIMEOUT_SECONDS: '1', REQUEST_TIMEOUT_SECONDS: '2' });
    const { received } = await sendAndWait(port, 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    const [reply, ...more] = replies(received);
    assert.equal(reply!.status, 'HTTP/1.1 408 Request Timeout');
    assert.deepEqual(JSON.parse(reply!.body), { detail: 'Request timeout.' });
    assert.match(reply!.headers, /^x-content-type-options: nosniff$/m);
    assert.deepEqual(more, []);
  });

  test('when a client sends its headers but only part of the body, then it gets 408 once the request deadline passes', async (t) => {
    const { port } = await listening(t, { HEADERS_TIMEOUT_SECONDS: '1', REQUEST_TIMEOUT_SECONDS: '2' });
    const request = 'POST /api/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user';
    const [reply] = replies((await sendAndWait(port, request)).received);
    assert.equal(reply!.status, 'HTTP/1.1 408 Request Timeout');
    assert.deepEqual(JSON.parse(reply!.body), { detail: 'Request timeout.' });
  });

  test('when a keep-alive connection stays idle past its timeout, then the server closes it', async (t) => {
    const { port } = await listening(t, { KEEP_ALIVE_TIMEOUT_SECONDS: '1' });
    const { received } = await sendAndWait(port, 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.deepEqual(replies(received).map((reply) => reply.status), ['HTTP/1.1 200 OK']);
    assert.match(received, /^keep-alive: timeout=1$/im);
  });

  test('when a handler never answers, then the silent connection is closed after the connection timeout', async (t) => {
    const { port } = await listening(t, { CONNECTION_TIMEOUT_SECONDS: '1' });
    const { received } = await sendAndWait(port, 'GET /test/stuck/ HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal(received, '');
  });
});
