/**
 * TEMPORARY allow-list of today's violators of the structure rules (issue 9), read by
 * eslint.config.js and .dependency-cruiser.js. The rules themselves are errors; each entry
 * below exempts one known violation while the pipeline and OAuth refactors land, and the lead
 * deletes entries as those branches merge. Never add an entry: fix the code instead. When every
 * list is empty, delete this file and its two imports.
 */

/**
 * max-lines-per-function (60, blank lines and comments skipped): file → the functions over the
 * limit today, with their length. The file's limit is raised to its longest listed function so it
 * cannot grow; ESLint cannot exempt a function by name, so the names are here for the reader.
 */
export const longFunctions = {
  // pipeline helper (src/proxy): exchange not split in time
  'src/proxy/forward.ts': { exchange: 145 },
};

/** max-lines (300, blank lines and comments skipped): file → its length today. */
export const longFiles = {
  'src/proxy/forward.ts': 312, // pipeline helper
};

/**
 * no-folder-cycle: folder → the folders it may still import although that closes a cycle.
 * Every edge of a cycle is listed (a cycle is reported on each of its edges).
 */
export const folderCycles = {};

/**
 * Module-level import rules (no-cycle, core-no-io, servers-imports, storage-no-http):
 * dependency-cruiser "known violations", each { type, from, to, rule: { name, severity } }
 * (a cycle adds `cycle: [{ name }]`). None today.
 */
export const knownImportViolations = [];
