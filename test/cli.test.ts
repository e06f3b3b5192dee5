import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from './support/paths.js';

const BIN = fromRoot('bin', 'portcullis.js');

interface Running {
  readonly output: () => string;
  readonly exit: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

function run(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { output: () => output, exit, kill: (s) => child.kill(s) };
}

async function waitFor(running: Running, pattern: RegExp): Promise<RegExpMatchArray> {
  for (let i = 0; i < 200; i++) {
    const match = running.output().match(pattern);
    if (match) return match;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${pattern}; output so far:\n${running.output()}`);
}

test('portcullis dev runs the gateway in front of the servers, prints the user once, drains on SIGTERM', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-dev-'));
  const env = { PORT: '0', PORTCULLIS_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  const dev = run(['dev'], env);
  try {
    const [, base] = await waitFor(dev, /open (http:\/\/localhost:\d+)\/ in a browser/);
    assert.match(dev.output(), /email: {4}dev@example\.com/);
    assert.match(dev.output(), /password: \S{12,} {2}\(shown once/);
    assert.match(dev.output(), new RegExp(`${base}/sqlite`));
    assert.match(dev.output(), new RegExp(`${base}/whoami`));
    assert.ok(existsSync(join(dataDir, 'demo.db')));
    assert.ok(existsSync(join(dataDir, 'portcullis.db')));
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const anonymous = await fetch(`${base}/sqlite`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(anonymous.status, 401);
    dev.kill('SIGTERM');
    assert.equal(await dev.exit, 0);

    // A second start keeps the user and its password, and does not print a password again.
    const again = run(['dev'], env);
    try {
      await waitFor(again, /open http:\/\/localhost:\d+\/ in a browser/);
      assert.doesNotMatch(again.output(), /shown once/);
      again.kill('SIGTERM');
      assert.equal(await again.exit, 0);
    } finally {
      again.kill('SIGKILL');
    }
  } finally {
    dev.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('portcullis servers leaves out a server that cannot start and runs the others', async () => {
  // A directory passes the settings check (it exists) but no query process can open it.
  const notADatabase = mkdtempSync(join(tmpdir(), 'portcullis-not-a-db-'));
  const servers = run(['servers'], {
    PORT: '0',
    HOST: '127.0.0.1',
    SQLITE_DB_FILE: notADatabase,
  });
  try {
    const [, url] = await waitFor(servers, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/);
    assert.match(servers.output(), /cannot open the database.*"factory":"createSqliteServer"/);
    assert.match(servers.output(), /server could not start and is left out/);
    const health = (await (await fetch(`${url}/healthz`)).json()) as { servers: string[] };
    assert.deepEqual(health.servers.sort(), ['/notion', '/whoami']);
    const missing = await fetch(`${url}/sqlite`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(missing.status, 404);
    servers.kill('SIGTERM');
    assert.equal(await servers.exit, 0);
  } finally {
    servers.kill('SIGKILL');
    rmSync(notADatabase, { recursive: true, force: true });
  }
});

test('a bad setting stops the start with the variable named', async () => {
  const servers = run(['servers'], { PORT: '99999' });
  assert.equal(await servers.exit, 78);
  assert.match(servers.output(), /PORT: expected a port number/);
});

test('unknown commands and arguments are usage errors', async () => {
  const unknown = run(['serve'], {});
  assert.equal(await unknown.exit, 2);
  assert.match(unknown.output(), /unknown command "serve"/);
  const extra = run(['servers', '--port', '1'], {});
  assert.equal(await extra.exit, 2);
});
