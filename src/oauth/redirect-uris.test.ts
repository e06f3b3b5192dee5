import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRedirectUri, checkRedirectUris, formActionSource } from './redirect-uris.js';

test('redirect URIs: https, loopback http on any port, private-use schemes', () => {
  for (const ok of [
    'https://chatgpt.com/connector_platform_oauth_redirect',
    'http://127.0.0.1:33418/callback',
    'http://localhost:6274/oauth/callback',
    'http://[::1]:8080/cb',
    'cursor://anysphere.cursor-mcp/oauth/callback',
    'com.example.app:/oauth2redirect',
  ]) {
    assert.deepEqual(checkRedirectUri(ok), { ok: true }, ok);
  }
});

test('redirect URIs: script, data, non-loopback http, fragments and credentials are refused', () => {
  for (const bad of [
    'javascript:alert(1)',
    'JAVASCRIPT:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'file:///etc/passwd',
    'http://evil.example/cb',
    'http://127.0.0.1.evil.example/cb',
    'https://client.example/cb#frag',
    'https://user:pass@client.example/cb',
    'https://client.example/c b',
    'relative/path',
    '',
    42,
  ]) {
    assert.equal(checkRedirectUri(bad).ok, false, String(bad));
  }
  assert.match(checkRedirectUris([]) ?? '', /non-empty/);
  assert.match(checkRedirectUris(['https://ok.example/cb', 'javascript:x']) ?? '', /javascript/);
  assert.equal(checkRedirectUris(['https://ok.example/cb']), undefined);
});

test('form-action sources follow the redirect URI', () => {
  assert.equal(formActionSource('https://chatgpt.com/cb'), 'https://chatgpt.com');
  assert.equal(formActionSource('http://127.0.0.1:1234/cb'), 'http://127.0.0.1:*');
  assert.equal(formActionSource('cursor://anysphere.cursor-mcp/oauth/callback'), 'cursor:');
});
