// `node:fs` plus a minimal `globSync`, handed to the MCP conformance suite on Node 20 (where
// `fs.globSync` does not exist yet, Node ≥ 22) by fs-glob-hooks.mjs. The suite only globs
// `**/checks.json` (in its report command), so only `**/<file name>` patterns are supported;
// anything else fails loudly instead of silently matching the wrong files.
import fs from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export * from 'node:fs';
export default { ...fs, globSync };

const SUPPORTED = /^\*\*\/([^*?[\]{}!/\\]+)$/;

/**
 * `fs.globSync(pattern, { cwd })` for `**\/<name>`: every file called `<name>` under `cwd`
 * (at any depth, including `cwd` itself), as paths relative to `cwd`, like Node 22's.
 * Symbolic links to directories are not followed.
 */
export function globSync(pattern, options = {}) {
  const patterns = Array.isArray(pattern) ? pattern : [pattern];
  const names = patterns.map((p) => {
    const match = typeof p === 'string' ? SUPPORTED.exec(p) : null;
    if (!match) {
      throw new Error(
        `fs.globSync shim (test/support/fs-glob-shim.mjs): unsupported pattern ${JSON.stringify(p)}; only "**/<file name>" is implemented`,
      );
    }
    return match[1];
  });
  const unsupported = Object.keys(options).filter((k) => k !== 'cwd');
  if (unsupported.length > 0) {
    throw new Error(
      `fs.globSync shim (test/support/fs-glob-shim.mjs): unsupported option(s) ${unsupported.join(', ')}; only "cwd" is implemented`,
    );
  }
  const cwd =
    options.cwd instanceof URL ? fileURLToPath(options.cwd) : (options.cwd ?? process.cwd());
  const found = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'EACCES') return;
      throw err;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (names.includes(entry.name)) found.push(relative(cwd, path));
    }
  };
  walk(cwd);
  return found;
}
