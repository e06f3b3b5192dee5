import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot, repoRoot } from './support/paths.js';
import { createTestCa } from './support/test-ca.js';

const BIN = fromRoot('bin', 'portcullis.js');
const fixture = (name: string) => `test/fixtures/config/${name}`;

/** Runs `portcullis check …` from the repository root with a minimal environment. */
function check(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, 'check', ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
}

const SECRETS = {
  SHARED_SECRET: Buffer.alloc(32, 1).toString('base64'),
  COOKIE_SECRET: Buffer.alloc(32, 2).toString('base64'),
};

test('check passes the original sample config with a warning for each unsupported part', async () => {
  const file = fixture('pomerium-mcp-servers-sample-config.yaml');
  // Its storage is PostgreSQL: the secrets every replica shares come from the environment.
  const { code, stdout, stderr } = await check(['--config', file], SECRETS);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /pomerium-mcp-servers-sample-config\.yaml: valid \(5 warnings\)/);
  for (const line of [
    `${file}:16 runtime_flags.mcp: warning: MCP support is always on`,
    `${file}:24 routes[0].mcp: warning: legacy mcp shape (no server/client) read as mcp.server: mcp.upstream_oauth2 is now mcp.server.upstream_oauth2`,
  ]) {
    assert.ok(stderr.includes(line), `missing ${line} in\n${stderr}`);
  }
  // Its Notion route has a static upstream (endpoint given): built, so not warned about.
  assert.ok(!stderr.includes('upstream_oauth2: warning'), stderr);
  assert.ok(!stderr.includes('databroker_storage'), 'its postgres storage is supported');
});

test('check: the sample without its secrets is refused, one line per unset secret, exit 78', async () => {
  const file = fixture('pomerium-mcp-servers-sample-config.yaml');
  const { code, stderr } = await check(['--config', file], {
    SHARED_SECRET: SECRETS.SHARED_SECRET,
  });
  assert.equal(code, 78, stderr);
  const errors = stderr
    .split('\n')
    .filter((l) => /^\S+:\d+ /.test(l) && !l.includes(': warning: '));
  assert.deepEqual(errors, [
    `${file}:11 cookie_secret: required with postgres storage: every replica must have the same one (a generated one would make each replica’s cookies and stored tokens unreadable to the others)`,
  ]);
});

test('check reports every error of a file as FILE:LINE key: message and exits 78', async () => {
  const file = fixture('many-errors.yaml');
  const { code, stderr } = await check([`--config=${file}`]);
  assert.equal(code, 78);
  const errors = stderr
    .split('\n')
    .filter((l) => /^\S+:\d+ /.test(l) && !l.includes(': warning: '));
  assert.deepEqual(
    errors.map((l) => l.split(': ')[0]),
    [
      `${file}:3 sharde_secret`,
      `${file}:4 insecure_server`,
      `${file}:5 databroker_storage_type`,
      `${file}:7 routes[0].from`,
      `${file}:10 routes[0].path`,
      `${file}:14 routes[0].policy[0].allow.and[0].emial`,
      `${file}:18 routes[1].regex`,
      `${file}:21 routes[1].policy.allow.or`,
      `${file}:30 routes[2].policy[0].deny.or[0].mcp_tool.equals`,
      `${file}:33 routes[2].mcp.server.max_request_bytes`,
    ],
  );
  assert.match(stderr, /many-errors\.yaml: invalid: 10 errors/);
});

test('check reports a YAML syntax error with its line', async () => {
  const file = fixture('bad-syntax.yaml');
  const { code, stderr } = await check(['--config', file]);
  assert.equal(code, 78);
  assert.ok(stderr.includes(`${file}:6 (yaml): Nested mappings are not allowed`), stderr);
});

test('check applies environment overrides and names the variable of a bad value', async () => {
  const file = fixture('valid.yaml');
  assert.equal((await check(['--config', file])).code, 0);
  const bad = await check(['--config', file], { SHARED_SECRET: 'short' });
  assert.equal(bad.code, 78);
  assert.match(bad.stderr, /^SHARED_SECRET \(environment\) shared_secret: expected base64 of 32/m);
});

test('check: a missing --config is a usage error (2), a missing file a config error (78)', async () => {
  const none = await check([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /expected --config FILE/);
  assert.equal((await check(['--config'])).code, 2);
  assert.equal((await check(['--config', 'a.yaml', 'extra'])).code, 2);
  const missing = await check(['--config', 'nope.yaml']);
  assert.equal(missing.code, 78);
  assert.match(missing.stderr, /nope\.yaml:0 \(file\): cannot read the config file: ENOENT/);
});

test('check accepts the certificate keys and http_redirect_addr, and reports a wrong one at its line', async (t) => {
  const ca = createTestCa('DNS:a.example.test');
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-check-tls-'));
  t.after(() => {
    ca.remove();
    rmSync(dir, { recursive: true, force: true });
  });
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const lines = [
    'address: :443',
    'http_redirect_addr: :80',
    // Files are read when the gateway starts, not by check (it may run where they are not).
    'certificate_file: /etc/portcullis/tls.crt',
    'certificate_key_file: /etc/portcullis/tls.key',
    'certificates:',
    '  - cert: /etc/portcullis/b.crt',
    '    key: /etc/portcullis/b.key',
    `certificate: ${b64(ca.certPem)}`,
    `certificate_key: ${b64(ca.keyPem)}`,
  ];
  const file = join(dir, 'tls.yaml');
  writeFileSync(file, lines.join('\n'));
  const ok = await check(['--config', file]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.doesNotMatch(ok.stderr, /certificate|http_redirect_addr/);
  writeFileSync(
    file,
    [...lines.slice(0, 5), '  - cert: /etc/portcullis/b.crt', ...lines.slice(7)].join('\n'),
  );
  const missingKey = await check(['--config', file]);
  assert.equal(missingKey.code, 78);
  assert.match(
    missingKey.stderr,
    new RegExp(`^${file}:6 certificates\\[0\\]\\.key: required`, 'm'),
  );
});

test('check reads Pomerium’s otel_* trace keys as supported, and still warns of the old tracing_* ones', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-check-otel-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'otel.yaml');
  const valid = readFileSync(fromRoot(fixture('valid.yaml')), 'utf8');
  const otel = [
    'otel_traces_exporter: otlp',
    'otel_exporter_otlp_endpoint: http://otel-collector:4318',
    'otel_traces_sampler_arg: 0.5',
    'otel_bsp_schedule_delay: 1000',
  ];
  writeFileSync(file, [...otel, valid].join('\n'));
  const ok = await check(['--config', file]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.doesNotMatch(ok.stderr, / otel_/);
  writeFileSync(file, ['tracing_provider: jaeger', valid].join('\n'));
  const old = await check(['--config', file]);
  assert.equal(old.code, 0, old.stderr);
  assert.match(old.stderr, /:1 tracing_provider: warning: .*use otel_traces_exporter: otlp/);
});
