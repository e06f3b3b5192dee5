import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha256Hex } from '../core/crypto.js';
import { createLocalBus, type InvalidationEvent } from '../storage/invalidation.js';
import { createMemoryStorage } from '../storage/memory.js';
import type { AccessTokenInstance } from '../oidc/provider-module.js';
import { BearerValidator } from './bearer.js';

const TOKEN = 'A'.repeat(43);
const RESOURCE = 'https://mcp.example.com/sqlite';

const ALICE = {
  sub: 'alice',
  email: 'alice@example.com',
  name: 'Alice',
  groups: [],
  claims: {},
  updatedAt: 0,
};

async function setup() {
  const storage = createMemoryStorage();
  await storage.identities.put(ALICE);
  let now = 1_000_000;
  let lookups = 0;
  const issued: AccessTokenInstance = {
    jti: TOKEN,
    accountId: 'alice',
    clientId: 'c1',
    grantId: 'g1',
    aud: RESOURCE,
    exp: (now + 60_000) / 1000,
  };
  let stored: AccessTokenInstance | undefined = issued;
  const find = async () => {
    lookups++;
    return stored;
  };
  const validator = new BearerValidator({ identities: storage.identities, now: () => now });
  return {
    storage,
    validator,
    find,
    lookups: () => lookups,
    clock: () => now,
    advance: (ms: number) => (now += ms),
    drop: () => (stored = undefined),
    restore: () => (stored = issued),
  };
}

test('bearer: valid for its resource only, cached, expired tokens refused', async () => {
  const s = await setup();
  const user = await s.validator.validate(TOKEN, RESOURCE, s.find);
  assert.equal(user?.identity.email, 'alice@example.com');
  assert.equal(
    await s.validator.validate(TOKEN, 'https://mcp.example.com/whoami', s.find),
    undefined,
  );
  assert.equal(s.lookups(), 1, 'second use within the cache life asks storage nothing');
  assert.equal(await s.validator.validate('not a token!', RESOURCE, s.find), undefined);
  s.advance(61_000);
  assert.equal(await s.validator.validate(TOKEN, RESOURCE, s.find), undefined);
});

test('bearer: a check of client and audiences instead of one resource', async () => {
  const s = await setup();
  const seen: { clientId: string; audiences: readonly string[] }[] = [];
  const check = (t: { clientId: string; audiences: readonly string[] }) => {
    seen.push(t);
    return t.clientId === 'c1';
  };
  assert.ok(await s.validator.validate(TOKEN, check, s.find));
  assert.deepEqual(seen, [{ ...seen[0], clientId: 'c1', audiences: [RESOURCE] }]);
  assert.equal(await s.validator.validate(TOKEN, (t) => t.clientId === 'c2', s.find), undefined);
  s.advance(61_000);
  assert.equal(await s.validator.validate(TOKEN, check, s.find), undefined, 'expired still');
});

test('bearer: revocation in this process wins over the cache', async () => {
  const s = await setup();
  assert.ok(await s.validator.validate(TOKEN, RESOURCE, s.find));
  s.drop();
  s.validator.forgetGrant('g1');
  assert.equal(await s.validator.validate(TOKEN, RESOURCE, s.find), undefined);
});

