import http from 'node:http';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';

/** A request as it goes on the wire: text is Latin-1, one character a byte. */
export interface WireRequest {
  method: string;
  /** Path and query, as the request line carries them. */
  target: string;
  headers: [string, string][];
  body: Buffer;
  framing: 'length' | 'chunked';
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** What the client saw: a reply, or a connection closed without one, or nothing in time. */
export type Outcome = { reply: Reply } | { failure: string };

/**
 * Long enough that only a stuck request reaches it, even behind the password hashing of a
 * busy two-core machine; it bounds a liveness check, it does not measure speed.
 */
export const REPLY_DEADLINE_MS = 15_000;

export async function viaInject(app: FastifyInstance, request: WireRequest): Promise<Outcome> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of request.headers) {
    const previous = headers[name];
    headers[name] = previous === undefined ? value : [previous, value].flat();
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ failure: `no reply within ${REPLY_DEADLINE_MS} ms` }), REPLY_DEADLINE_MS);
  });
  const injected = app
    .inject({ method: request.method as 'GET', url: request.target, headers, payload: request.body })
    .then((response): Outcome => ({ reply: { status: response.statusCode, headers: response.headers as Reply['headers'], body: response.rawPayload } }))
    .catch((error: Error): Outcome => ({ failure: `inject failed: ${error.message}` }));
  try {
    return await Promise.race([injected, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Through Node's own HTTP client on a fresh connection, as a program calling the API would. */
export function viaHttp(port: number, request: WireRequest): Promise<Outcome> {
  return new Promise((resolve) => {
    const grouped = new Map<string, string[]>();
    for (const [name, value] of request.headers) grouped.set(name, [...(grouped.get(name) ?? []), value]);
    // Node's client sends the body of a GET or DELETE unframed unless told to chunk it.
    if (request.framing === 'length' || request.body.length === 0) grouped.set('content-length', [String(request.body.length)]);
    else grouped.set('transfer-encoding', ['chunked']);
    const hasHost = grouped.has('host');
    const client = http.request({
      host: '127.0.0.1',
      port,
      method: request.method,
      path: request.target,
      agent: false,
      setHost: !hasHost,
      headers: Object.fromEntries([...grouped].map(([name, values]) => [name, values.length === 1 ? values[0]! : values])),
    });
    const settle = once(resolve);
    client.setTimeout(REPLY_DEADLINE_MS, () => {
      settle({ failure: `no reply within ${REPLY_DEADLINE_MS} ms` });
      client.destroy();
    });
    client.on('error', (error) => settle({ failure: `connection failed: ${error.message}` }));
    // A server that switches protocols or tunnels has answered too; its head is the reply.
    for (const event of ['upgrade', 'connect'] as const) {
      client.on(event, (response: http.IncomingMessage, socket: net.Socket) => {
        socket.destroy();
        settle({ reply: { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.alloc(0) } });
      });
    }
    client.on('response', (response) => {
      const parts: Buffer[] = [];
      response.on('data', (part: Buffer) => parts.push(part));
      response.on('error', (error) => settle({ failure: `reply cut short: ${error.message}` }));
      response.on('end', () =>
        settle({ reply: { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(parts) } }),
      );
    });
    client.end(request.body);
  });
}

/** Bytes written straight to a socket, for what Node's client refuses to send. */
export function viaSocket(port: number, bytes: Buffer, method: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    const settle = once((outcome: Outcome) => {
      resolve(outcome);
      socket.destroy();
    });
    socket.setTimeout(REPLY_DEADLINE_MS, () => settle({ failure: `no reply within ${REPLY_DEADLINE_MS} ms` }));
    socket.on('error', (error) => settle({ failure: `connection failed: ${error.message}` }));
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const reply = parseReply(received, method, false);
      if (reply) settle({ reply });
    });
    socket.on('close', () => {
      const reply = parseReply(received, method, true);
      settle(reply ? { reply } : { failure: received.length === 0 ? 'connection closed without a reply' : `incomplete reply: ${JSON.stringify(received.toString('latin1').slice(0, 300))}` });
    });
    socket.write(bytes);
  });
}

/** The first complete final reply in the bytes received so far, or undefined. */
function parseReply(data: Buffer, method: string, closed: boolean): Reply | undefined {
  let start = 0;
  for (;;) {
    const headEnd = data.indexOf('\r\n\r\n', start);
    if (headEnd === -1) return undefined;
    const [statusLine, ...lines] = data.subarray(start, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine ?? '')?.[1]);
    if (!Number.isInteger(status)) return closed ? { status: 0, headers: {}, body: data } : undefined;
    const headers: Record<string, string | string[]> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const previous = headers[name];
      headers[name] = previous === undefined ? value : [previous, value].flat();
    }
    const bodyStart = headEnd + 4;
    // Interim replies (100 Continue) come before the real one.
    if (status >= 100 && status < 200) {
      start = bodyStart;
      continue;
    }
    if (method.toUpperCase() === 'HEAD' || status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0) };
    const rest = data.subarray(bodyStart);
    if (String(headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
      const body = dechunk(rest);
      if (body) return { status, headers, body };
      return closed ? { status, headers, body: rest } : undefined;
    }
    const length = headers['content-length'];
    if (length !== undefined) {
      const size = Number(length);
      return rest.length >= size ? { status, headers, body: rest.subarray(0, size) } : closed ? { status, headers, body: rest } : undefined;
    }
    return closed ? { status, headers, body: rest } : undefined;
  }
}

function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (data.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

function once<T>(callback: (value: T) => void): (value: T) => void {
  let done = false;
  return (value) => {
    if (done) return;
    done = true;
    callback(value);
  };
}
