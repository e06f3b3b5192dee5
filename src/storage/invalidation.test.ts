import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha256Hex } from '../core/crypto.js';
import { upstreamToken } from './contract-upstream.test-suite.js';
import { session } from './contract.test-suite.js';
import {
  cacheTrusted,
  createLocalBus,
  toInvalidationEvent,
  type InvalidationEvent,
} from './invalidation.js';
import { createMemoryStorage } from './memory.js';
import { openStorage } from './open.js';
import { publishingStorage } from './publishing.js';

test('local bus: delivered to every subscriber before publish resolves; unsubscribe stops it', async () => {
  const bus = createLocalBus();
  const a: InvalidationEvent[] = [];
  const b: InvalidationEvent[] = [];
  const offA = bus.subscribe((e) => a.push(e));
  bus.subscribe(() => {
    throw new Error('a broken cache');
  });
  bus.subscribe((e) => b.push(e));
  const warned = new Promise((resolve) => process.once('warning', resolve));
  await bus.publish({ k: 'grant', id: 'g1' });
  assert.deepEqual(a, [{ k: 'grant', id: 'g1' }]);
  assert.deepEqual(b, a, 'a handler that throws keeps the event from no other');
  assert.match(String(await warned), /a handler failed: a broken cache/);
  offA();
  await bus.publish({ k: 'all' });
  assert.equal(a.length, 1);
  assert.equal(b.length, 2);
  assert.equal(bus.healthy(), true);
  assert.equal(cacheTrusted(bus), true);
  assert.equal(cacheTrusted(undefined), true, 'no bus: one process, the cache is trusted');
  assert.equal(cacheTrusted({ ...bus, healthy: () => false }), false);
});

test('events from elsewhere: only known kinds with their string fields, nothing extra', () => {
  assert.deepEqual(toInvalidationEvent({ k: 'upstream', sub: 's', route: 'r', o: 'x' }), {
    k: 'upstream',
    sub: 's',
    route: 'r',
  });
  assert.deepEqual(toInvalidationEvent({ k: 'all' }), { k: 'all' });
  for (const bad of [
    null,
    'grant',
    { k: 'grant' },
    { k: 'grant', id: 7 },
    { k: 'upstream', sub: 's' },
    { k: 'toString' },
    { k: 'drop', id: 'x' },
  ]) {
    assert.equal(toInvalidationEvent(bad), undefined, JSON.stringify(bad));
  }
});

test('revoking writes announce themselves after they succeed, whoever calls them', async () => {
  const bus = createLocalBus();
  const storage = publishingStorage(createMemoryStorage(), bus);
  assert.equal(storage.invalidation, bus);
  const seen: InvalidationEvent[] = [];
  bus.subscribe((event) => seen.push(event));
  await storage.oauth.upsert('AccessToken', 'token-value', { grantId: 'g1' }, null);
  await storage.oauth.destroy('AccessToken', 'token-value');
  await storage.oauth.destroy('Grant', 'g1');
  await storage.oauth.destroy('Interaction', 'i1');
  await storage.oauth.revokeByGrantId('g2');
  await storage.sessions.put(session());
  await storage.sessions.delete(session().idHash);
  await storage.oauthClients.delete('c1');
  const identity = { sub: 'alice', email: null, name: null, groups: [], claims: {} };
  await storage.identities.put({ ...identity, updatedAt: 0 });
  const token = upstreamToken();
  await storage.upstreamTokens.put(token);
  await storage.upstreamTokens.replace({ ...token, version: token.version + 1 }, token.version);
  const lost = await storage.upstreamTokens.replace({ ...token, version: 9 }, token.version);
  assert.equal(lost, false);
  assert.equal(await storage.upstreamTokens.delete(token.sub, token.routeKey, 'other'), false);
  await storage.upstreamTokens.delete(token.sub, token.routeKey, token.upstreamKey);
  assert.deepEqual(
    seen,
    [
      { k: 'token', hash: sha256Hex('token-value') },
      { k: 'grant', id: 'g1' },
      { k: 'grant', id: 'g2' },
      { k: 'session', idHash: session().idHash },
      { k: 'client', id: 'c1' },
      { k: 'user', sub: 'alice' },
      { k: 'upstream', sub: token.sub, route: token.routeKey },
      { k: 'upstream', sub: token.sub, route: token.routeKey },
      { k: 'upstream', sub: token.sub, route: token.routeKey },
    ],
    'the put, the refresh (replace) and the delete of an upstream token; a lost replace and a missed delete are not',
  );
});

test('a failed write announces nothing', async () => {
  const bus = createLocalBus();
  const inner = createMemoryStorage();
  const storage = publishingStorage(inner, bus);
  const seen: InvalidationEvent[] = [];
  bus.subscribe((e) => seen.push(e));
  await inner.close();
  await assert.rejects(storage.sessions.delete('x'));
  await assert.rejects(storage.oauth.revokeByGrantId('g'));
  assert.deepEqual(seen, []);
});

test('openStorage: memory and SQLite get a bus of their own process', async () => {
  const storage = await openStorage({ type: 'memory' });
  const seen: InvalidationEvent[] = [];
  storage.invalidation?.subscribe((e) => seen.push(e));
  await storage.sessions.delete('abc');
  assert.deepEqual(seen, [{ k: 'session', idHash: 'abc' }]);
  await storage.close();
});
