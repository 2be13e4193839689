import { isDatabaseUnavailable } from './errors.js';

/** A statement as sent to PostgreSQL: named, so each connection parses and plans it once. */
export interface NamedStatement {
  name: string;
  text: string;
  values: unknown[];
  /** 'array': each row an array of its values, in the order of `fields`. */
  rowMode?: 'array';
}

export interface StatementResult {
  rows: unknown[];
  fields: ReadonlyArray<{ name: string }>;
}

/** Runs one statement on a connection of the pool, with the pool's timeout and discarding. */
export type RunStatement = (statement: NamedStatement) => Promise<StatementResult>;

/**
 * The most calls sent as one statement; more in one turn are sent as several, on as many
 * connections. One statement is run by one PostgreSQL process, and its reply is read only once
 * complete: a whole turn's calls in one statement (32 at the benchmark's 32 connections) left
 * the server waiting while PostgreSQL ran them one after another on one core, then PostgreSQL
 * idle while the server answered them all. Several smaller statements run side by side and
 * their replies come in one after another: with 8, a list of 20 tasks was answered 1.7 times as
 * often as with 64, a single task 1.5 times, each with a little less CPU per response.
 */
export const MAX_BATCH = 8;

/** PostgreSQL's protocol numbers a statement's parameters with 16 bits. */
const MAX_PARAMETERS = 65535;

/** The column that tells which call a row of a batch answers (1 for the first); no statement's own. */
const BATCH_COLUMN = '#batch';

interface Call {
  values: unknown[];
  resolve(rows: unknown[]): void;
  reject(error: unknown): void;
}

/**
 * Sending a statement costs the server a write and a read on the socket, each a system call
 * with its wake-ups, whatever the statement: for a one-row lookup they are most of the CPU it
 * costs (62 µs per lookup measured at 32 concurrent lookups, against 8 µs when the lookups of
 * one turn of the event loop went as one statement). So the calls of a prepared statement made
 * in one turn of the event loop are sent together, at the end of the turn (setImmediate), as
 * one statement: each call's statement as a subquery, with its placeholders renumbered, the
 * subqueries joined by UNION ALL, each row tagged with its call's number. Parameters stay
 * untyped placeholders, so PostgreSQL infers their types as for the statement alone. Nothing
 * is cached across batches: a call is sent after it is made, so it sees every write that had
 * committed by then.
 *
 * When a batch fails for want of the server, every call fails with it (503). When it fails for
 * any other reason, which may be one call's value (a number out of range, a malformed
 * timestamp), each call is sent again on its own, so that it fails only the request that made it.
 */
export function batchingStatement(
  sql: string,
  parameterCount: number,
  run: RunStatement,
  newName: () => string,
): (values: unknown[]) => Promise<unknown[]> {
  const cap = Math.max(1, Math.min(MAX_BATCH, Math.floor(MAX_PARAMETERS / Math.max(1, parameterCount))));
  // The statement for k calls at [k]: at most `cap` names per statement on each connection.
  const statements: Array<{ name: string; text: string } | undefined> = [];
  const statementFor = (k: number) =>
    (statements[k] ??= { name: newName(), text: k === 1 ? sql : unionOf(sql, parameterCount, k) });

  let queue: Call[] = [];
  const flush = () => {
    const calls = queue;
    queue = [];
    // As many statements as the cap requires, of sizes as even as can be.
    const count = Math.ceil(calls.length / cap);
    for (let index = 0, start = 0; index < count; index += 1) {
      const end = start + Math.ceil((calls.length - start) / (count - index));
      const batch = calls.slice(start, end);
      start = end;
      // A rejected batch rejects its calls; a call already settled ignores it.
      send(batch).catch((error: unknown) => batch.forEach((call) => call.reject(error)));
    }
  };

  const alone = (call: Call) =>
    run({ ...statementFor(1), values: call.values }).then((result) => call.resolve(result.rows), call.reject);

  async function send(calls: Call[]): Promise<void> {
    if (calls.length === 1) return alone(calls[0]!);
    let result: StatementResult;
    try {
      result = await run({ ...statementFor(calls.length), values: calls.flatMap((call) => call.values), rowMode: 'array' });
    } catch (error) {
      if (isDatabaseUnavailable(error)) calls.forEach((call) => call.reject(error));
      else calls.forEach(alone);
      return;
    }
    const rows = splitRows(result, calls.length);
    calls.forEach((call, index) => call.resolve(rows[index]!));
  }

  return (values) =>
    new Promise((resolve, reject) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push({ values, resolve, reject });
    });
}

/** `sql` for k calls: `select 1 as "#batch", q1.* from (sql) as q1 union all select 2, q2.* ...`. */
export function unionOf(sql: string, parameterCount: number, k: number): string {
  const branches: string[] = [];
  for (let index = 0; index < k; index += 1) {
    const alias = `q${index + 1}`;
    const statement = renumbered(sql, index * parameterCount);
    branches.push(`select ${index + 1}${index === 0 ? ` as "${BATCH_COLUMN}"` : ''}, ${alias}.* from (${statement}) as ${alias}`);
  }
  return branches.join(' union all ');
}

/**
 * Placeholders (`$n`), and what may hold text that looks like one: quoted strings (also E''
 * and dollar-quoted ones), quoted names and comments, which are kept as they are. A `$` within
 * a name (`a$1`) is part of it.
 */
const PLACEHOLDER_OR_QUOTED =
  /(?<![\w$])[Ee]'(?:[^'\\]|\\[\s\S]|'')*'|'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/|(?<![\w$])\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$[\s\S]*?\$\1\$|(?<![\w$])\$(\d+)/g;

/** `sql` with each placeholder `$n` written `$(n + offset)`. */
export function renumbered(sql: string, offset: number): string {
  if (offset === 0) return sql;
  return sql.replace(PLACEHOLDER_OR_QUOTED, (token, _tag, number: string | undefined) =>
    number === undefined ? token : `$${Number(number) + offset}`,
  );
}

/**
 * A batch's rows (arrays, the batch column first) as each call's row objects, without the
 * batch column. Rows are grouped by their call's number, each call's in the order they came:
 * PostgreSQL appends the subqueries' rows, each subquery's in its own order.
 */
function splitRows(result: StatementResult, k: number): unknown[][] {
  const rows: unknown[][] = Array.from({ length: k }, () => []);
  const names = result.fields.map((field) => field.name);
  for (const values of result.rows as unknown[][]) {
    const row: Record<string, unknown> = {};
    for (let column = 1; column < names.length; column += 1) row[names[column]!] = values[column];
    const call = rows[(values[0] as number) - 1];
    if (call === undefined) throw new Error(`batched statement: a row of no call (${String(values[0])})`);
    call.push(row);
  }
  return rows;
}
