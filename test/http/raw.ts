import { connect } from 'node:net';

/**
 * Writes raw bytes to the server and collects what it sends back until it closes the
 * connection; `abort` destroys the socket after writing instead, as a client that gives up.
 */
export function exchange(port: number, request: string | Buffer, { abort = false } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(request);
      if (abort) setTimeout(() => socket.destroy(), 50);
    });
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no reply within 10 s: ${JSON.stringify(received)}`)));
  });
}

/** The status line, header lines and body of each reply in a raw exchange. */
export function replies(raw: string): { status: string; headers: string; body: string }[] {
  return raw
    .split(/(?=HTTP\/1\.1 \d{3} )/)
    .filter((part) => part !== '')
    .map((part) => {
      const headersEnd = part.indexOf('\r\n\r\n');
      return {
        status: part.slice(0, part.indexOf('\r\n')),
        headers: part.slice(part.indexOf('\r\n') + 2, headersEnd),
        body: part.slice(headersEnd + 4),
      };
    });
}
