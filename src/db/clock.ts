/**
 * The current time as stored and served everywhere: ISO 8601, UTC, microseconds, `Z`
 * (`2026-11-24T03:15:53.617827Z`), the format the original API prints. Fixed width, so on
 * SQLite comparing the text compares the instants.
 */
export function now(): string {
  return formatMicros(nextMicros());
}

let lastMicros = 0;

/**
 * Microseconds since the epoch: the wall clock's milliseconds plus the monotonic clock's
 * sub-millisecond part (the monotonic clock alone drifts from wall time over long uptimes),
 * never repeating or going back within this process, so writes are ordered as they happened.
 */
function nextMicros(): number {
  const micros = Date.now() * 1000 + Math.floor((performance.now() % 1) * 1000);
  lastMicros = micros > lastMicros ? micros : lastMicros + 1;
  return lastMicros;
}

function formatMicros(micros: number): string {
  const millis = Math.floor(micros / 1000);
  return `${new Date(millis).toISOString().slice(0, 23)}${String(micros % 1000).padStart(3, '0')}Z`;
}

/** Formats epoch milliseconds (fractional part included) as a stored timestamp. */
export function timestampOf(epochMs: number): string {
  return formatMicros(Math.floor(epochMs * 1000));
}

/**
 * A formatter for instants that are read many times within one millisecond, such as the
 * expiry check of every authenticated request. Formatting a Date costs more than the token
 * lookup itself, so each instance keeps the text of the last millisecond it formatted.
 */
export function millisecondTimestamps(): (epochMs: number) => string {
  let lastMs = Number.NaN;
  let lastText = '';
  return (epochMs) => {
    const ms = Math.floor(epochMs);
    if (ms !== lastMs) {
      lastMs = ms;
      lastText = timestampOf(ms);
    }
    return lastText;
  };
}

export function secondsFromNow(seconds: number): string {
  return timestampOf(Date.now() + seconds * 1000);
}
