import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routesFrom } from '../mcp/pipeline/fixtures.test-suite.js';
import { AppOrigins } from './origins.js';

const ROUTES = routesFrom(`
  - from: https://mcp.example.com
    path: /db
    to: http://up
    allow_any_authenticated_user: true
    mcp: { server: {} }
  - from: https://app.example.com
    to: http://app
    allow_any_authenticated_user: true
    mcp: { client: {} }
  - from: https://web.example.com
    to: http://web
    allow_any_authenticated_user: true
`);

const origins = new AppOrigins(ROUTES, 'https');

test('origins: the request host’s own, and every mcp.client host’s', () => {
  assert.equal(origins.allowed('https://mcp.example.com', 'mcp.example.com'), true);
  assert.equal(origins.allowed('https://mcp.example.com', 'mcp.example.com:443'), true);
  assert.equal(origins.allowed('https://app.example.com', 'mcp.example.com'), true);
  assert.equal(origins.allowed('https://web.example.com', 'web.example.com'), true);
  // A plain route's page is no app: it may not use the session on another host.
  assert.equal(origins.allowed('https://web.example.com', 'mcp.example.com'), false);
  assert.equal(origins.allowed('http://mcp.example.com', 'mcp.example.com'), false, 'scheme');
  assert.equal(origins.allowed('https://mcp.example.com:8443', 'mcp.example.com'), false);
  assert.equal(origins.allowed('https://evil.example', 'mcp.example.com'), false);
  assert.equal(origins.allowed('null', 'mcp.example.com'), false);
  assert.equal(origins.allowed('https://mcp.example.com', undefined), false);
  assert.deepEqual([...origins.clientHosts], ['app.example.com']);
});

test('origins: a POST from an allowed page, or vouched for by Sec-Fetch-Site', () => {
  const host = 'mcp.example.com';
  assert.equal(origins.fromAllowedPage({ host, origin: 'https://app.example.com' }), true);
  assert.equal(origins.fromAllowedPage({ host, origin: 'https://evil.example' }), false);
  assert.equal(origins.fromAllowedPage({ host }), false, 'no Origin: not a page we know');
  assert.equal(origins.fromAllowedPage({ host, origin: 'null' }), false);
  assert.equal(
    origins.fromAllowedPage({ host, origin: 'null', 'sec-fetch-site': 'same-origin' }),
    true,
  );
  assert.equal(
    origins.fromAllowedPage({
      host,
      origin: 'https://evil.example',
      'sec-fetch-site': 'same-origin',
    }),
    false,
    'an Origin that says otherwise wins',
  );
});

test('origins: the Host header as URL.host', () => {
  assert.equal(origins.hostOf('MCP.example.com:443'), 'mcp.example.com');
  assert.equal(origins.hostOf('mcp.example.com:8443'), 'mcp.example.com:8443');
  assert.equal(origins.hostOf(''), undefined);
  assert.equal(origins.hostOf('a b'), undefined);
});
