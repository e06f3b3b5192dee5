/**
 * A refresh across replicas: vaults on one real SQLite storage, each its own lease holder (as
 * replicas are), ask the rotating provider once between them; a holder that never finishes
 * blocks the others until its lease runs out (the frozen clock moves it), and a refresh is
 * announced on the invalidation bus so another replica's opened token is dropped at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLocalBus } from '../storage/invalidation.js';
import { setup } from './fixtures.test-suite.js';
import { leaseName } from './refresh-lease.js';
import { flightKey } from './vault.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('replicas due at once: one refresh at the provider, none refused, all get its token', async () => {
  const { clock, provider, vault, key, first, storage } = setup();
  const replicas = [1, 2, 3].map(() => vault({ leases: storage.leases, pollMs: 5 }));
  await replicas[0]!.save(key, first);
  clock.advance(10_000);
  let open!: () => void;
  provider.gate = new Promise((resolve) => (open = resolve));
  const all = Promise.all(Array.from({ length: 30 }, (_, i) => replicas[i % 3]!.token(key)));
  await delay(30);
  open();
  const results = await all;
  assert.equal(provider.refreshes, 1);
  assert.equal(provider.refused, 0, 'nobody sent the rotated refresh token again');
  assert.ok(results.every((r) => r.kind === 'token' && r.accessToken === 'access-1'));
  const name = leaseName(flightKey(key));
  assert.ok(await storage.leases.acquire(name, 'next', 1000, clock.now()), 'released');
});

test('a holder that never finishes blocks the others only until its lease runs out', async () => {
  const { clock, provider, vault, key, first, storage } = setup();
  const v = vault({ leases: storage.leases, ttlMs: 15_000, pollMs: 5 });
  await v.save(key, first);
  clock.advance(10_000);
  const name = leaseName(flightKey(key));
  assert.ok(await storage.leases.acquire(name, 'dead-replica', 15_000, clock.now()));
  let settled = false;
  const pending = v.token(key).finally(() => (settled = true));
  await delay(60);
  assert.equal(settled, false, 'waiting for the holder');
  assert.equal(provider.refreshes, 0);
  clock.advance(15_000);
  const outcome = await pending;
  assert.equal(outcome.kind === 'token' && outcome.accessToken, 'access-1');
  assert.equal(provider.refreshes, 1);
});

test('a waiting replica takes the holder’s token, and the holder’s refusal', async () => {
  const { clock, provider, vault, key, first, storage } = setup();
  const [holder, waiter] = [vault(), vault({ leases: storage.leases, pollMs: 5 })];
  await holder.save(key, first);
  clock.advance(10_000);
  const name = leaseName(flightKey(key));
  await storage.leases.acquire(name, 'holder', 15_000, clock.now());
  const pending = waiter.token(key);
  await delay(30);
  const done = await holder.token(key); // refreshes without the lease: the holder's work
  assert.equal(done.kind === 'token' && done.accessToken, 'access-1');
  const taken = await pending;
  assert.equal(taken.kind === 'token' && taken.accessToken, 'access-1');
  assert.equal(provider.refreshes, 1);

  await holder.save(key, { ...first, refreshToken: 'never-issued' });
  clock.advance(10_000);
  const refused = waiter.token(key);
  await delay(30);
  assert.deepEqual(await holder.token(key), { kind: 'missing', refused: true });
  assert.deepEqual(await refused, { kind: 'missing', refused: true });
});

test('a refresh is announced: another replica drops the access token it opened', async () => {
  const { key, replica } = setup();
  const bus = createLocalBus();
  const [a, b] = [replica(bus, true), replica(bus, true)];
  await a.save(key, {
    accessToken: 'access-0',
    refreshToken: 'refresh-0',
    expiresIn: 3600,
    scopes: undefined,
  });
  const before = await b.token(key);
  assert.equal(before.kind === 'token' && before.accessToken, 'access-0');
  const forced = await a.refresh(key);
  assert.equal(forced.kind === 'token' && forced.accessToken, 'access-1');
  const after = await b.token(key);
  assert.equal(after.kind === 'token' && after.accessToken, 'access-1', 'not the cached one');
});
