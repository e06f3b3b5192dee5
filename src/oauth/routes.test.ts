import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteConfig } from '../config/types.js';
import type { RouteMatch } from '../proxy/match.js';
import { oauthRoute, providerUrl } from './routes.js';

const matchOf = (route: Partial<RouteConfig>): RouteMatch =>
  ({ route: route as RouteConfig, prefix: '/' }) as RouteMatch;
const mcpMatch = matchOf({ mcp: { kind: 'server' } as RouteConfig['mcp'] });
const plainMatch = matchOf({});

test('discovery paths name the metadata endpoints', () => {
  assert.deepEqual(oauthRoute('/.well-known/oauth-protected-resource', undefined), {
    endpoint: 'resource-metadata',
  });
  assert.deepEqual(oauthRoute('/.well-known/oauth-protected-resource/sqlite', undefined), {
    endpoint: 'resource-metadata',
  });
  for (const path of [
    '/.well-known/oauth-authorization-server',
    '/.well-known/openid-configuration',
  ]) {
    assert.deepEqual(oauthRoute(path, undefined), { endpoint: 'server-metadata' });
  }
  assert.equal(oauthRoute('/.well-known/oauth-protected-resourcex', undefined), undefined);
});

test('the interaction path carries a bounded uid, else it is not the server’s', () => {
  assert.deepEqual(oauthRoute('/.pomerium/mcp/interaction/abc_DEF-1', undefined), {
    endpoint: 'interaction',
    uid: 'abc_DEF-1',
  });
  assert.equal(oauthRoute('/.pomerium/mcp/interaction/', undefined), undefined);
  assert.equal(oauthRoute('/.pomerium/mcp/interaction/a/b', undefined), undefined);
  assert.equal(oauthRoute(`/.pomerium/mcp/interaction/${'x'.repeat(65)}`, undefined), undefined);
});

test('endpoints at their own paths, and the provider-only ones', () => {
  assert.deepEqual(oauthRoute('/.pomerium/mcp/register', plainMatch), {
    endpoint: 'register',
    aliasOf: undefined,
  });
  assert.deepEqual(oauthRoute('/.pomerium/mcp/token', undefined), {
    endpoint: 'token',
    aliasOf: undefined,
  });
  assert.deepEqual(oauthRoute('/.pomerium/mcp/authorize', undefined), {
    endpoint: 'authorize',
    aliasOf: undefined,
  });
  for (const path of [
    '/.pomerium/mcp/revoke',
    '/.pomerium/mcp/jwks',
    '/.pomerium/mcp/authorize/uid1',
  ]) {
    assert.deepEqual(
      oauthRoute(path, undefined),
      { endpoint: 'provider', aliasOf: undefined },
      path,
    );
  }
  assert.equal(oauthRoute('/.pomerium/mcp/other', undefined), undefined);
  assert.equal(oauthRoute('/sqlite', mcpMatch), undefined);
});

test('bare aliases are the server’s unless a route of its own (not the MCP one) claims them', () => {
  for (const match of [undefined, mcpMatch]) {
    assert.deepEqual(oauthRoute('/token', match), {
      endpoint: 'token',
      aliasOf: '/.pomerium/mcp/token',
    });
  }
  assert.deepEqual(oauthRoute('/authorize', undefined), {
    endpoint: 'authorize',
    aliasOf: '/.pomerium/mcp/authorize',
  });
  assert.equal(oauthRoute('/register', plainMatch), undefined);
  assert.equal(oauthRoute('/constructor', undefined), undefined);
});

test('an aliased request is given to the provider at its path, with its query', () => {
  assert.equal(
    providerUrl('/authorize?a=1&b=2', '/.pomerium/mcp/authorize'),
    '/.pomerium/mcp/authorize?a=1&b=2',
  );
  assert.equal(providerUrl('/token', '/.pomerium/mcp/token'), '/.pomerium/mcp/token');
  assert.equal(providerUrl('/.pomerium/mcp/token?x', undefined), undefined);
});
