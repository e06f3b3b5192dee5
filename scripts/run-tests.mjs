// Runs every compiled test file with node's test runner. Node 20 has no glob support in
// `node --test`, so the files are listed here. Arguments narrow the run to paths containing them.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? walk(join(dir, e.name))
      : e.name.endsWith('.test.js')
        ? [join(dir, e.name)]
        : [],
  );
}

const filters = process.argv.slice(2);
const files = ['dist/src', 'dist/test']
  .flatMap(walk)
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files found (was the build run?)');
  process.exit(1);
}
const concurrency = Math.max(2, availableParallelism());
const result = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
