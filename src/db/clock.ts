/**
 * The current time as stored and served everywhere: ISO 8601, UTC, microseconds, `Z`
 * (`2026-11-24T03:15:53.617827Z`), the format the original API prints. Fixed width, so on
 * SQLite comparing the text compares the instants.
 */
export function now(): string {
  // The wall clock gives milliseconds; the monotonic clock's sub-millisecond part adds the
  // microsecond digits (the monotonic clock alone drifts from wall time over long uptimes).
  return timestampOf(Date.now() + (performance.now() % 1));
}

/** Formats epoch milliseconds (fractional part included) as a stored timestamp. */
export function timestampOf(epochMs: number): string {
  const whole = Math.floor(epochMs);
  const micros = Math.min(999, Math.floor((epochMs - whole) * 1000));
  return `${new Date(whole).toISOString().slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
}

export function secondsFromNow(seconds: number): string {
  return timestampOf(Date.now() + seconds * 1000);
}
