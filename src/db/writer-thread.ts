import { parentPort, workerData } from 'node:worker_threads';
import type { CompiledQuery, DatabaseConnection } from 'kysely';
import { GroupCommitDriver } from './group-commit.js';
import { connectWriter, statementCache } from './sqlite-connection.js';
import type { Reply, Request } from './writer-client.js';

// The thread that writes a SQLite file (see WriterThreadDriver): the group commit driver, run on
// its own event loop, with the units of the server's thread as messages.

const port = parentPort!;
const connection = connectWriter((workerData as { path: string }).path);
const driver = new GroupCommitDriver(connection, statementCache(connection), {});
const units = new Map<number, DatabaseConnection>();
/** The SQL of each statement id, sent once by the server's thread. */
const statements = new Map<number, string>();

/** Taken without waiting, so that units ask for the connection in the order their requests came. */
function unitOf(id: number): DatabaseConnection {
  let unit = units.get(id);
  if (unit === undefined) {
    unit = driver.newUnit();
    units.set(id, unit);
  }
  return unit;
}

async function handle(request: Request): Promise<unknown> {
  switch (request.op) {
    case 'execute':
      if (request.sql !== undefined) statements.set(request.statement, request.sql);
      return request.autonomous ? autonomous(request) : driver.execute(unitOf(request.unit), queryOf(request));
    case 'begin':
      return driver.beginTransaction(unitOf(request.unit), { accessMode: request.accessMode });
    case 'commit':
      return driver.commitTransaction(unitOf(request.unit));
    case 'rollback':
      return driver.rollbackTransaction(unitOf(request.unit));
    case 'release': {
      const unit = units.get(request.unit);
      units.delete(request.unit);
      if (unit !== undefined) await driver.releaseConnection(unit);
      return undefined;
    }
    case 'destroy':
      // The server's thread ends this thread once answered.
      await driver.destroy();
      return undefined;
  }
}

/**
 * A statement outside a transaction is a unit of its own: it lets the next unit have the
 * connection at once, and is answered after its group's commit, as its release would be. If
 * the commit fails, that is the answer, whatever the statement's own outcome.
 */
async function autonomous(request: Request & { op: 'execute' }): Promise<unknown> {
  const unit = driver.newUnit();
  let outcome: { result: unknown } | { error: unknown };
  try {
    outcome = { result: await driver.execute(unit, queryOf(request)) };
  } catch (error) {
    outcome = { error };
  }
  await driver.releaseConnection(unit);
  if ('error' in outcome) throw outcome.error;
  return outcome.result;
}

function queryOf(request: Request & { op: 'execute' }): CompiledQuery {
  return { sql: statements.get(request.statement)!, parameters: request.parameters } as unknown as CompiledQuery;
}

/** An error as the server's thread can rebuild it: SQLite's code decides its answer (503, 400...). */
function describe(error: unknown): Reply['error'] {
  const { name, message, code } = error as { name?: unknown; message?: unknown; code?: unknown };
  return {
    name: typeof name === 'string' ? name : 'Error',
    message: typeof message === 'string' ? message : String(error),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

/** Replies ready in this turn, sent as one message at its end (see WriterThreadDriver). */
let outbox: Reply[] = [];

function send(reply: Reply): void {
  outbox.push(reply);
  if (outbox.length === 1) setImmediate(flush);
}

function flush(): void {
  const replies = outbox;
  outbox = [];
  port.postMessage(replies);
}

port.on('message', (requests: Request[]) => {
  for (const request of requests) {
    handle(request).then(
      (result) => send({ id: request.id, result }),
      (error: unknown) => send({ id: request.id, error: describe(error) }),
    );
  }
});
