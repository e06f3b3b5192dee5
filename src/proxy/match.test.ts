import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteConfig } from '../config/types.js';
import { compileRoutes, parseHost, type Scheme } from './match.js';

function route(index: number, from: string, match: RouteConfig['match']): RouteConfig {
  return {
    index,
    id: null,
    from: new URL(from).origin,
    to: ['http://upstream.internal'],
    name: null,
    description: null,
    logoUrl: null,
    match,
    prefixRewrite: null,
    preserveHostHeader: false,
    passIdentityHeaders: false,
    allowAnyAuthenticatedUser: true,
    allowPublicUnauthenticatedAccess: false,
    policy: [],
    timeoutMs: null,
    idleTimeoutMs: null,
    mcp: null,
  };
}

const routes = [
  route(0, 'https://db.example.com', { kind: 'prefix', prefix: '/tools' }),
  route(1, 'https://db.example.com', { kind: 'path', path: '/exact' }),
  route(2, 'https://db.example.com', { kind: 'regex', regex: '/items/[0-9]+' }),
  route(3, 'https://db.example.com', { kind: 'any' }),
  route(4, 'http://local.test:8080', { kind: 'any' }),
  route(5, 'http://[::1]:9000', { kind: 'prefix', prefix: '/v6' }),
  route(6, 'https://Mixed.Example.com:8443', { kind: 'any' }),
  route(7, 'http://both.example.com', { kind: 'any' }),
  route(8, 'https://both.example.com', { kind: 'any' }),
  route(9, 'https://first.example.com', { kind: 'prefix', prefix: '/a' }),
  route(10, 'https://first.example.com', { kind: 'prefix', prefix: '/a/b' }),
];

// [host, path, listener scheme, expected route index or undefined, expected prefix]
const cases: [string, string, Scheme, number | undefined, string?][] = [
  ['db.example.com', '/tools/x', 'https', 0, '/tools'],
  ['db.example.com', '/tools', 'https', 0, '/tools'],
  ['db.example.com', '/toolsmith', 'https', 0, '/tools'], // a string prefix, as Envoy's
  ['db.example.com', '/tools/x?q=/exact', 'https', 0, '/tools'],
  ['db.example.com', '/exact', 'https', 1, '/exact'],
  ['db.example.com', '/exact?x=1', 'https', 1, '/exact'],
  ['db.example.com', '/exact/', 'https', 3, '/'],
  ['db.example.com', '/items/42', 'https', 2, '/'],
  ['db.example.com', '/items/42/more', 'https', 3, '/'], // regex is anchored at both ends
  ['db.example.com', '/x/items/42', 'https', 3, '/'],
  ['db.example.com', '/', 'https', 3, '/'],
  ['DB.Example.COM', '/tools', 'https', 0, '/tools'],
  ['db.example.com:443', '/', 'https', 3, '/'],
  ['db.example.com:443', '/', 'http', 3, '/'], // explicit default port of from
  ['db.example.com', '/', 'http', 3, '/'], // TLS ended in front: port-less Host still matches
  ['db.example.com:80', '/', 'http', undefined],
  ['db.example.com:8443', '/', 'https', undefined],
  ['other.example.com', '/', 'https', undefined],
  ['local.test:8080', '/anything', 'http', 4, '/'],
  ['LOCAL.test:8080', '/', 'https', 4, '/'],
  ['local.test', '/', 'http', undefined],
  ['local.test:80', '/', 'http', undefined],
  ['[::1]:9000', '/v6/x', 'http', 5, '/v6'],
  ['[0:0:0:0:0:0:0:1]:9000', '/v6', 'http', 5, '/v6'],
  ['[::1]:9000', '/other', 'http', undefined],
  ['[::1]', '/v6', 'http', undefined],
  ['mixed.example.com:8443', '/', 'https', 6, '/'],
  ['mixed.example.com', '/', 'https', undefined],
  ['both.example.com', '/', 'http', 7, '/'],
  ['both.example.com', '/', 'https', 8, '/'], // the listener's own scheme is preferred
  ['both.example.com:443', '/', 'http', 8, '/'],
  ['first.example.com', '/a/b/c', 'https', 9, '/a'], // first match wins, not the longest
  ['', '/', 'https', undefined],
  ['db.example.com:', '/', 'https', undefined],
  ['db.example.com:99999', '/', 'https', undefined],
  ['db.example.com:4a', '/', 'https', undefined],
  ['::1', '/', 'https', undefined],
  ['[::1', '/', 'https', undefined],
  ['[::1]x', '/', 'https', undefined],
];

test('route matching by host, port and path', () => {
  const matcher = compileRoutes(routes);
  for (const [host, path, scheme, index, prefix] of cases) {
    const m = matcher.match({ host, path }, scheme);
    const label = `${scheme} ${host} ${path}`;
    assert.equal(m?.route.index, index, label);
    if (index !== undefined) assert.equal(m?.prefix, prefix, label);
  }
});

test('no routes match nothing', () => {
  assert.equal(compileRoutes([]).match({ host: 'a', path: '/' }, 'http'), undefined);
});

test('Host header parsing', () => {
  assert.deepEqual(parseHost('Example.com'), { hostname: 'example.com', port: undefined });
  assert.deepEqual(parseHost('example.com:8080'), { hostname: 'example.com', port: 8080 });
  assert.deepEqual(parseHost('[::FFFF:127.0.0.1]:1'), { hostname: '[::ffff:7f00:1]', port: 1 });
  assert.equal(parseHost('[zz::1]'), undefined);
  assert.equal(parseHost(':80'), undefined);
});