test('bearer: refused once its grant session is gone; the check is cached, sign-out here is not', async () => {
  const storage = createMemoryStorage();
  await storage.identities.put({
    sub: 'alice',
    email: null,
    name: null,
    groups: [],
    claims: {},
    updatedAt: 0,
  });
  let now = 1_000_000;
  let live: string | undefined = 'session-1';
  let checks = 0;
  const validator = new BearerValidator({
    identities: storage.identities,
    now: () => now,
    grantSession: async (grantId) => {
      checks++;
      assert.equal(grantId, 'g1');
      return live === undefined ? undefined : { idHash: live, expiresAt: now + 3_600_000 };
    },
  });
  const find = async (): Promise<AccessTokenInstance> => ({
    jti: TOKEN,
    accountId: 'alice',
    clientId: 'c1',
    grantId: 'g1',
    aud: RESOURCE,
    exp: (now + 600_000) / 1000,
  });
  assert.ok(await validator.validate(TOKEN, RESOURCE, find));
  assert.ok(await validator.validate(TOKEN, RESOURCE, find));
  assert.equal(checks, 1, 'the session check is cached');
  live = undefined;
  assert.ok(await validator.validate(TOKEN, RESOURCE, find), 'another replica: within the cache');
  now += 5_001;
  assert.equal(await validator.validate(TOKEN, RESOURCE, find), undefined, 'after the cache life');
  live = 'session-1';
  assert.ok(await validator.validate(TOKEN, RESOURCE, find));
  validator.forgetSession('other-session');
  assert.ok(await validator.validate(TOKEN, RESOURCE, find), 'another session ending is moot');
  live = undefined;
  validator.forgetSession('session-1');
  assert.equal(await validator.validate(TOKEN, RESOURCE, find), undefined, 'signed out here');
});

/** A bus of this process whose health the test sets. */
function testBus() {
  let up = true;
  const bus = createLocalBus();
  return { bus: { ...bus, healthy: () => up }, setHealthy: (v: boolean) => (up = v) };
}

test('bearer: invalidation events from any replica drop what they name, and only that', async () => {
  const s = await setup();
  const { bus } = testBus();
  const validator = new BearerValidator({
    identities: s.storage.identities,
    now: () => s.clock(),
    invalidation: bus,
  });
  const lookupsAfter = async (event: InvalidationEvent) => {
    assert.ok(await validator.validate(TOKEN, RESOURCE, s.find));
    const before = s.lookups();
    await bus.publish(event);
    assert.ok(await validator.validate(TOKEN, RESOURCE, s.find));
    return s.lookups() - before;
  };
  assert.equal(await lookupsAfter({ k: 'token', hash: sha256Hex(TOKEN) }), 1);
  assert.equal(await lookupsAfter({ k: 'token', hash: sha256Hex('B'.repeat(43)) }), 0);
  assert.equal(await lookupsAfter({ k: 'grant', id: 'g1' }), 1);
  assert.equal(await lookupsAfter({ k: 'grant', id: 'g2' }), 0);
  assert.equal(await lookupsAfter({ k: 'client', id: 'c1' }), 1);
  assert.equal(await lookupsAfter({ k: 'client', id: 'c2' }), 0);
  assert.equal(await lookupsAfter({ k: 'user', sub: 'alice' }), 1);
  assert.equal(await lookupsAfter({ k: 'user', sub: 'bob' }), 0);
  assert.equal(await lookupsAfter({ k: 'upstream', sub: 'alice', route: 'r' }), 0);
  assert.equal(await lookupsAfter({ k: 'all' }), 1);

  await s.storage.identities.put({ ...ALICE, email: 'new@example.com' });
  await bus.publish({ k: 'user', sub: 'alice' });
  const user = await validator.validate(TOKEN, RESOURCE, s.find);
  assert.equal(user?.identity.email, 'new@example.com', 'the identity is read again too');
  s.drop();
  await bus.publish({ k: 'token', hash: sha256Hex(TOKEN) });
  assert.equal(await validator.validate(TOKEN, RESOURCE, s.find), undefined, 'revoked elsewhere');
});

test('bearer: a signed-out session elsewhere, or one expiring, is seen at once', async () => {
  const s = await setup();
  const { bus } = testBus();
  let live: { idHash: string; expiresAt: number } | undefined = {
    idHash: 'session-1',
    expiresAt: s.clock() + 2_000,
  };
  let checks = 0;
  const validator = new BearerValidator({
    identities: s.storage.identities,
    now: () => s.clock(),
    invalidation: bus,
    grantSession: async () => (checks++, live),
  });
  assert.ok(await validator.validate(TOKEN, RESOURCE, s.find));
  await bus.publish({ k: 'session', idHash: 'session-2' });
  assert.ok(await validator.validate(TOKEN, RESOURCE, s.find));
  assert.equal(checks, 1, 'another session ending is moot');
  live = undefined;
  await bus.publish({ k: 'session', idHash: 'session-1' });
  assert.equal(await validator.validate(TOKEN, RESOURCE, s.find), undefined);

  live = { idHash: 'session-1', expiresAt: s.clock() + 2_000 };
  assert.ok(await validator.validate(TOKEN, RESOURCE, s.find));
  checks = 0;
  s.advance(2_000);
  live = undefined;
  assert.equal(await validator.validate(TOKEN, RESOURCE, s.find), undefined, 'expired: asked');
  assert.equal(checks, 1);
});

