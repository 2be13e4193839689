import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';
import type { CompiledQuery, DatabaseConnection, Driver, QueryResult, TransactionSettings } from 'kysely';
import { bindable } from './group-commit.js';

/**
 * Writes to a SQLite file run on a thread of their own (writer-thread.ts), in the group commit
 * driver there. better-sqlite3 is synchronous: on the event loop's thread, each write's
 * statements and each group's commit (its WAL writes and fsync) held up every other request,
 * reads included, for about two fifths of a write flood's time. Here the event loop sends a
 * write's statements as messages and goes on; reads outside transactions stay on its read
 * connection, without a message.
 *
 * What a unit is answered keeps the driver's promises: a write's release is answered after the
 * commit that holds it, and the read snapshot of this thread is ended before that answer is
 * passed on, so a read that follows an acknowledged write sees it.
 */
export class WriterThreadDriver implements Driver {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #statementIds = new Map<string, number>();
  #outbox: Request[] = [];
  #nextRequest = 1;
  #nextUnit = 1;
  /** Why the thread stopped, once it has: every later call fails with it. */
  #stopped: Error | undefined;
  #destroyed: Promise<void> | undefined;

  constructor(
    path: string,
    private readonly reads: LocalReads,
  ) {
    this.#worker = new Worker(THREAD_FILE, { workerData: { path }, resourceLimits: WRITER_HEAP });
    // Only calls in flight keep the process alive (see #call), as a database connection would.
    this.#worker.unref();
    this.#worker.on('message', (replies: Reply[]) => replies.forEach((reply) => this.#settle(reply)));
    this.#worker.on('error', (error) => this.#stop(error));
    this.#worker.on('exit', () => this.#stop(new Error('the database writer has stopped')));
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new RemoteUnit(this, this.#nextUnit++);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const unit = connection as RemoteUnit;
    unit.inTransaction = true;
    await this.#call({ op: 'begin', unit: unit.id, accessMode: settings.accessMode });
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await this.#call({ op: 'commit', unit: (connection as RemoteUnit).id });
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await this.#call({ op: 'rollback', unit: (connection as RemoteUnit).id });
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const unit = connection as RemoteUnit;
    if (unit.inTransaction) await this.#call({ op: 'release', unit: unit.id });
  }

  /** Also called by the database's close() itself: Kysely does not destroy a driver it never used. */
  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      if (this.#stopped === undefined) {
        await this.#call({ op: 'destroy', unit: 0 }).catch(() => {});
        await this.#worker.terminate();
      }
      this.reads.close();
    })();
    return this.#destroyed;
  }

  async execute<R>(unit: RemoteUnit, query: CompiledQuery): Promise<QueryResult<R>> {
    // A statement outside a transaction that only reads: on this thread's read connection.
    const reader = unit.inTransaction ? undefined : this.reads.readerOf(query.sql);
    if (reader !== undefined) return { rows: this.reads.run(reader, bindable(query.parameters)) as R[] };
    // The thread's driver makes the values bindable.
    const parameters = query.parameters as unknown[];
    const call = { op: 'execute', unit: unit.id, autonomous: !unit.inTransaction, ...this.#statement(query.sql), parameters } as const;
    return (await this.#call(call)) as QueryResult<R>;
  }

  /** The statement's id, with its SQL the first time; SQL beyond the cache's bound is sent every time. */
  #statement(sql: string): { statement: number; sql?: string } {
    const known = this.#statementIds.get(sql);
    if (known !== undefined) return { statement: known };
    if (this.#statementIds.size >= MAX_STATEMENT_IDS) return { statement: 0, sql };
    const statement = this.#statementIds.size + 1;
    this.#statementIds.set(sql, statement);
    return { statement, sql };
  }

  #call(request: Call): Promise<unknown> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped);
    const id = this.#nextRequest++;
    if (this.#pending.size === 0) this.#worker.ref();
    const endsUnit = request.op === 'release' || request.op === 'commit' || request.op === 'rollback' || (request.op === 'execute' && request.autonomous);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, endsUnit });
      this.#outbox.push({ ...request, id } as Request);
      if (this.#outbox.length === 1) setImmediate(this.#flush);
    });
  }

  /**
   * The calls of one turn go as one message, at its end: the writer thread then runs the turn's
   * writes together and commits them as one group, and each thread wakes once per turn of the
   * other rather than once per call.
   */
  readonly #flush = () => {
    const requests = this.#outbox;
    this.#outbox = [];
    if (this.#stopped === undefined) this.#worker.postMessage(requests);
  };

  #settle(reply: Reply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker.unref();
    // What the unit wrote may be committed now: reads from here on must see it.
    if (pending.endsUnit) this.reads.end();
    if (reply.error === undefined) pending.resolve(reply.result);
    else pending.reject(Object.assign(new Error(reply.error.message), reply.error));
  }

  #stop(error: Error): void {
    this.#stopped ??= error;
    for (const pending of this.#pending.values()) pending.reject(this.#stopped);
    this.#pending.clear();
  }
}

/** Compiled from writer-thread.ts beside this file; the tests run the TypeScript itself. */
const THREAD_FILE = new URL(import.meta.url.endsWith('.ts') ? './writer-thread.ts' : './writer-thread.js', import.meta.url);

/**
 * The thread's JavaScript holds only statements, their values and their results on the way: a
 * small young generation keeps the server's resident memory near what it was with one thread
 * (the server's own heap flags apply to every thread otherwise). The old generation's bound is
 * far above the largest result a transaction reads there (a sync page of the longest tasks).
 */
const WRITER_HEAP = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 128 };

/** Ids for the statements the server builds; list filters vary, so the SQL past them is sent whole. */
const MAX_STATEMENT_IDS = 1024;

/** The read connection of the event loop's thread, in its shared read snapshot (see readSnapshots). */
export interface LocalReads {
  /** The prepared statement, if `sql` only reads and returns rows; undefined otherwise. */
  readerOf(sql: string): SQLite.Statement | undefined;
  run(statement: SQLite.Statement, parameters: unknown[]): unknown[];
  /** Ends the snapshot: reads from here on see every commit so far. */
  end(): void;
  close(): void;
}

/** A request to the writer thread, about one unit (none for `destroy`). */
export type Call = { unit: number } & (
  /** Autonomous: outside a transaction, a unit of its own, answered once committed. */
  | { op: 'execute'; autonomous: boolean; statement: number; sql?: string; parameters: unknown[] }
  | { op: 'begin'; accessMode: TransactionSettings['accessMode'] }
  | { op: 'commit' | 'rollback' | 'release' | 'destroy' }
);

export type Request = Call & { id: number };

export interface Reply {
  id: number;
  result?: unknown;
  error?: { name: string; message: string; code?: string };
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  endsUnit: boolean;
}

/**
 * A unit of the writer thread's driver, named by its id. The thread holds it only as a
 * transaction; outside one, each statement is a unit of its own there.
 */
class RemoteUnit implements DatabaseConnection {
  inTransaction = false;

  constructor(
    private readonly driver: WriterThreadDriver,
    readonly id: number,
  ) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.driver.execute<R>(this, query);
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported');
  }
}
