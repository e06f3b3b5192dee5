/**
 * Bad input at start-up, as an operator meets it: the built CLI stops with exit code 78
 * (EX_CONFIG) and says what is wrong on stderr, one line per error, `FILE:LINE key: message`
 * for the config file and `VARIABLE: message` for the environment (a gateway setting taken from
 * the environment names its key too: `VARIABLE (environment) key: message`). Never a stack.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fromRoot } from './support/paths.js';
import { createTestCa } from './support/test-ca.js';

const BIN = fromRoot('bin', 'portcullis.js');
const FILE_LINE = /^(?<file>[^\s:]+):(?<line>\d+) (?<key>\S+): (?<message>.+)$/;
const ENV_VAR = /^(?<name>[A-Z][A-Z0-9_]*)(?: \(environment\) (?<key>\S+))?: (?<message>.+)$/;
/** A process that is still running after this has ignored its bad input. */
const EXIT_WITHIN_MS = 15_000;

interface Stopped {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderrLines: readonly string[];
}

/** Runs `portcullis <args>` (the build) with only `env` and PATH, until it exits. */
function runCli(args: readonly string[], env: Record<string, string>): Promise<Stopped> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_WITHIN_MS);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderrLines: stderr.split('\n').filter((l) => l !== '') });
    }),
  );
}

/** Exit 78, and stderr is exactly `expected` (each line in one of the two shapes), no stack. */
function assertConfigErrors(run: Stopped, expected: readonly (string | RegExp)[]): void {
  const output = `stderr:\n${run.stderrLines.join('\n')}\nstdout:\n${run.stdout}`;
  assert.equal(run.code, 78, output);
  assert.equal(run.stderrLines.length, expected.length, output);
  run.stderrLines.forEach((line, i) => {
    assert.ok(FILE_LINE.test(line) || ENV_VAR.test(line), `not in the documented shape: ${line}`);
    const want = expected[i]!;
    if (typeof want === 'string') assert.equal(line, want);
    else assert.match(line, want);
  });
  assert.doesNotMatch(output, /^\s+at /m, 'no stack frames');
  assert.doesNotMatch(run.stdout, /"stack"/, 'no stack in the logs either');
}

