import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOT_SIGNED_IN } from '../../core/not-signed-in.js';
import { corsHeaders, unauthorizedAnswer } from './cors.js';
import { routesFrom } from './fixtures.test-suite.js';

const routes = routesFrom(
  [
    '  - from: https://db.example.com',
    '    prefix: /sqlite',
    '    to: http://mcp-servers:8080/sqlite',
    '    allow_any_authenticated_user: true',
    '    mcp: {server: {}}',
    '  - from: https://app.example.com',
    '    to: http://app.internal',
    '    allow_any_authenticated_user: true',
    '',
  ].join('\n'),
);
const mcpRoute = routes[0]!;
const plainRoute = routes[1]!;

const ORIGIN = 'https://client.example';
const METADATA = 'https://db.example.com/.well-known/oauth-protected-resource/sqlite';

test('CORS headers echo the Origin and expose what MCP clients read (REFERENCE §2)', () => {
  assert.deepEqual(corsHeaders(ORIGIN), {
    'access-control-allow-origin': ORIGIN,
    'access-control-expose-headers': 'WWW-Authenticate, Mcp-Session-Id',
    vary: 'Origin',
  });
  assert.equal(corsHeaders(undefined)['access-control-allow-origin'], '*');
});

test('401 on an MCP route: the challenge names its resource metadata (RFC 9728 §5.1)', () => {
  assert.deepEqual(unauthorizedAnswer(mcpRoute, ORIGIN), {
    kind: 'json',
    status: 401,
    body: NOT_SIGNED_IN,
    headers: {
      ...corsHeaders(ORIGIN),
      'www-authenticate': `Bearer resource_metadata="${METADATA}", scope="mcp"`,
    },
    statusMessage: 'Unauthorized',
  });
});

test('401 for a refused token says invalid_token, in the body and the challenge (RFC 6750 §3.1)', () => {
  const answer = unauthorizedAnswer(mcpRoute, undefined, 'invalid_token');
  assert.equal(answer.kind, 'json');
  if (answer.kind !== 'json') return;
  assert.equal(answer.status, 401);
  assert.equal((answer.body as { error: string }).error, 'invalid_token');
  const challenge = answer.headers?.['www-authenticate'] ?? '';
  assert.match(challenge, new RegExp(`^Bearer resource_metadata="${METADATA}", scope="mcp", `));
  assert.match(challenge, /error="invalid_token"/);
  assert.equal(answer.headers?.['access-control-allow-origin'], '*');
});

test('a route that is no MCP server is its own resource', () => {
  const answer = unauthorizedAnswer(plainRoute, ORIGIN);
  assert.equal(answer.kind, 'json');
  if (answer.kind !== 'json') return;
  assert.match(
    answer.headers?.['www-authenticate'] ?? '',
    /^Bearer resource_metadata="https:\/\/app\.example\.com\/\.well-known\/oauth-protected-resource"/,
  );
});
