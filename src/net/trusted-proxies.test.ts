import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTrustedProxies, normalizeAddress } from './trusted-proxies.js';

test('trusted proxy lists', () => {
  const none = compileTrustedProxies([]);
  assert.equal(none('127.0.0.1'), false);
  const list = compileTrustedProxies(['127.0.0.1', '192.168.0.0/16']);
  assert.equal(list('127.0.0.1'), true);
  assert.equal(list('127.0.0.2'), false);
  assert.equal(list('192.168.44.1'), true);
  assert.equal(list('not an address'), false);
  for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/x', '::1/129']) {
    assert.throws(() => compileTrustedProxies([bad]), TypeError, bad);
  }
  assert.equal(normalizeAddress('::ffff:1.2.3.4'), '1.2.3.4');
  assert.equal(normalizeAddress('::ffff:abcd'), '::ffff:abcd');
});
