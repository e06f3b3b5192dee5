import assert from 'node:assert/strict';
import { test } from 'node:test';
import { registrationFingerprint } from './client-identity.js';

test('registration fingerprint ignores order and issued fields', () => {
  const a = registrationFingerprint({
    client_name: 'C',
    redirect_uris: ['https://a.example/cb', 'https://b.example/cb'],
    scope: 'offline_access mcp',
  });
  const b = registrationFingerprint({
    scope: 'mcp offline_access',
    redirect_uris: ['https://b.example/cb', 'https://a.example/cb'],
    client_name: 'C',
    client_id: 'x',
  });
  assert.equal(a, b);
  assert.notEqual(
    a,
    registrationFingerprint({ client_name: 'C', redirect_uris: ['https://a.example/cb'] }),
  );
});
