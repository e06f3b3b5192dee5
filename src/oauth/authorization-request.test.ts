import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSilent, rewriteAuthorizationParams, SILENT_PARAM } from './authorization-request.js';

const rewrite = (query: string) => {
  const params = new URLSearchParams(query);
  assert.equal(rewriteAuthorizationParams(params), true);
  return Object.fromEntries(params);
};

test('a request without scope gets mcp (RFC 6749 §3.3)', () => {
  assert.deepEqual(rewrite('client_id=c'), { client_id: 'c', scope: 'mcp' });
  assert.deepEqual(rewrite('client_id=c&scope='), { client_id: 'c', scope: 'mcp' });
});

test('offline_access brings consent into prompt, so oidc-provider keeps it', () => {
  assert.deepEqual(rewrite('scope=mcp+offline_access'), {
    scope: 'mcp offline_access',
    prompt: 'consent',
  });
  assert.equal(rewrite('scope=mcp+offline_access&prompt=login').prompt, 'login consent');
  assert.equal(rewrite('scope=mcp').prompt, undefined);
});

test('prompt=none becomes the silent marker; a client-sent marker is dropped', () => {
  assert.deepEqual(rewrite('scope=mcp&prompt=none'), { scope: 'mcp', [SILENT_PARAM]: '1' });
  assert.deepEqual(rewrite(`scope=mcp&${SILENT_PARAM}=1`), { scope: 'mcp' });
  assert.deepEqual(rewrite('scope=mcp+offline_access&prompt=none'), {
    scope: 'mcp offline_access',
    prompt: 'consent',
    [SILENT_PARAM]: '1',
  });
  // Invalid combinations stay for oidc-provider to refuse.
  assert.equal(rewrite('scope=mcp&prompt=none+login').prompt, 'none login');
  assert.equal(rewrite('scope=mcp&prompt=none+login')[SILENT_PARAM], undefined);
});

test('a repeated parameter leaves the request untouched (oidc-provider refuses it)', () => {
  const query = 'scope=mcp&scope=openid&prompt=none';
  const params = new URLSearchParams(query);
  assert.equal(rewriteAuthorizationParams(params), false);
  assert.equal(params.toString(), query);
});

test('isSilent reads only the marker', () => {
  assert.equal(isSilent({ [SILENT_PARAM]: '1' }), true);
  assert.equal(isSilent({ prompt: 'none' }), false);
});
