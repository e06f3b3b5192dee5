import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { AssertionSigner } from '../assertion/sign.js';
import { parseConfig } from '../config/load.js';
import { createLocalBus } from '../storage/invalidation.js';
import { createMemoryStorage } from '../storage/memory.js';
import { session } from '../storage/contract.test-suite.js';
import { createAssertionSource } from './identity.js';

const { config } = parseConfig(
  [
    'insecure_server: true',
    `shared_secret: ${Buffer.alloc(32, 7).toString('base64')}`,
    `cookie_secret: ${Buffer.alloc(32, 9).toString('base64')}`,
    'databroker_storage_type: memory',
    'routes:',
    '  - from: http://a.localhost:8080',
    '    to: http://127.0.0.1:9/a',
    '  - from: http://b.localhost:8080',
    '    to: http://127.0.0.1:9/b',
  ].join('\n'),
  'identity.test',
  {},
);

test('an assertion is reused for a minute per session, identity version and route host', async () => {
  let now = 1_800_000_000_000;
  const signer = await AssertionSigner.create({
    store: createMemoryStorage().signingKeys,
    sharedSecret: config.sharedSecret!,
    clock: () => now,
  });
  const assertionFor = createAssertionSource(signer, config, () => now);
  const [a, b] = config.routes;
  const ada = session({ sub: 'ada', email: 'ada@example.com', idpExpiresAt: now + 3_600_000 });

  const first = await assertionFor(a!, ada);
  assert.equal(await assertionFor(a!, ada), first, 'reused within the minute');
  const otherHost = await assertionFor(b!, ada);
  assert.notEqual(otherHost, first);
  assert.equal(decodeJwt(otherHost).aud, 'b.localhost');

  // New claims from the provider (a refreshed session) are never hidden behind the cache.
  const refreshed = { ...ada, groups: ['admins'], idpExpiresAt: ada.idpExpiresAt + 1 };
  assert.deepEqual(decodeJwt(await assertionFor(a!, refreshed)).groups, ['admins']);

  // At the end of the minute the reused token still has four of its five minutes left.
  now += 59_000;
  assert.equal(await assertionFor(a!, ada), first);
  assert.ok(decodeJwt(first).exp! * 1000 - now >= 240_000);
  now += 2_000;
  assert.notEqual(await assertionFor(a!, ada), first, 'signed again after a minute');
});

test('an assertion is dropped when its session or user changes anywhere; unhealthy, always signed', async () => {
  const signer = await AssertionSigner.create({
    store: createMemoryStorage().signingKeys,
    sharedSecret: config.sharedSecret!,
  });
  let up = true;
  const bus = { ...createLocalBus(), healthy: () => up };
  const assertionFor = createAssertionSource(signer, config, Date.now, bus);
  const [a] = config.routes;
  const ada = session({ sub: 'ada', idHash: 'a'.repeat(64) });
  const bob = session({ sub: 'bob', idHash: 'b'.repeat(64) });
  const first = { ada: await assertionFor(a!, ada), bob: await assertionFor(a!, bob) };
  // Signed again, a token differs (its jti, or its iat a second later).
  const fresh = async (s: typeof ada, was: string) => (await assertionFor(a!, s)) !== was;
  await bus.publish({ k: 'session', idHash: bob.idHash });
  assert.equal(await fresh(ada, first.ada), false, 'another session ending keeps it');
  assert.equal(await fresh(bob, first.bob), true);
  const again = await assertionFor(a!, ada);
  await bus.publish({ k: 'user', sub: 'ada' });
  assert.equal(await fresh(ada, again), true);
  const kept = await assertionFor(a!, ada);
  await bus.publish({ k: 'all' });
  assert.equal(await fresh(ada, kept), true);
  up = false;
  const unhealthy = await assertionFor(a!, ada);
  assert.equal(await fresh(ada, unhealthy), true, 'nothing kept while unhealthy');
});
