/** True for a unique-constraint violation on either database. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Socket errors of a server that is down, restarting, unreachable or cut off. */
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * pg's own errors for a connection that could not be made or was lost: they carry no code.
 * (`Query read timeout` is the read timeout of openPostgres.)
 */
const PG_CONNECTION_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed)/;

/**
 * PostgreSQL's codes for a server that is shutting down, starting, out of connections or cut
 * off (class 08, 53300, 57P01–57P03), and SQLite's for a file that cannot be written now:
 * locked past busy_timeout, read-only, full, or failing to read or write.
 */
const UNAVAILABLE_CODES = /^(08...|53300|57P0[123]|SQLITE_(BUSY|READONLY|FULL|IOERR|CANTOPEN|PROTOCOL)(_.*)?)$/;

/**
 * True when a statement failed because the database cannot serve now, not because of the
 * statement: the request may be tried again later (503), and nothing it did was committed.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return NETWORK_ERRORS.has(code) || UNAVAILABLE_CODES.test(code);
  return PG_CONNECTION_MESSAGES.test(error.message);
}
