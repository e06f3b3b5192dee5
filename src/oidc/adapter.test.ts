import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha256Hex } from '../core/crypto.js';
import { createMemoryStorage } from '../storage/memory.js';
import { createAdapterFactory, hashClientSecret } from './adapter.js';

const clientFingerprint = (stored: Readonly<Record<string, unknown>>) => JSON.stringify(stored);

test('adapter: token values are kept out of payloads and restored on find', async () => {
  const storage = createMemoryStorage();
  let now = 1_000_000;
  const adapter = createAdapterFactory({
    oauth: storage.oauth,
    clients: storage.oauthClients,
    clientFingerprint,
    now: () => now,
  })('AccessToken');
  const token = 'tok-value-0123456789';
  await adapter.upsert(
    token,
    { jti: token, grantId: 'g1', accountId: 'alice', kind: 'AccessToken' },
    60,
  );
  const stored = await storage.oauth.find('AccessToken', token, now);
  assert.ok(stored);
  assert.equal(JSON.stringify(stored.payload).includes(token), false, 'no token value stored');
  assert.deepEqual(await adapter.find(token), {
    grantId: 'g1',
    accountId: 'alice',
    kind: 'AccessToken',
    jti: token,
  });
  await adapter.consume(token);
  assert.equal(typeof (await adapter.find(token))?.consumed, 'number');
  now += 61_000;
  assert.equal(await adapter.find(token), undefined, 'expired');
});

test('adapter: revocation by grant and destroy notify the caller', async () => {
  const storage = createMemoryStorage();
  const gone: string[] = [];
  const factory = createAdapterFactory({
    oauth: storage.oauth,
    clients: storage.oauthClients,
    clientFingerprint,
    onDestroyed: (model, id) => gone.push(`${model}:${id}`),
    onGrantRevoked: (grantId) => gone.push(`grant:${grantId}`),
  });
  const at = factory('AccessToken');
  const rt = factory('RefreshToken');
  await at.upsert('a1', { grantId: 'g1' }, 60);
  await rt.upsert('r1', { grantId: 'g1' }, 60);
  await at.upsert('a2', { grantId: 'g2' }, 60);
  await rt.revokeByGrantId('g1');
  assert.equal(await at.find('a1'), undefined);
  assert.equal(await rt.find('r1'), undefined);
  assert.ok(await at.find('a2'));
  await at.destroy('a2');
  assert.deepEqual(gone, ['grant:g1', 'AccessToken:a2']);
});

test('adapter: client secrets are stored hashed, with the registration fingerprint', async () => {
  const storage = createMemoryStorage();
  const given: Readonly<Record<string, unknown>>[] = [];
  const clients = createAdapterFactory({
    oauth: storage.oauth,
    clients: storage.oauthClients,
    clientFingerprint: (stored) => {
      given.push(stored);
      return 'fp-from-request';
    },
  })('Client');
  await clients.upsert('c1', { client_id: 'c1', client_secret: 'plain-secret', client_name: 'X' });
  const record = await storage.oauthClients.get('c1');
  assert.equal(record?.metadata.client_secret, `sha256$${sha256Hex('plain-secret')}`);
  assert.equal(record?.fingerprint, 'fp-from-request');
  assert.equal(given.length, 1);
  // An update keeps the fingerprint the client was registered with.
  await clients.upsert('c1', { client_id: 'c1', client_secret: 'plain-secret', client_name: 'Y' });
  assert.equal((await storage.oauthClients.get('c1'))?.fingerprint, 'fp-from-request');
  assert.equal(given.length, 1);
  assert.equal((await clients.find('c1'))?.client_secret, hashClientSecret('plain-secret'));
  assert.equal(hashClientSecret(hashClientSecret('x')), hashClientSecret('x'), 'idempotent');
});
