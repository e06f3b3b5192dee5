import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostAllowed, privateHostsFromEnv } from './cimd.js';

test('client ID metadata document hosts: exact names and *. suffixes', () => {
  assert.equal(hostAllowed('chatgpt.com', ['chatgpt.com']), true);
  assert.equal(hostAllowed('evil-chatgpt.com', ['chatgpt.com']), false);
  assert.equal(hostAllowed('a.example.com', ['*.example.com']), true);
  assert.equal(hostAllowed('example.com', ['*.example.com']), false);
  assert.equal(hostAllowed('aexample.com', ['*.example.com']), false);
  assert.equal(hostAllowed('chatgpt.com', []), false);
});

test('private-address bypass comes only from the named environment variable', () => {
  assert.deepEqual(privateHostsFromEnv({}), []);
  assert.deepEqual(
    privateHostsFromEnv({ PORTCULLIS_CIMD_ALLOW_PRIVATE_HOSTS: 'localhost, 127.0.0.1' }),
    ['localhost', '127.0.0.1'],
  );
});
