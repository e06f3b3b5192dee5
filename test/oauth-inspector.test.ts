/**
 * The MCP Inspector CLI (a real third-party client) through the gateway of `npm start` with an
 * OAuth access token it did not obtain itself: the MCP SDK's client runs the authorization
 * flow, then the Inspector sends `Authorization: Bearer <token>` to /sqlite and /whoami.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DevSystem } from '../src/cli/dev.js';
import { startTestDevSystem, type TestDevSystem } from './support/dev-system.js';
import { CookieJar } from './support/cookie-jar.js';
import { runInspector, type InspectorRun } from './support/inspector.js';
import { authorizeWithSdk, BrowserOAuthProvider } from './support/oauth-client.js';

const EMAIL = 'hopper@example.com';
const PASSWORD = 'inspector oauth test password';

interface ToolResult {
  content: { type: string; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

function ok(run: InspectorRun): unknown {
  assert.equal(run.exitCode, 0, `inspector failed:\n${run.stdout}\n${run.stderr}`);
  assert.notEqual(run.result, undefined, `inspector printed no JSON:\n${run.stdout}`);
  return run.result;
}

describe('MCP Inspector CLI with an OAuth token through the gateway', () => {
  let dev: TestDevSystem;
  let system: DevSystem;
  const tokens: Record<'/sqlite' | '/whoami', string> = { '/sqlite': '', '/whoami': '' };

  before(async () => {
    dev = await startTestDevSystem({
      email: EMAIL,
      password: PASSWORD,
      dirPrefix: 'portcullis-oauth-inspector',
    });
    system = dev.system;
    const jar = new CookieJar();
    // Tokens are audience-bound (RFC 8707): one per MCP server.
    for (const path of ['/sqlite', '/whoami'] as const) {
      const provider = new BrowserOAuthProvider({ email: EMAIL, password: PASSWORD, jar });
      tokens[path] = (await authorizeWithSdk(provider, `${system.url}${path}`)).access_token;
    }
  });
  after(async () => {
    await dev?.close();
  });

  const bearer = (path: '/sqlite' | '/whoami') => ({ Authorization: `Bearer ${tokens[path]}` });

  it('tools/list on /sqlite is filtered by policy (update is denied)', async () => {
    const result = ok(
      await runInspector(`${system.url}/sqlite`, {
        method: 'tools/list',
        headers: bearer('/sqlite'),
      }),
    ) as { tools: { name: string }[] };
    assert.deepEqual(result.tools.map((t) => t.name).sort(), [
      'describe_table',
      'list_tables',
      'read_query',
    ]);
  });

  it('tools/call on /sqlite runs a read query', async () => {
    const tables = ok(
      await runInspector(`${system.url}/sqlite`, {
        method: 'tools/call',
        toolName: 'list_tables',
        headers: bearer('/sqlite'),
      }),
    ) as ToolResult;
    assert.notEqual(tables.isError, true, JSON.stringify(tables));
    const names = (tables.structuredContent?.tables as { name: string }[]).map((t) => t.name);
    assert.ok(names.length > 0);
    const first = names[0] as string;
    const rows = ok(
      await runInspector(`${system.url}/sqlite`, {
        method: 'tools/call',
        toolName: 'read_query',
        toolArgs: { query: `SELECT count(*) AS n FROM "${first}"` },
        headers: bearer('/sqlite'),
      }),
    ) as ToolResult;
    assert.notEqual(rows.isError, true, JSON.stringify(rows));
    assert.equal(typeof (rows.structuredContent?.rows as { n: unknown }[])[0]?.n, 'number');
  });

  it('tools/list and tools/call on /whoami return the signed-in user', async () => {
    const list = ok(
      await runInspector(`${system.url}/whoami`, {
        method: 'tools/list',
        headers: bearer('/whoami'),
      }),
    ) as { tools: { name: string }[] };
    assert.deepEqual(
      list.tools.map((t) => t.name),
      ['whoami'],
    );
    const result = ok(
      await runInspector(`${system.url}/whoami`, {
        method: 'tools/call',
        toolName: 'whoami',
        headers: bearer('/whoami'),
      }),
    ) as ToolResult;
    assert.notEqual(result.isError, true, JSON.stringify(result));
    assert.equal(result.structuredContent?.email, EMAIL);
  });

  it('a token for /whoami does not open /sqlite, and no token is a 401', async () => {
    const wrong = await runInspector(`${system.url}/sqlite`, {
      method: 'tools/list',
      headers: bearer('/whoami'),
    });
    assert.notEqual(wrong.exitCode, 0, wrong.stdout);
    assert.match(`${wrong.stdout}${wrong.stderr}`, /401|Unauthorized|invalid_token/i);
    const none = await runInspector(`${system.url}/whoami`, { method: 'tools/list' });
    assert.notEqual(none.exitCode, 0, none.stdout);
    assert.match(`${none.stdout}${none.stderr}`, /401|Unauthorized/i);
  });
});
