/**
 * The structure rules of `npm run lint` (issue 9) catch what they are for: the real ESLint and
 * the real dependency-cruiser run on probe files placed in src/ where the rules apply, then the
 * probes are removed. Removing or loosening a rule in eslint.config.js or .dependency-cruiser.js
 * makes this file fail.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ESLint } from 'eslint';
import { fromRoot } from './support/paths.js';

/** Unique per run, so a probe never collides with real code or another checkout's run. */
const TAG = `lint-probe-${process.pid}`;
const texts = new Map<string, string>();
const created: string[] = [];

function probe(path: string, text: string): string {
  texts.set(path, text);
  return path;
}

function writeProbes(): void {
  for (const [path, text] of texts) {
    const file = fromRoot(path);
    mkdirSync(dirname(file), { recursive: true });
    created.push(path);
    writeFileSync(file, text);
  }
}

/** A function exactly `lines` long, as ESLint counts it (first line to last). */
function functionOf(lines: number): string {
  const body = Array.from({ length: lines - 4 }, (_, i) => `  total += ${i};`).join('\n');
  return `export function long(): number {\n  let total = 0;\n${body}\n  return total;\n}\n`;
}

const FILES = {
  coreHttp: probe(
    `src/core/${TAG}-http.ts`,
    "import { createServer } from 'node:http';\nexport const s = createServer;\n",
  ),
  coreTypeOnly: probe(
    `src/core/${TAG}-types.ts`,
    "import type { IncomingMessage } from 'node:http';\nexport type R = IncomingMessage;\n",
  ),
  policyPg: probe(`src/policy/${TAG}-pg.ts`, "import pg from 'pg';\nexport const p = pg;\n"),
  cycleA: probe(
    `src/core/${TAG}-a.ts`,
    `import { b } from './${TAG}-b.js';\nexport const a = (): number => b() + 1;\n`,
  ),
  cycleB: probe(
    `src/core/${TAG}-b.ts`,
    `import { a } from './${TAG}-a.js';\nexport const b = (): number => a() + 1;\n`,
  ),
  // Two folders that use each other through different files: a folder cycle, no file cycle.
  folderUp: probe(
    `src/${TAG}-x/up.ts`,
    `import { down } from '../${TAG}-y/down.js';\nexport const up = down;\n`,
  ),
  folderDown: probe(`src/${TAG}-y/down.ts`, 'export const down = 1;\n'),
  folderBack: probe(
    `src/${TAG}-y/back.ts`,
    `import { other } from '../${TAG}-x/other.js';\nexport const back = other;\n`,
  ),
  folderOther: probe(`src/${TAG}-x/other.ts`, 'export const other = 2;\n'),
  serversGateway: probe(
    `src/servers/${TAG}-gateway.ts`,
    "import { startGateway } from '../http/gateway.js';\nexport const g = startGateway;\n",
  ),
  serversAllowed: probe(
    `src/servers/${TAG}-allowed.ts`,
    "import { isObject } from '../core/json.js';\nimport { z } from 'zod';\nexport const ok = [isObject, z];\n",
  ),
  storageHttp: probe(
    `src/storage/${TAG}-http.ts`,
    "import type { IncomingMessage } from 'node:http';\nexport type R = IncomingMessage;\n",
  ),
  longFunction: probe(`src/core/${TAG}-long-function.ts`, functionOf(61)),
  fitFunction: probe(`src/core/${TAG}-fit-function.ts`, functionOf(60)),
  longFile: probe(
    `src/core/${TAG}-long-file.ts`,
    Array.from({ length: 301 }, (_, i) => `export const c${i} = ${i};`).join('\n') + '\n',
  ),
  longTest: probe(`src/core/${TAG}-long.test.ts`, functionOf(80)),
  clean: probe(
    `src/core/${TAG}-clean.ts`,
    "import type { ServerResponse } from 'node:http';\n\n/** Why: a probe. */\nexport function done(res: ServerResponse): void {\n  res.end();\n}\n",
  ),
};

interface Violation {
  type: string;
  from: string;
  to: string;
  rule: { name: string; severity: string };
}