test('bearer: nothing answered from memory while the bus is unhealthy, nor a read an event overtook', async () => {
  const s = await setup();
  const { bus, setHealthy } = testBus();
  const validator = new BearerValidator({
    identities: s.storage.identities,
    now: () => s.clock(),
    invalidation: bus,
  });
  assert.ok(await validator.validate(TOKEN, RESOURCE, s.find));
  setHealthy(false);
  assert.ok(await validator.validate(TOKEN, RESOURCE, s.find));
  assert.ok(await validator.validate(TOKEN, RESOURCE, s.find));
  assert.equal(s.lookups(), 3, 'every check went to storage');
  s.drop();
  assert.equal(await validator.validate(TOKEN, RESOURCE, s.find), undefined);
  setHealthy(true);
  s.restore();
  assert.ok(await validator.validate(TOKEN, RESOURCE, s.find));
  assert.equal(s.lookups(), 5, 'nothing was kept while unhealthy');

  await bus.publish({ k: 'all' });
  const racing = async () => {
    const found = await s.find();
    await bus.publish({ k: 'grant', id: 'g1' });
    return found;
  };
  assert.ok(await validator.validate(TOKEN, RESOURCE, racing));
  assert.ok(await validator.validate(TOKEN, RESOURCE, s.find));
  assert.equal(s.lookups(), 7, 'the lookup a revocation overtook was not kept');
});

test('bearer: peek answers from memory only what validate would, and nothing it would refuse', async () => {
  const s = await setup();
  const { bus, setHealthy } = testBus();
  let live: { idHash: string; expiresAt: number } | undefined = {
    idHash: 'session-1',
    expiresAt: s.clock() + 3_600_000,
  };
  const validator = new BearerValidator({
    identities: s.storage.identities,
    now: () => s.clock(),
    invalidation: bus,
    grantSession: async () => live,
  });
  const peek = (audience = RESOURCE) => validator.peek(TOKEN, audience);
  assert.equal(peek(), undefined, 'nothing known before the first validation');
  const user = await validator.validate(TOKEN, RESOURCE, s.find);
  assert.ok(user);
  assert.deepEqual(peek(), user);
  assert.equal(peek('https://mcp.example.com/whoami'), undefined, 'another resource');
  assert.equal(validator.peek('not a token!', RESOURCE), undefined);
  assert.equal(validator.peek('B'.repeat(43), RESOURCE), undefined, 'another token');

  setHealthy(false);
  assert.equal(peek(), undefined, 'the bus is unhealthy: nothing from memory');
  setHealthy(true);
  assert.deepEqual(peek(), user);

  for (const event of [
    { k: 'token', hash: sha256Hex(TOKEN) },
    { k: 'grant', id: 'g1' },
    { k: 'session', idHash: 'session-1' },
    { k: 'user', sub: 'alice' },
    { k: 'client', id: 'c1' },
  ] satisfies InvalidationEvent[]) {
    await bus.publish(event);
    assert.equal(peek(), undefined, `after a ${event.k} event`);
    assert.deepEqual(await validator.validate(TOKEN, RESOURCE, s.find), user);
    assert.deepEqual(peek(), user);
  }

  s.advance(5_001);
  assert.equal(peek(), undefined, 'past the cache life');
  live = undefined;
  assert.equal(await validator.validate(TOKEN, RESOURCE, s.find), undefined, 'session gone');
  assert.equal(peek(), undefined);
});
