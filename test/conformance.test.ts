// The official MCP conformance suite (@modelcontextprotocol/conformance) against the servers
// host. Add a server by adding a line to TARGETS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServersHost } from '../src/servers/host.js';
import type { ServerFactory } from '../src/servers/types.js';
import { createWhoamiServer } from '../src/servers/whoami/server.js';
import { createSqliteServer } from '../src/servers/sqlite/server.js';
import { makeDataDir } from './sqlite-fixture.js';
import { conformanceProblems, runConformanceScenario } from './support/conformance.js';
import { startTestHost } from './support/host.js';

interface Target {
  readonly path: string;
  readonly factory: ServerFactory;
  /** Settings the server needs (merged into the host's environment). */
  readonly env?: Record<string, string>;
}

const TARGETS: readonly Target[] = [
  { path: '/whoami', factory: createWhoamiServer },
  { path: '/sqlite', factory: createSqliteServer, env: { SQLITE_DB_FILE: makeDataDir(10).file } },
];

const SCENARIOS = ['server-initialize', 'ping', 'tools-list', 'dns-rebinding-protection'];

describe('MCP conformance suite', { concurrency: 4 }, () => {
  let host: ServersHost;
  before(async () => {
    host = await startTestHost(
      TARGETS.map((t) => t.factory),
      Object.assign({}, ...TARGETS.map((t) => t.env ?? {})) as Record<string, string>,
    );
  });
  after(() => host.close());

  for (const target of TARGETS) {
    for (const scenario of SCENARIOS) {
      test(`${target.path}: ${scenario}`, async () => {
        const run = await runConformanceScenario(`${host.url}${target.path}`, scenario);
        const problems = conformanceProblems(run);
        assert.equal(problems, undefined, problems);
      });
    }
  }

  test('the harness fails a run whose checks fail (a path nothing serves)', async () => {
    const run = await runConformanceScenario(`${host.url}/not-mounted`, 'ping');
    assert.notEqual(run.exitCode, 0);
    assert.ok(run.checks.some((c) => c.status === 'FAILURE'));
    assert.match(conformanceProblems(run) ?? '', /FAILURE ping/);
  });
});
