import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rewritePath, upstreamUrl } from './upstream-url.js';

// [to, request target, matched prefix, prefix_rewrite, expected upstream URL]
const cases: [string, string, string, string | null, string][] = [
  ['http://x/sqlite', '/', '/', null, 'http://x/sqlite'],
  ['http://x/sqlite', '/?a=1', '/', null, 'http://x/sqlite?a=1'],
  ['http://x/sqlite', '/foo', '/', null, 'http://x/sqlite/foo'],
  ['http://x/sqlite/', '/', '/', null, 'http://x/sqlite/'],
  ['http://x/sqlite/', '/foo', '/', null, 'http://x/sqlite/foo'],
  ['http://x', '/a/b?c=d&e', '/', null, 'http://x/a/b?c=d&e'],
  ['http://x/', '//double//kept', '/', null, 'http://x//double//kept'],
  ['http://x/base', '/a/b', '/a', null, 'http://x/base/b'],
  ['http://x/base/', '/a/b', '/a', null, 'http://x/base/b'],
  ['http://x/base', '/a', '/a', null, 'http://x/base'],
  ['http://x/base', '/a/', '/a', null, 'http://x/base/'],
  ['http://x/base', '/a/b', '/a/', null, 'http://x/base/b'],
  ['http://x/base/', '/a/b', '/a/', null, 'http://x/base/b'],
  ['http://x/base', '/ab', '/a', null, 'http://x/baseb'], // mid-segment: literal, as Envoy
  ['http://x', '/a/b', '/a', null, 'http://x/b'],
  ['http://x', '/a', '/a', null, 'http://x/'],
  ['http://x/ignored', '/api/v1/x?y', '/api', '/', 'http://x/v1/x?y'],
  ['http://x', '/api/v1', '/api/', '/', 'http://x/v1'],
  ['http://x', '/api/v1', '/api', '/v2', 'http://x/v2/v1'],
  ['http://x', '/api', '/api', '/v2', 'http://x/v2'],
  ['http://x/sqlite', '/exact', '/exact', null, 'http://x/sqlite'], // a `path` route
  ['https://x:8443/p', '/%7Euser/a%2Fb?q=%20', '/', null, 'https://x:8443/p/%7Euser/a%2Fb?q=%20'],
];

test('upstream URL: the matched prefix replaced by the to path or prefix_rewrite', () => {
  for (const [to, target, prefix, rewrite, expected] of cases) {
    const url = upstreamUrl(new URL(to), target, prefix, rewrite);
    assert.equal(url.href, expected, `${to} ${target} (prefix ${prefix}, rewrite ${rewrite})`);
  }
});

test('rewritePath never joins with a double slash', () => {
  for (const base of ['/b', '/b/']) {
    for (const [path, prefix] of [
      ['/a/x', '/a'],
      ['/a/x', '/a/'],
      ['/x', '/'],
    ] as const) {
      assert.equal(rewritePath(path, prefix, base), '/b/x', `${path} ${prefix} ${base}`);
    }
  }
});
