import type SQLite from 'better-sqlite3';
import type { CompiledQuery, DatabaseConnection, Driver, QueryResult, TransactionSettings } from 'kysely';
import { isDatabaseUnavailable } from './errors.js';

/**
 * Writes to a SQLite file with `synchronous=FULL` pay one fsync per commit, and better-sqlite3
 * takes it on the thread that calls it: with a commit per write, the server writes one request
 * at a time, each waiting for the disk. This driver makes the writes that arrive together share
 * a commit (group commit). For a file it runs on a thread of its own (writer-thread.ts, driven
 * by WriterThreadDriver); in memory, on the event loop's.
 *
 * - A write (one statement, or the transaction of a use case) is a unit. Units take the
 *   connection one at a time; the first of a group opens the group's transaction (`BEGIN
 *   IMMEDIATE`), and each unit runs in a savepoint of its own, so a unit that fails or rolls back
 *   undoes only itself.
 * - A group commits when the connection is free at the end of a turn of its thread's event
 *   loop (`setImmediate`): the writes that came in that turn share its one fsync.
 * - A unit's promise settles only after the commit that holds it, so a request is answered once
 *   its write is durable; if the commit fails (disk full, I/O error), every unit of the group
 *   fails and nothing of it was written.
 * - Reads outside a transaction never see a group before its commit, and never wait behind
 *   writes: for a file they run on the server's thread, on its read connection (see
 *   WriterThreadDriver); a read that comes here is a unit like a write, answered after the
 *   commit.
 *
 * An in-memory database has a single connection: each unit commits as it ends, and reads take
 * their turn on the connection.
 */
export class GroupCommitDriver implements Driver {
  #writer: Unit | undefined;
  readonly #waiting: Array<{ handOver: () => void; refuse: (error: unknown) => void }> = [];
  #group: Group | undefined;
  #commitScheduled = false;
  /** Why writes are refused until the end of this turn: the write lock could not be had. */
  #refusal: unknown;
  /** A group's commit came due while a unit held the connection: it commits as that unit leaves. */
  #commitDue = false;
  readonly #begin: SQLite.Statement;
  readonly #beginRead: SQLite.Statement;
  readonly #commit: SQLite.Statement;
  readonly #rollback: SQLite.Statement;
  /** Each unit's own, in the group's transaction. */
  readonly #unitSavepoint: Savepoint;
  /** A transaction's inside a unit that already writes. */
  readonly #innerSavepoint: Savepoint;

  /** In memory: no group outlives the unit that opened it. */
  readonly #commitEachUnit: boolean;

  constructor(
    private readonly connection: SQLite.Database,
    private readonly statements: StatementCache,
    options: { commitEachUnit?: boolean } = {},
  ) {
    this.#commitEachUnit = options.commitEachUnit ?? false;
    this.#begin = connection.prepare('BEGIN IMMEDIATE');
    this.#beginRead = connection.prepare('BEGIN');
    this.#commit = connection.prepare('COMMIT');
    this.#rollback = connection.prepare('ROLLBACK');
    this.#unitSavepoint = savepoint(connection, 'unit');
    this.#innerSavepoint = savepoint(connection, 'inner_transaction');
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return this.newUnit();
  }

  /** A unit, at once: units take the connection in the order they first ask for it. */
  newUnit(): DatabaseConnection {
    return new Unit(this);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const unit = connection as Unit;
    if (settings.accessMode === 'read only' && unit.mode === undefined) {
      // A consistent read of several statements (a sync page). It needs no write lock, so
      // another process's write does not hold it up; it joins a group already open, which
      // holds the lock anyway.
      unit.readOnly = true;
      await this.#enter(unit, 'snapshot');
      return;
    }
    if (unit.mode === 'write') {
      // A transaction inside a unit that already writes (a migration in the migrator's series).
      this.#checkGroup(unit);
      this.#innerSavepoint.open.run();
      unit.inner = true;
      return;
    }
    await this.#enter(unit, 'write');
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    this.#closeTransaction(connection as Unit, 'keep');
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    this.#closeTransaction(connection as Unit, 'undo');
  }

