/**
 * The case folding behind `search=`. It runs only here, in JavaScript, on the stored text
 * (kept beside each task in `title_folded` and `description_folded`) and on the search term,
 * so SQLite and PostgreSQL match the same tasks whatever the database's locale; a database's
 * own lower() folds per its locale (PostgreSQL under `C` folds only ASCII).
 *
 * Close to Unicode's full case folding: lower, upper, then lower case again maps `ß`, `ẞ` and
 * `SS` to `ss` (the capital `ẞ` is its own upper case, so one upper-then-lower pass would leave
 * it `ß`) and `ﬀ` to `ff`; `İ` becomes a plain `i` (lower case alone would give `i` plus a combining
 * dot, so `istanbul` would not find `İstanbul`); the final sigma `ς` becomes `σ`, since
 * lower case writes a word-final sigma as `ς` and a term ending mid-word must still match.
 * NFC first, so composed and decomposed accents match; not NFKC, whose expansions (up to 18
 * characters for one) would multiply the stored text.
 */
export function foldForSearch(text: string): string {
  return text.normalize('NFC').replaceAll('İ', 'i').toLowerCase().toUpperCase().toLowerCase().replaceAll('ς', 'σ');
}

/** The folded columns to write with a task's new title or description. */
export function foldedColumns(changes: { title?: string; description?: string }): {
  title_folded?: string;
  description_folded?: string;
} {
  return {
    ...(changes.title === undefined ? {} : { title_folded: foldForSearch(changes.title) }),
    ...(changes.description === undefined ? {} : { description_folded: foldForSearch(changes.description) }),
  };
}
