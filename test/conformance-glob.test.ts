// The `fs.globSync` stand-in that lets the conformance suite load on Node 20.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fromRoot } from './support/paths.js';

type GlobSync = (pattern: string | string[], options?: Record<string, unknown>) => string[];

describe('fs-glob shim', () => {
  let globSync: GlobSync;
  let dir: string;

  before(async () => {
    const shim = pathToFileURL(fromRoot('test/support/fs-glob-shim.mjs')).href;
    ({ globSync } = (await import(shim)) as { globSync: GlobSync });
    dir = await mkdtemp(join(tmpdir(), 'portcullis-glob-'));
    await mkdir(join(dir, 'a/b'), { recursive: true });
    await mkdir(join(dir, 'checks.json.d'));
    for (const file of ['checks.json', 'a/b/checks.json', 'a/xchecks.json', 'a/checks.json.bak']) {
      await writeFile(join(dir, file), '[]');
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('finds `**/<name>` at every depth, relative to cwd, like Node 22', () => {
    assert.deepEqual(globSync('**/checks.json', { cwd: dir }).sort(), [
      'a/b/checks.json',
      'checks.json',
    ]);
    assert.deepEqual(globSync('**/checks.json', { cwd: pathToFileURL(dir) }).length, 2);
    assert.deepEqual(globSync('**/checks.json', { cwd: join(dir, 'missing') }), []);
  });

  test('refuses patterns and options it does not implement', () => {
    for (const pattern of ['*.json', '**/*.json', 'a/**/checks.json', '**/{a,b}.json']) {
      assert.throws(() => globSync(pattern, { cwd: dir }), /unsupported pattern/);
    }
    assert.throws(() => globSync('**/checks.json', { exclude: [] }), /unsupported option/);
  });

  test('the hook gives the shim to the conformance package only', async () => {
    const script =
      "import('fs').then((m) => console.log(typeof m.globSync === 'function' ? 'native' : 'absent'))";
    const run = (args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, args, (err, stdout) => (err ? reject(err) : resolve(stdout))),
      );
    const hook = fromRoot('test/support/fs-glob-register.mjs');
    const plain = (await run(['--import', hook, '--input-type=module', '-e', script])).trim();
    // Everyone else sees the real node:fs (no globSync on Node 20, the native one later).
    const fs = (await import('node:fs')) as Record<string, unknown>;
    assert.equal(plain, typeof fs.globSync === 'function' ? 'native' : 'absent');
    const suite = fromRoot('node_modules/@modelcontextprotocol/conformance/dist/index.js');
    assert.match(await run(['--import', hook, suite, '--version']), /\d+\.\d+\.\d+/);
  });
});
