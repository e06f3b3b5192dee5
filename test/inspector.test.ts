// The MCP Inspector CLI, a real third-party client, against the servers host.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServersHost } from '../src/servers/host.js';
import { createWhoamiServer } from '../src/servers/whoami/server.js';
import { createSqliteServer } from '../src/servers/sqlite/server.js';
import { makeDataDir } from './sqlite-fixture.js';
import {
  ISSUER,
  newSigningKey,
  signAssertion,
  startJwksServer,
  type JwksServer,
  type SigningKey,
} from './support/assertion-issuer.js';
import { startTestHost } from './support/host.js';
import { runInspector, type InspectorRun } from './support/inspector.js';
import { testServerFactory } from './support/test-server.js';

interface ToolResult {
  content: { type: string; text: string }[];
  structuredContent?: unknown;
  isError?: boolean;
}

function ok(run: InspectorRun): unknown {
  assert.equal(run.exitCode, 0, `inspector failed:\n${run.stdout}\n${run.stderr}`);
  assert.notEqual(run.result, undefined, `inspector printed no JSON:\n${run.stdout}`);
  return run.result;
}

describe('MCP Inspector CLI', () => {
  let key: SigningKey;
  let jwks: JwksServer;
  let host: ServersHost;

  before(async () => {
    key = await newSigningKey();
    jwks = await startJwksServer([key]);
    host = await startTestHost([createWhoamiServer, createSqliteServer, testServerFactory()], {
      SQLITE_DB_FILE: makeDataDir(10).file,
      ASSERTION_JWKS_URL: jwks.url.href,
      ASSERTION_ISSUERS: ISSUER,
    });
  });
  after(async () => {
    await host.close();
    await jwks.close();
  });

  test('tools/list shows whoami with its schemas', async () => {
    const result = ok(await runInspector(`${host.url}/whoami`, { method: 'tools/list' })) as {
      tools: { name: string; outputSchema?: { required?: string[] } }[];
    };
    assert.deepEqual(
      result.tools.map((t) => t.name),
      ['whoami'],
    );
    assert.deepEqual(result.tools[0]?.outputSchema?.required, ['name', 'email', 'sub', 'groups']);
  });

  test('tools/call whoami with a valid assertion header returns the identity', async () => {
    const run = await runInspector(`${host.url}/whoami`, {
      method: 'tools/call',
      toolName: 'whoami',
      headers: { 'X-Pomerium-Jwt-Assertion': await signAssertion(key) },
    });
    const result = ok(run) as ToolResult;
    assert.notEqual(result.isError, true);
    assert.deepEqual(result.structuredContent, {
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      sub: 'user-8f2c',
      groups: ['engineering', 'admins'],
    });
  });

  test('every sqlite tool answers through the inspector', async () => {
    const list = ok(await runInspector(`${host.url}/sqlite`, { method: 'tools/list' })) as {
      tools: { name: string }[];
    };
    assert.deepEqual(list.tools.map((t) => t.name).sort(), [
      'describe_table',
      'list_tables',
      'read_query',
      'update',
    ]);
    const calls: Array<[string, Record<string, string>, (s: Record<string, unknown>) => void]> = [
      [
        'list_tables',
        {},
        (s) => assert.ok((s.tables as { name: string }[]).some((t) => t.name === 't')),
      ],
      [
        'describe_table',
        { table_name: 't' },
        (s) =>
          assert.deepEqual(
            (s.columns as { name: string }[]).map((c) => c.name),
            ['id', 'name', 'score'],
          ),
      ],
      [
        'read_query',
        { query: "SELECT name FROM t WHERE name = 'beta'" },
        (s) => assert.deepEqual(s.rows, [{ name: 'beta' }]),
      ],
      [
        'update',
        { table_name: 't', set_clause: "name = 'x'", where_clause: 'id = 1' },
        (s) => assert.equal(s.updated, false),
      ],
    ];
    for (const [toolName, toolArgs, check] of calls) {
      const result = ok(
        await runInspector(`${host.url}/sqlite`, { method: 'tools/call', toolName, toolArgs }),
      ) as ToolResult;
      assert.notEqual(result.isError, true, `${toolName}: ${JSON.stringify(result)}`);
      check(result.structuredContent as Record<string, unknown>);
    }
  });

  test('tools/call whoami without the header is a tool error', async () => {
    const run = await runInspector(`${host.url}/whoami`, {
      method: 'tools/call',
      toolName: 'whoami',
    });
    const result = ok(run) as ToolResult;
    assert.equal(result.isError, true);
    assert.match(result.content[0]?.text ?? '', /ERR_ASSERTION_MISSING/);
  });

  test('tool arguments reach the tool unchanged (strings that look like numbers, quotes, =)', async () => {
    for (const value of ['42', "SELECT * FROM t WHERE a = 'x=1' -- c", 'true', ' spaced ']) {
      const run = await runInspector(`${host.url}/test`, {
        method: 'tools/call',
        toolName: 'echo',
        toolArgs: { value },
      });
      const result = ok(run) as ToolResult;
      assert.equal(result.content[0]?.text, value);
    }
  });

  test('the helper reports a failing run (a path nothing serves)', async () => {
    const run = await runInspector(`${host.url}/not-mounted`, { method: 'tools/list' });
    assert.notEqual(run.exitCode, 0);
    assert.equal(run.result, undefined);
  });
});
