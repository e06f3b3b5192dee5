/**
 * The vault's rules, in-process on real SQLite storage shared by two vaults (two replicas):
 * when a token is due, single flight, the rotation race a rotating provider makes (the loser of
 * concurrent refreshes takes the winner's token instead of deleting it), outages, the short
 * opened-token cache and what invalidates it. The provider is a scripted `UpstreamOAuthClient`
 * answering as a rotating provider does; end-to-end tests use a real one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLocalBus } from '../storage/invalidation.js';
import { setup } from './fixtures.test-suite.js';

test('a token is used until less than min(60 s, a third of its life) is left', async () => {
  const { clock, provider, vault, key, first } = setup();
  const v = vault();
  await v.save(key, first);
  clock.advance(3_300); // 1.7 s of 5 s left: not yet due (a third is 1.67 s)
  assert.equal((await v.token(key)).kind === 'token' && provider.refreshes, 0);
  clock.advance(100);
  const due = await v.token(key);
  assert.equal(due.kind, 'token');
  assert.equal(due.kind === 'token' && due.accessToken, 'access-1');
  assert.equal(provider.refreshes, 1);
});

test('concurrent requests for one key share one refresh; another user’s key is not joined', async () => {
  const { clock, provider, vault, key, first } = setup();
  const v = vault();
  await v.save(key, first);
  clock.advance(10_000);
  const results = await Promise.all(Array.from({ length: 25 }, () => v.token(key)));
  assert.ok(results.every((r) => r.kind === 'token' && r.accessToken === 'access-1'));
  assert.equal(provider.refreshes, 1);
  const other = { ...key, sub: 'user-2' };
  assert.deepEqual(await v.token(other), { kind: 'missing', refused: false });
});

test('two replicas refreshing at once: the loser takes the winner’s token, nothing is deleted', async () => {
  const { clock, provider, vault, key, first } = setup();
  const [a, b] = [vault(), vault()];
  await a.save(key, first);
  clock.advance(10_000);
  let open!: () => void;
  provider.gate = new Promise((resolve) => (open = resolve));
  const both = Promise.all([a.token(key), b.token(key)]);
  await new Promise((r) => setTimeout(r, 20));
  open();
  const [ra, rb] = await both;
  assert.equal(provider.refreshes, 1, 'the provider accepted one refresh');
  assert.equal(provider.refused, 1, 'and refused the rotated token the other sent');
  assert.equal(ra.kind === 'token' && ra.accessToken, 'access-1');
  assert.equal(rb.kind === 'token' && rb.accessToken, 'access-1', 'the loser has the winner’s');
  clock.advance(10_000);
  const later = await b.token(key);
  assert.equal(later.kind === 'token' && later.accessToken, 'access-2', 'the chain goes on');
});

test('a refresh the provider refuses deletes the token; an outage keeps it', async () => {
  const { clock, provider, vault, key, first, storage } = setup();
  const v = vault();
  await v.save(key, first);
  clock.advance(10_000);
  provider.outage = true;
  assert.equal((await v.token(key)).kind, 'unavailable');
  assert.ok(await storage.upstreamTokens.get(key.sub, key.routeKey, provider.upstreamKey));
  provider.outage = false;
  assert.equal((await v.token(key)).kind, 'token');
  await v.save(key, { ...first, refreshToken: 'never-issued' });
  clock.advance(10_000);
  assert.deepEqual(await v.token(key), { kind: 'missing', refused: true });
  assert.equal(
    await storage.upstreamTokens.get(key.sub, key.routeKey, provider.upstreamKey),
    undefined,
  );
});

test('an opened token is served from memory for 5 s; another replica’s disconnect is seen after', async () => {
  const { clock, vault, key, storage, provider } = setup();
  const [a, b] = [vault(), vault()];
  await a.save(key, {
    accessToken: 'long',
    refreshToken: null,
    expiresIn: 3600,
    scopes: undefined,
  });
  assert.equal((await a.token(key)).kind, 'token');
  await b.disconnect(key);
  assert.equal((await a.token(key)).kind, 'token', 'within the cache’s life');
  clock.advance(5_001);
  assert.deepEqual(await a.token(key), { kind: 'missing', refused: false });
  await a.save(key, {
    accessToken: 'again',
    refreshToken: null,
    expiresIn: 3600,
    scopes: undefined,
  });
  assert.equal((await a.token(key)).kind, 'token');
  await a.forget(key);
  assert.deepEqual(await a.token(key), { kind: 'missing', refused: false }, 'at once here');
  assert.equal(
    await storage.upstreamTokens.get(key.sub, key.routeKey, provider.upstreamKey),
    undefined,
  );
});

test('a sealed token moved to another user’s row does not open', async () => {
  const { vault, key, storage, provider } = setup();
  const v = vault();
  const record = await v.save(key, {
    accessToken: 'secret',
    refreshToken: null,
    expiresIn: 60,
    scopes: undefined,
  });
  await storage.upstreamTokens.put({ ...record, sub: 'mallory' });
  await assert.rejects(v.token({ ...key, sub: 'mallory' }), /sealed value/);
  assert.notEqual(record.accessTokenEnc.includes('secret'), true);
  void provider;
});

test('with an invalidation bus, another replica’s disconnect is seen at once; unhealthy, nothing is kept', async () => {
  const { key, storage, provider, replica } = setup();
  let up = true;
  const bus = { ...createLocalBus(), healthy: () => up };
  // Two replicas: each vault on the storage that announces its writes on the shared bus.
  const [a, b] = [replica(bus), replica(bus)];
  const long = { accessToken: 'long', refreshToken: null, expiresIn: 3600, scopes: undefined };
  await a.save(key, long);
  assert.equal((await a.token(key)).kind, 'token');
  await b.disconnect(key);
  assert.deepEqual(await a.token(key), { kind: 'missing', refused: false }, 'at once');

  await b.save(key, long);
  assert.equal((await a.token(key)).kind, 'token');
  await bus.publish({ k: 'upstream', sub: key.sub, route: 'another route' });
  await bus.publish({ k: 'upstream', sub: 'another user', route: key.routeKey });
  // Straight to the row, unannounced: only a cache that asks storage sees it.
  await storage.upstreamTokens.delete(key.sub, key.routeKey, provider.upstreamKey);
  assert.equal((await a.token(key)).kind, 'token', 'events for others kept it');
  await bus.publish({ k: 'all' });
  assert.deepEqual(await a.token(key), { kind: 'missing', refused: false });

  await b.save(key, long);
  up = false;
  assert.equal((await a.token(key)).kind, 'token');
  await storage.upstreamTokens.delete(key.sub, key.routeKey, provider.upstreamKey);
  assert.deepEqual(await a.token(key), { kind: 'missing', refused: false }, 'unhealthy: asked');
});
