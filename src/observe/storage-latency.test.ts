import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStorage } from '../storage/memory.js';
import { createMetrics } from './metrics.js';
import { timedStorage } from './storage-latency.js';

test('the request path storage reads are timed into portcullis_storage_operation_duration_seconds', async () => {
  const metrics = createMetrics([]);
  const storage = timedStorage(createMemoryStorage(), metrics.observer);
  assert.equal(await storage.sessions.get('no-such-session', Date.now()), undefined);
  assert.equal(await storage.identities.get('no-such-user'), undefined);
  await storage.oauth.find('AccessToken', 'no-such-token', Date.now());
  await storage.upstreamTokens.get('sub', 'route', 'upstream');
  const text = await metrics.registry.metrics();
  for (const op of ['session_get', 'identity_get', 'oauth_find', 'upstream_token_get']) {
    const line = `portcullis_storage_operation_duration_seconds_count{op="${op}"} 1`;
    assert.ok(text.includes(line), `${line} in\n${text}`);
  }
  // A failed read is timed too, and the error reaches the caller unchanged.
  await storage.close();
  await assert.rejects(storage.sessions.get('x', Date.now()), { code: 'ERR_STORAGE_CLOSED' });
  const after = await metrics.registry.metrics();
  assert.ok(
    after.includes('portcullis_storage_operation_duration_seconds_count{op="session_get"} 2'),
  );
});