let violations: Violation[] = [];
let eslintMessages = new Map<string, string[]>();

function removeProbes(): void {
  for (const path of created) rmSync(fromRoot(path), { force: true });
  for (const dir of [`src/${TAG}-x`, `src/${TAG}-y`])
    rmSync(fromRoot(dir), { recursive: true, force: true });
}

function cruise(): Violation[] {
  const cli = fromRoot('node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
  const run = spawnSync(process.execPath, [cli, '--output-type', 'json', ...created], {
    cwd: fromRoot(),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.ok(run.stdout, `depcruise printed nothing: ${run.stderr}`);
  return (JSON.parse(run.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

async function lint(): Promise<Map<string, string[]>> {
  const eslint = new ESLint({ cwd: fromRoot() });
  const results = await eslint.lintFiles(created.filter((p) => p.endsWith('.ts')));
  return new Map(
    results.map((r) => [
      r.filePath.slice(fromRoot().length + 1),
      r.messages.map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`),
    ]),
  );
}

function rulesOn(from: string): string[] {
  return violations
    .filter((v) => v.from === from && v.rule.severity === 'error')
    .map((v) => v.rule.name);
}

describe('npm run lint structure rules', () => {
  before(async () => {
    try {
      writeProbes();
      violations = cruise();
      eslintMessages = await lint();
    } finally {
      removeProbes();
    }
  });
  after(removeProbes);

  test('core/ importing node:http at run time is an error; a type-only import is not', () => {
    assert.deepEqual(rulesOn(FILES.coreHttp), ['core-no-io']);
    assert.deepEqual(rulesOn(FILES.coreTypeOnly), []);
  });

  test('policy/ importing pg is an error', () => {
    assert.deepEqual(rulesOn(FILES.policyPg), ['core-no-io']);
  });

  test('a cycle between two files is an error', () => {
    // dependency-cruiser reports a cycle once, on whichever of its files it meets first.
    const pair: string[] = [FILES.cycleA, FILES.cycleB];
    const cycles = violations.filter((v) => v.rule.name === 'no-cycle' && pair.includes(v.from));
    assert.equal(cycles.length, 1, JSON.stringify(cycles));
    assert.deepEqual([cycles[0]?.from, cycles[0]?.to].sort(), pair.sort());
  });

  test('a cycle between two folders is an error, although no file cycle exists', () => {
    const folders = violations.filter(
      (v) => v.rule.name === 'no-folder-cycle' && v.from.includes(TAG),
    );
    assert.deepEqual(folders.map((v) => `${v.from} -> ${v.to}`).sort(), [
      `src/${TAG}-x -> src/${TAG}-y`,
      `src/${TAG}-y -> src/${TAG}-x`,
    ]);
    assert.equal(rulesOn(FILES.folderUp).includes('no-cycle'), false);
  });

  test('servers/ importing the gateway is an error; core/ and libraries are allowed', () => {
    assert.deepEqual(rulesOn(FILES.serversGateway), ['servers-imports']);
    assert.deepEqual(rulesOn(FILES.serversAllowed), []);
  });

  test('storage/ importing HTTP, even its types, is an error', () => {
    assert.deepEqual(rulesOn(FILES.storageHttp), ['storage-no-http']);
  });

  test('a function over 60 lines is an error; one of 60 is not', () => {
    const long = eslintMessages.get(FILES.longFunction) ?? [];
    assert.equal(long.length, 1, long.join('\n'));
    assert.match(long[0] ?? '', /^max-lines-per-function: .*\(61\)/);
    assert.deepEqual(eslintMessages.get(FILES.fitFunction), []);
  });

  test('a file over 300 lines is an error; test files are exempt from both limits', () => {
    const long = eslintMessages.get(FILES.longFile) ?? [];
    assert.equal(long.length, 1, long.join('\n'));
    assert.match(long[0] ?? '', /^max-lines: .*\(301\)/);
    assert.deepEqual(eslintMessages.get(FILES.longTest), []);
  });

  test('a clean file passes both linters', () => {
    assert.deepEqual(eslintMessages.get(FILES.clean), []);
    assert.deepEqual(rulesOn(FILES.clean), []);
  });
});
