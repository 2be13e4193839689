/**
 * The ceiling to compare against: node:http answering each benchmarked request with the status,
 * headers and body the API gave for it, without a database or framework. The headers are the
 * API's too, so both servers send the same bytes and the load generator, which shares the
 * machine, spends the same effort parsing either reply.
 * Usage: node bench/bare-server.ts <responses.json>, listening on PORT at HOST.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

export interface CannedResponse {
  method: string;
  path: string;
  status: number;
  /** The API's headers for this reply, so that both servers send the same bytes. */
  headers: Record<string, string>;
  body: string;
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: node bench/bare-server.ts <responses.json>');
const canned = new Map<string, CannedResponse>();
for (const response of JSON.parse(readFileSync(file, 'utf8')) as CannedResponse[]) {
  canned.set(`${response.method} ${response.path}`, response);
}

const server = createServer((request, response) => {
  // Read the request body as the API does, then answer.
  request.resume();
  request.on('end', () => {
    const found = canned.get(`${request.method} ${request.url}`);
    if (found === undefined) {
      response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end('{"detail":"Not found."}');
      return;
    }
    response.writeHead(found.status, found.headers).end(found.body);
  });
});

server.listen(Number(process.env.PORT ?? 8001), process.env.HOST ?? '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => server.close(() => process.exit(0)));
