/**
 * The most values one statement binds here: SQLite's limit (32,766), below PostgreSQL's
 * (65,535), so that a batch fits either database.
 */
export const MAX_PARAMETERS = 32_766;

export function inBatches<T>(items: readonly T[], size: number): T[][] {
  const batches: T[][] = [];
  for (let start = 0; start < items.length; start += size) batches.push(items.slice(start, start + size));
  return batches;
}
