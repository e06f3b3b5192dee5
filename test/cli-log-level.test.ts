/**
 * LOG_LEVEL as every command reads it: empty is unset (as for every variable), an unknown level
 * is a configuration error naming the variable (exit 78), never a pino stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fromRoot } from './support/paths.js';

const BIN = fromRoot('bin', 'portcullis.js');

function start(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => void lines.push(l));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exit, stderr: () => stderr, lines: () => lines };
}

function gatewayConfig(): { file: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-loglevel-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    'address: 127.0.0.1:0\ninsecure_server: true\ndatabroker_storage_type: memory\n',
  );
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function waitForLine(lines: () => string[], text: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (lines().some((l) => l.includes(text))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no line with ${JSON.stringify(text)} in:\n${lines().join('\n')}`);
}

test('an empty LOG_LEVEL is unset: the gateway starts and logs at its configured level', async () => {
  const config = gatewayConfig();
  const gateway = start(['gateway', '--config', config.file], { LOG_LEVEL: '' });
  try {
    await waitForLine(gateway.lines, '"msg":"gateway listening"');
    gateway.child.kill('SIGTERM');
    assert.equal(await gateway.exit, 0, gateway.stderr());
    assert.doesNotMatch(gateway.stderr(), /Error|at /);
  } finally {
    gateway.child.kill('SIGKILL');
    config.remove();
  }
});

for (const command of ['servers', 'gateway'] as const) {
  test(`an unknown LOG_LEVEL stops \`portcullis ${command}\` with the variable named`, async () => {
    const config = gatewayConfig();
    const args = command === 'gateway' ? ['gateway', '--config', config.file] : ['servers'];
    const run = start(args, { LOG_LEVEL: 'verbose' });
    try {
      assert.equal(await run.exit, 78);
      assert.match(
        run.stderr(),
        /LOG_LEVEL \(environment\).*expected one of trace, debug.*"verbose"/,
      );
      assert.doesNotMatch(run.stderr(), /\n\s+at /, 'no stack trace');
    } finally {
      run.child.kill('SIGKILL');
      config.remove();
    }
  });
}

test('LOG_FORMAT: pretty gives one readable line per event, json (the default off a terminal) JSON lines, anything else exit 78', async () => {
  const config = gatewayConfig();
  try {
    const pretty = start(['gateway', '--config', config.file], { LOG_FORMAT: 'pretty' });
    await waitForLine(pretty.lines, 'INFO: gateway listening');
    pretty.child.kill('SIGTERM');
    assert.equal(await pretty.exit, 0, pretty.stderr());
    assert.equal(
      pretty.lines().some((l) => l.startsWith('{')),
      false,
      pretty.lines().join('\n'),
    );
    const json = start(['gateway', '--config', config.file], {});
    await waitForLine(json.lines, '"msg":"gateway listening"');
    json.child.kill('SIGTERM');
    assert.equal(await json.exit, 0, json.stderr());
    const bad = start(['gateway', '--config', config.file], { LOG_FORMAT: 'yaml' });
    assert.equal(await bad.exit, 78);
    assert.match(
      bad.stderr(),
      /^LOG_FORMAT \(environment\): expected json or pretty, got "yaml"\n$/,
    );
  } finally {
    config.remove();
  }
});