/** A temporary directory with `files` written in it. */
function tempDir(files: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-startup-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return {
    dir,
    path: (name: string) => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const GOOD_GATEWAY =
  'address: 127.0.0.1:0\ninsecure_server: true\ndatabroker_storage_type: memory\n';

test('gateway: a bad value in the config file is FILE:LINE key: message', async (t) => {
  const tmp = tempDir({ 'gateway.yaml': `${GOOD_GATEWAY}timeout_read: soon\n` });
  t.after(tmp.remove);
  const file = tmp.path('gateway.yaml');
  const run = await runCli(['gateway', '--config', file], {});
  assertConfigErrors(run, [
    `${file}:4 timeout_read: expected a duration such as 30s, 1m30s or 0, got "soon"`,
  ]);
});

test('gateway: every error of the file, one line each, in file order', async (t) => {
  const text = `address: 127.0.0.1:0\ninsecure_serve: true\ndatabroker_storage_type: memory\nlog_level: loud\n`;
  const tmp = tempDir({ 'gateway.yaml': text });
  t.after(tmp.remove);
  const file = tmp.path('gateway.yaml');
  const run = await runCli(['gateway', '--config', file], {});
  assertConfigErrors(run, [
    `${file}:2 insecure_serve: unknown key; did you mean insecure_server?`,
    new RegExp(`^${file}:4 log_level: `),
  ]);
});

test('gateway: unparsable YAML is reported at its line', async (t) => {
  const tmp = tempDir({ 'gateway.yaml': 'address: 127.0.0.1:0\ninsecure_server: [true\n' });
  t.after(tmp.remove);
  const file = tmp.path('gateway.yaml');
  const run = await runCli(['gateway', '--config', file], {});
  assertConfigErrors(run, [new RegExp(`^${file}:\\d+ \\(yaml\\): \\S`)]);
});

test('gateway: a missing config file', async (t) => {
  const tmp = tempDir();
  t.after(tmp.remove);
  const file = tmp.path('absent.yaml');
  const run = await runCli(['gateway', '--config', file], {});
  assertConfigErrors(run, [`${file}:0 (file): cannot read the config file: ENOENT`]);
});

test('gateway: replicas on PostgreSQL without cookie_secret stop before touching the database', async (t) => {
  const secret = Buffer.alloc(32, 7).toString('base64');
  // Port 9 on loopback: nothing listens, so a gateway that tried the database would say so.
  const text = `address: 127.0.0.1:0\ninsecure_server: true\nshared_secret: ${secret}\ndatabroker_storage_type: postgres\ndatabroker_storage_connection_string: postgresql://gw@127.0.0.1:9/gw\n`;
  const tmp = tempDir({ 'gateway.yaml': text });
  t.after(tmp.remove);
  const file = tmp.path('gateway.yaml');
  const run = await runCli(['gateway', '--config', file], {});
  assertConfigErrors(run, [
    `${file}:4 cookie_secret: required with postgres storage: every replica must have the same one (a generated one would make each replica’s cookies and stored tokens unreadable to the others)`,
  ]);
});

test('gateway: a bad setting from the environment names the variable', async (t) => {
  const tmp = tempDir({ 'gateway.yaml': GOOD_GATEWAY });
  t.after(tmp.remove);
  const args = ['gateway', '--config', tmp.path('gateway.yaml')];
  assertConfigErrors(await runCli(args, { ADDRESS: 'everywhere' }), [
    'ADDRESS (environment) address: expected host:port or :port (such as :443 or 127.0.0.1:8080), got "everywhere"',
  ]);
  assertConfigErrors(await runCli(args, { MAX_CONNECTIONS_PER_ADDRESS: 'many' }), [
    /^MAX_CONNECTIONS_PER_ADDRESS \(environment\) max_connections_per_address: /,
  ]);
});

test('gateway: a certificate that cannot be served is FILE:LINE key: message', async (t) => {
  const ca = createTestCa('DNS:a.example.test');
  const other = ca.issue('DNS:b.example.test');
  const tmp = tempDir({ 'a.crt': ca.certPem, 'b.key': other.keyPem });
  t.after(() => {
    tmp.remove();
    ca.remove();
  });
  const text = [
    'address: 127.0.0.1:0',
    'databroker_storage_type: memory',
    'certificates:',
    `  - cert: ${tmp.path('absent.crt')}`,
    `    key: ${tmp.path('b.key')}`,
    `  - cert: ${tmp.path('a.crt')}`,
    `    key: ${tmp.path('b.key')}`,
    '',
  ].join('\n');
  writeFileSync(tmp.path('gateway.yaml'), text);
  const file = tmp.path('gateway.yaml');
  const run = await runCli(['gateway', '--config', file], {});
  assertConfigErrors(run, [
    `${file}:4 certificates[0].cert: cannot read ${tmp.path('absent.crt')}: ENOENT`,
    `${file}:7 certificates[1].key: the private key does not match the certificate`,
  ]);
  const redirect = `${GOOD_GATEWAY}http_redirect_addr: ':8080'\n`;
  writeFileSync(file, redirect);
  assertConfigErrors(await runCli(['gateway', '--config', file], {}), [
    `${file}:4 http_redirect_addr: redirects to HTTPS, which is off: insecure_server is true`,
  ]);
  // A redirect port that cannot be bound stops the start too (the HTTPS one is let go again).
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  writeFileSync(tmp.path('a.key'), ca.keyPem);
  const bound = [
    'address: 127.0.0.1:0',
    'databroker_storage_type: memory',
    `certificate_file: ${tmp.path('a.crt')}`,
    `certificate_key_file: ${tmp.path('a.key')}`,
    `http_redirect_addr: 127.0.0.1:${port}`,
  ];
  writeFileSync(file, bound.join('\n'));
  assertConfigErrors(await runCli(['gateway', '--config', file], {}), [
    `${file}:5 http_redirect_addr: cannot listen on 127.0.0.1:${port}: already in use by another process (EADDRINUSE)`,
  ]);
});

/** A port of loopback held by this test process until the test ends. */
async function takenPort(t: { after(fn: () => void): void }): Promise<number> {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => taken.close());
  return (taken.address() as { port: number }).port;
}

test('gateway: address or metrics_address already taken is the key’s error, not a stack', async (t) => {
  const port = await takenPort(t);
  const tmp = tempDir();
  t.after(tmp.remove);
  const file = tmp.path('gateway.yaml');
  const inUse = `cannot listen on 127.0.0.1:${port}: already in use by another process (EADDRINUSE)`;
  writeFileSync(file, GOOD_GATEWAY.replace('127.0.0.1:0', `127.0.0.1:${port}`));
  const args = ['gateway', '--config', file];
  assertConfigErrors(await runCli(args, {}), [`${file}:1 address: ${inUse}`]);
  writeFileSync(file, GOOD_GATEWAY);
  assertConfigErrors(await runCli(args, { ADDRESS: `127.0.0.1:${port}` }), [
    `ADDRESS (environment) address: ${inUse}`,
  ]);
  // The metrics listener opens after the main one, which is let go again.
  writeFileSync(file, `${GOOD_GATEWAY}metrics_address: 127.0.0.1:${port}\n`);
  assertConfigErrors(await runCli(args, {}), [`${file}:4 metrics_address: ${inUse}`]);
});

const servers = (env: Record<string, string>) =>
  runCli(['servers'], { HOST: '127.0.0.1', PORT: '0', ...env });

test('servers: a bad host setting', async () => {
  assertConfigErrors(await servers({ PORT: 'abc' }), ['PORT: expected an integer ≥ 0, got "abc"']);
  assertConfigErrors(await servers({ PORT: '70000' }), [
    'PORT: expected a port number 0-65535, got 70000',
  ]);
  assertConfigErrors(await servers({ MAX_REQUEST_BYTES: '1e6' }), [
    'MAX_REQUEST_BYTES: expected an integer ≥ 1, got "1e6"',
  ]);
});

test('servers: HOST that does not resolve, or is no address of this machine', async () => {
  assertConfigErrors(await servers({ HOST: 'no-such-host.invalid' }), [
    /^HOST: cannot resolve "no-such-host\.invalid" \([A-Z_]+\)$/,
  ]);
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never an address of this machine.
  assertConfigErrors(await servers({ HOST: '192.0.2.1' }), [
    'HOST: cannot listen on 192.0.2.1:0: not an address of this machine (EADDRNOTAVAIL)',
  ]);
});

test('servers: PORT already taken', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.after(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  assertConfigErrors(await servers({ PORT: String(port) }), [
    `PORT: cannot listen on 127.0.0.1:${port}: already in use by another process (EADDRINUSE)`,
  ]);
});

test('servers: a setting a server rejects stops the start (nothing is left running)', async (t) => {
  const tmp = tempDir();
  t.after(tmp.remove);
  const db = tmp.path('shop.db');
  new Database(db).exec('CREATE TABLE t (id INTEGER PRIMARY KEY)').close();

  assertConfigErrors(await servers({ SQLITE_DB_FILE: tmp.path('absent.db') }), [
    'SQLITE_DB_FILE: the database file does not exist',
  ]);
  assertConfigErrors(await servers({ SQLITE_DB_FILE: db, SQLITE_WORKERS: 'lots' }), [
    'SQLITE_WORKERS: expected an integer ≥ 1, got "lots"',
  ]);
  assertConfigErrors(await servers({ ASSERTION_JWKS_URL: 'https://idp.example/jwks.json' }), [
    'ASSERTION_ISSUERS: required with ASSERTION_JWKS_URL: the accepted issuers',
  ]);
  // /sqlite's query processes are up when /notion refuses its setting: they are stopped, and
  // the process exits instead of running on without the server.
  const late = await servers({ SQLITE_DB_FILE: db, NOTION_MAX_DEPTH: '500' });
  assertConfigErrors(late, ['NOTION_MAX_DEPTH: expected at most 50, got 500']);
});

test('dev: a bad PORT', async (t) => {
  const tmp = tempDir();
  t.after(tmp.remove);
  const run = await runCli(['dev'], { PORT: 'eighty', PORTCULLIS_DATA_DIR: tmp.dir });
  assertConfigErrors(run, ['PORT: expected an integer ≥ 0, got "eighty"']);
});

test('dev: PORT already taken', async (t) => {
  const port = await takenPort(t);
  const tmp = tempDir();
  t.after(tmp.remove);
  const run = await runCli(['dev'], { PORT: String(port), PORTCULLIS_DATA_DIR: tmp.dir });
  assertConfigErrors(run, [
    `PORT (environment) address: cannot listen on 127.0.0.1:${port}: already in use by another process (EADDRINUSE)`,
  ]);
});
