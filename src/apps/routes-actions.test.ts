import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteConfig } from '../config/types.js';
import { routesFrom, session } from '../mcp/pipeline/fixtures.test-suite.js';
import type { ForcedRefresh } from '../upstream/service.js';
import { mcpServerRoutes } from './accessible.js';
import { chooseServer } from './connect-endpoint.js';
import { disconnectRoutes, parseRoutesRequest, refreshRoutes } from './routes-actions.js';

const ROUTES = routesFrom(`
  - from: https://mcp.example.com
    path: /a
    to: http://up
    allow_any_authenticated_user: true
    mcp: { server: {} }
  - from: https://mcp.example.com
    path: /b
    to: http://up
    policy: [{ allow: { and: [{ email: { is: someone@else.example } }] } }]
    mcp: { server: {} }
  - from: https://one.example.com
    to: http://up
    allow_any_authenticated_user: true
    mcp: { server: {} }
`);
const SERVERS = mcpServerRoutes(ROUTES);
const A = 'https://mcp.example.com/a';
const B = 'https://mcp.example.com/b';

test('routes request: {"routes": [url…]} in JSON, deduplicated; anything else says why', () => {
  const json = 'application/json; charset=utf-8';
  assert.deepEqual(parseRoutesRequest(Buffer.from(`{"routes":["${A}","${A}"]}`), json), {
    ok: true,
    urls: [A],
  });
  for (const [body, type] of [
    ['{"routes":', json],
    ['{"routes":[1]}', json],
    ['{"route":[]}', json],
    ['null', json],
    ['{"routes":[]}', 'text/plain'],
    ['{"routes":[]}', undefined],
    [JSON.stringify({ routes: Array.from({ length: 101 }, (_, i) => `u${i}`) }), json],
  ] as const) {
    const parsed = parseRoutesRequest(Buffer.from(body), type);
    assert.equal(parsed.ok, false, `${body} ${type}`);
  }
});

function upstream(outcome: ForcedRefresh['kind']) {
  const asked: string[] = [];
  return {
    asked,
    refreshNow: async (route: RouteConfig) => {
      asked.push(`refresh ${route.mcp?.kind === 'server' ? route.mcp.resourceUrl : ''}`);
      return { kind: outcome } as ForcedRefresh;
    },
    disconnect: async (route: RouteConfig) => {
      asked.push(`disconnect ${route.mcp?.kind === 'server' ? route.mcp.resourceUrl : ''}`);
      return true;
    },
  };
}

test('refresh: only the servers the user may reach; each failure by URL, as own keys', async () => {
  const port = upstream('refused');
  const errors = await refreshRoutes(port, SERVERS, session(), [A, B, '__proto__']);
  assert.deepEqual(port.asked, [`refresh ${A}`]);
  assert.deepEqual(Object.keys(errors).sort(), ['__proto__', A, B].sort());
  assert.match(errors[A] ?? '', /refused/);
  assert.match(errors[B] ?? '', /not an MCP server you may access/);
  assert.deepEqual(await refreshRoutes(upstream('refreshed'), SERVERS, session(), [A]), {});
  assert.deepEqual(await refreshRoutes(undefined, SERVERS, session(), [A]), {}, 'no upstream');
});

test('disconnect: any MCP server of the config, the policy notwithstanding', async () => {
  const port = upstream('none');
  const errors = await disconnectRoutes(port, SERVERS, session(), [A, B, 'https://x/y']);
  assert.deepEqual(port.asked.sort(), [`disconnect ${A}`, `disconnect ${B}`]);
  assert.deepEqual(Object.keys(errors), ['https://x/y']);
});

test('connect: a host’s one server, or the one `route` names on it', () => {
  const onMcp = SERVERS.filter((s) => s.route.from === 'https://mcp.example.com');
  const onOne = SERVERS.filter((s) => s.route.from === 'https://one.example.com');
  const one = chooseServer(onOne, null);
  assert.equal(one.ok && one.server.mcp.resourceUrl, 'https://one.example.com');
  const named = chooseServer(onMcp, B);
  assert.equal(named.ok && named.server.mcp.resourceUrl, B);
  const several = chooseServer(onMcp, null);
  assert.equal(!several.ok && /several/.test(several.reason), true);
  const elsewhere = chooseServer(onMcp, 'https://one.example.com');
  assert.equal(elsewhere.ok, false, 'a server of another host');
});