  /**
   * The unit's end: the connection passes on, and a unit that wrote waits for its group's
   * commit, kept or not: what refused it (a unique key, say) may be another unit's row that
   * the commit could still lose, and then the commit's error is the answer.
   */
  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const unit = connection as Unit;
    if (unit.mode === undefined) return;
    // One statement, or the migrator's series: kept unless a statement failed.
    if (unit.savepointOpen) this.#closeSavepoint(unit, unit.failed ? 'undo' : 'keep');
    const { group } = unit;
    this.#leave(unit);
    if (group !== undefined) await group.committed;
  }

  /** Waits for the unit holding the connection, if any, so that no half of it is committed. */
  async destroy(): Promise<void> {
    await this.#enter(new Unit(this), 'alone');
    const closed = new Error('the database is closed');
    for (const waiting of this.#waiting.splice(0)) waiting.refuse(closed);
    this.connection.close();
  }

  async execute<R>(connection: DatabaseConnection, query: CompiledQuery): Promise<QueryResult<R>> {
    const unit = connection as Unit;
    const { sql } = query;
    const parameters = bindable(query.parameters);
    if (unit.mode === 'write') this.#checkGroup(unit);
    const statement = this.statements.get(sql);
    if (unit.readOnly && !statement.readonly) throw new Error(`a write in a read-only transaction: ${sql}`);
    if (unit.mode === 'read' && !statement.readonly) {
      await this.#enter(unit, 'write');
    } else if (unit.mode === undefined) {
      await this.#enter(unit, OUTSIDE_TRANSACTIONS.test(sql) ? 'alone' : statement.readonly && this.#commitEachUnit ? 'read' : 'write');
    }
    try {
      if (statement.reader) return { rows: statement.all(parameters) as R[] };
      const { changes, lastInsertRowid } = statement.run(parameters);
      return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    } catch (error) {
      unit.failed = true;
      // SQLite ends the whole transaction on some errors (disk full, I/O error): every unit of
      // the group is then undone, and fails with the error.
      if (unit.mode === 'write' && !this.connection.inTransaction) this.#abandonGroup(error);
      throw error;
    }
  }

  /**
   * Takes the connection for the unit, in turn (a unit reading an in-memory database already
   * holds it); a write opens the group's transaction if none is, and the unit's savepoint.
   */
  async #enter(unit: Unit, mode: UnitMode): Promise<void> {
    if (unit.mode === undefined) {
      if (this.#writer !== undefined) await new Promise<void>((handOver, refuse) => this.#waiting.push({ handOver, refuse }));
      this.#writer = unit;
    }
    if (mode === 'snapshot' && this.#group !== undefined) mode = 'write';
    unit.mode = mode;
    try {
      if (mode === 'alone') this.#commitGroup();
      if (mode === 'snapshot') this.#beginRead.run();
      if (mode !== 'write') return;
      if (this.#group === undefined) this.#beginGroup();
      unit.group = this.#group;
      this.#unitSavepoint.open.run();
      unit.savepointOpen = true;
    } catch (error) {
      this.#leave(unit);
      throw error;
    }
  }

  #beginGroup(): void {
    if (this.#refusal !== undefined) throw this.#refusal;
    try {
      this.#begin.run();
    } catch (error) {
      // Another process holds the write lock past busy_timeout (or the file cannot be
      // written): the units behind, waiting or arriving in this turn, would each wait as long
      // again, on the event loop. They are refused at once with the same error (503); the
      // first write of a later turn tries again.
      if (isDatabaseUnavailable(error)) {
        this.#refusal = error;
        setImmediate(() => (this.#refusal = undefined));
        for (const waiting of this.#waiting.splice(0)) waiting.refuse(error);
      }
      throw error;
    }
    this.#group = new Group();
  }

  /** SQLite may have ended the group's transaction on an earlier statement's error: the unit is undone. */
  #checkGroup(unit: Unit): void {
    if (unit.group !== this.#group) throw unit.group?.error ?? new Error('the transaction has ended');
  }

  #leave(unit: Unit): void {
    unit.mode = undefined;
    if (this.#commitEachUnit || this.#commitDue) this.#commitGroup();
    const next = this.#waiting.shift();
    // The connection is handed to the next unit directly, so no other can take it in between.
    if (next !== undefined) next.handOver();
    else this.#writer = undefined;
    if (this.#group === undefined || this.#commitScheduled) return;
    this.#commitScheduled = true;
    setImmediate(() => {
      this.#commitScheduled = false;
      // A unit still running (a transaction awaiting other I/O) commits the group as it leaves,
      // before the next unit joins: units arriving all the time cannot hold a commit back.
      if (this.#writer === undefined) this.#commitGroup();
      else this.#commitDue = true;
    });
  }

  #closeTransaction(unit: Unit, outcome: 'keep' | 'undo'): void {
    // It only read: ending it either way is the same, and a rollback cannot be busy.
    if (unit.mode === 'snapshot') {
      if (this.connection.inTransaction) this.#rollback.run();
      return;
    }
    if (!unit.inner) return this.#closeSavepoint(unit, outcome);
    unit.inner = false;
    this.#endSavepoint(unit, this.#innerSavepoint, outcome);
  }

  #closeSavepoint(unit: Unit, outcome: 'keep' | 'undo'): void {
    unit.savepointOpen = false;
    unit.kept = this.#endSavepoint(unit, this.#unitSavepoint, outcome);
  }

  /** Releases or undoes one of the unit's savepoints; whether what it holds was kept. */
  #endSavepoint(unit: Unit, savepoint: Savepoint, outcome: 'keep' | 'undo'): boolean {
    if (unit.group !== this.#group) {
      // SQLite ended the group's transaction on an error: nothing of the unit can be kept.
      if (outcome === 'keep') this.#checkGroup(unit);
      return false;
    }
    if (outcome === 'undo') savepoint.rollbackTo.run();
    savepoint.release.run();
    return outcome === 'keep';
  }

  #commitGroup(): void {
    this.#commitDue = false;
    const group = this.#group;
    if (group === undefined) return;
    this.#group = undefined;
    try {
      this.#commit.run();
    } catch (error) {
      // Never thrown from here (a turn's callback, or a unit's end): the group's units fail
      // with the error, and a transaction left open makes the next BEGIN fail and report.
      try {
        if (this.connection.inTransaction) this.#rollback.run();
      } catch {}
      group.fail(error);
      return;
    }
    group.succeed();
  }

  #abandonGroup(error: unknown): void {
    this.#group?.fail(error);
    this.#group = undefined;
    this.#commitDue = false;
  }
}

/**
 * What a unit holds the connection for: writes (in the group's transaction), a read (in-memory
 * database only), a read-only transaction while no group is open (`BEGIN`, no write lock), or a
 * statement SQLite refuses inside a transaction (run between groups).
 */
type UnitMode = 'write' | 'read' | 'snapshot' | 'alone';

interface Savepoint {
  open: SQLite.Statement;
  release: SQLite.Statement;
  rollbackTo: SQLite.Statement;
}

function savepoint(connection: SQLite.Database, name: string): Savepoint {
  return {
    open: connection.prepare(`SAVEPOINT ${name}`),
    release: connection.prepare(`RELEASE ${name}`),
    rollbackTo: connection.prepare(`ROLLBACK TO ${name}`),
  };
}

/** `VACUUM` (the command line's backup) cannot run inside a transaction. */
const OUTSIDE_TRANSACTIONS = /^\s*vacuum\b/i;

/** One use of the connection through Kysely: a statement, or a transaction. */
class Unit implements DatabaseConnection {
  mode: UnitMode | undefined;
  savepointOpen = false;
  /** In a transaction opened inside the unit's own (see beginTransaction). */
  inner = false;
  /** A read-only transaction. */
  readOnly = false;
  failed = false;
  /** Whether the unit's writes were kept in the group (its savepoint released, not undone). */
  kept = false;
  /** The group the unit writes in. */
  group: Group | undefined;

  constructor(private readonly driver: GroupCommitDriver) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.driver.execute<R>(this, query);
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported');
  }
}

/** The units of one transaction, awaiting its commit. */
class Group {
  readonly committed: Promise<void>;
  succeed!: () => void;
  #reject!: (error: unknown) => void;
  /** Why the group failed, once it has. */
  error: unknown;

  constructor() {
    this.committed = new Promise<void>((resolve, reject) => {
      this.succeed = resolve;
      this.#reject = reject;
    });
    // A group whose units all failed or rolled back has no one waiting for it.
    this.committed.catch(() => {});
  }

  fail(error: unknown): void {
    this.error = error;
    this.#reject(error);
  }
}

export interface StatementCache {
  get(sql: string): SQLite.Statement;
}

/** SQLite cannot bind booleans, so they are passed as 1/0. */
export const bindable = (parameters: ReadonlyArray<unknown>) =>
  parameters.map((value) => (typeof value === 'boolean' ? Number(value) : value));
