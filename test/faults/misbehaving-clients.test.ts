import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { dialectName } from '../helpers.js';
import { MEMORY_BOUND_MIB, buildForProduction, startProductionServer } from '../production-server.js';
import { peakResidentBytes, signIn, tempDatabaseUrl, type Running } from '../server-process.js';

const SLOW_HEADER_CLIENTS = 200;
const SLOW_BODY_CLIENTS = 100;
const SILENT_CLIENTS = 100;
const LARGE_BODY_CLIENTS = 20;
/** Short deadlines so that the test sees the server end the attackers' connections. */
const TIMEOUTS = { HEADERS_TIMEOUT_SECONDS: '2', REQUEST_TIMEOUT_SECONDS: '3', CONNECTION_TIMEOUT_SECONDS: '4' };

interface Attacker {
  socket: Socket;
  /** When the server ended the connection, in ms since the attack began; undefined while open. */
  closedAt?: number;
  reply: string;
}

function attacker(server: Running, startedAt: number, behave: (socket: Socket) => void): Attacker {
  const { port } = new URL(server.base);
  const socket = connect(Number(port), '127.0.0.1');
  const state: Attacker = { socket, reply: '' };
  socket.on('data', (chunk) => (state.reply += chunk.toString('latin1')));
  socket.on('error', () => {});
  socket.on('close', () => (state.closedAt = Date.now() - startedAt));
  socket.on('connect', () => behave(socket));
  return state;
}

/** Writes `text` one byte at a time, a byte every `everyMs`, for as long as the socket is open. */
function trickle(socket: Socket, text: string, everyMs: number): void {
  let index = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || index >= text.length) return clearInterval(timer);
    socket.write(text[index]!);
    index += 1;
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

describe(`[${dialectName}] misbehaving clients`, () => {
  test('when hundreds of clients trickle headers or bodies, hold silent connections and send large bodies, then a well-behaved client is still served and every attacker is cut off', async (t) => {
    // The production build with its heap limits, whose memory bound the attack must not break.
    const server = await startProductionServer(t, buildForProduction(), await tempDatabaseUrl(t), TIMEOUTS);
    const token = await signIn(server.base, 'well_behaved');
    const auth = { authorization: `Token ${token}` };
    const host = new URL(server.base).host;
    const residentBefore = peakResidentBytes(server.child.pid!);
    const startedAt = Date.now();

    const attackers: { kind: string; attacker: Attacker }[] = [];
    const add = (kind: string, count: number, behave: (socket: Socket) => void) => {
      for (let index = 0; index < count; index += 1) attackers.push({ kind, attacker: attacker(server, startedAt, behave) });
    };
    add('slow headers', SLOW_HEADER_CLIENTS, (socket) => trickle(socket, `GET /api/tasks/ HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Token ${token}\r\n\r\n`, 200));
    add('slow body', SLOW_BODY_CLIENTS, (socket) => {
      socket.write(`POST /api/tasks/ HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Token ${token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`);
      trickle(socket, `{"title":"${'x'.repeat(99_980)}"}`, 200);
    });
    add('silent', SILENT_CLIENTS, () => {});
    const large = `{"title":"${'x'.repeat(4 * 1024 * 1024)}"}`;
    add('large body', LARGE_BODY_CLIENTS, (socket) => {
      socket.write(`POST /api/tasks/ HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Token ${token}\r\nContent-Type: application/json\r\nContent-Length: ${large.length}\r\n\r\n`);
      socket.write(large);
    });

    // The well-behaved client reads and writes throughout the attack.
    const latencies: number[] = [];
    while (Date.now() - startedAt < 6_000) {
      const began = performance.now();
      const created = await fetch(`${server.base}/api/tasks/`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'Served during the attack' }),
        signal: AbortSignal.timeout(2_000),
      });
      assert.equal(created.status, 201);
      const listed = await fetch(`${server.base}/api/tasks/${((await created.json()) as { id: number }).id}/`, { headers: auth, signal: AbortSignal.timeout(2_000) });
      assert.equal(listed.status, 200);
      await listed.text();
      latencies.push(performance.now() - began);
    }
    latencies.sort((a, b) => a - b);
    t.diagnostic(
      `well-behaved client during the attack: ${latencies.length} create+read pairs, p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms; server peak RSS ${(peakResidentBytes(server.child.pid!) / 2 ** 20).toFixed(0)} MiB (${(residentBefore / 2 ** 20).toFixed(0)} MiB before)`,
    );

    // Every attacker's connection ends by the deadlines (plus Node's one-second check interval).
    const deadline = Date.now() + 5_000;
    while (attackers.some(({ attacker }) => attacker.closedAt === undefined) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 100));
    const open = attackers.filter(({ attacker }) => attacker.closedAt === undefined);
    for (const { attacker } of attackers) attacker.socket.destroy();
    assert.deepEqual(open.map(({ kind }) => kind), [], 'connections the server left open');
    for (const { kind, attacker } of attackers) {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(attacker.reply)?.[1];
      // A slow or silent client is told 408 before its connection is closed (or just closed);
      // a body over the limit is refused with 413 (which the client, still sending, may miss
      // when the connection is closed).
      const expected = kind === 'large body' ? ['413', undefined] : ['408', undefined];
      assert.ok(expected.includes(status), `${kind}: ${attacker.reply.slice(0, 80)}`);
    }
    assert.equal(server.child.exitCode, null);
    // The bound the sustained-load test holds the server to, under attack too.
    assert.ok(peakResidentBytes(server.child.pid!) < MEMORY_BOUND_MIB * 2 ** 20, `the server stays under ${MEMORY_BOUND_MIB} MiB`);
  });

  test('when more connections are opened than MAX_CONNECTIONS, then the extra ones are closed at once, and the server serves again when the others go', async (t) => {
    const server = await startProductionServer(t, buildForProduction(), await tempDatabaseUrl(t), { MAX_CONNECTIONS: '50' });
    const startedAt = Date.now();
    // 40 first (the test's own HTTP client may hold a connection or two), then 20 more.
    const held = Array.from({ length: 40 }, () => attacker(server, startedAt, () => {}));
    await new Promise((done) => setTimeout(done, 500));
    const extra = Array.from({ length: 20 }, () => attacker(server, startedAt, () => {}));
    await new Promise((done) => setTimeout(done, 1_000));
    assert.equal(held.filter((each) => each.closedAt !== undefined).length, 0, 'connections within the limit stay open');
    const refused = extra.filter((each) => each.closedAt !== undefined).length;
    assert.ok(refused >= 10, `${refused} of the 20 connections past 40 were closed`);
    for (const each of held) each.socket.destroy();
    await new Promise((done) => setTimeout(done, 200));
    assert.equal((await fetch(`${server.base}/healthz`, { signal: AbortSignal.timeout(2_000) })).status, 200);
  });
});
