import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryStorage } from '../storage/memory.js';
import type { AccessTokenInstance } from '../oidc/provider-module.js';
import { BearerValidator } from './bearer.js';

const TOKEN = 'A'.repeat(43);
const RESOURCE = 'https://mcp.example.com/sqlite';

async function setup() {
  const storage = createMemoryStorage();
  await storage.identities.put({
    sub: 'alice',
    email: 'alice@example.com',
    name: 'Alice',
    groups: [],
    claims: {},
    updatedAt: 0,
  });
  let now = 1_000_000;
  let lookups = 0;
  let stored: AccessTokenInstance | undefined = {
    jti: TOKEN,
    accountId: 'alice',
    clientId: 'c1',
    grantId: 'g1',
    aud: RESOURCE,
    exp: (now + 60_000) / 1000,
  };
  const find = async () => {
    lookups++;
    return stored;
  };
  const validator = new BearerValidator({ identities: storage.identities, now: () => now });
  return {
    validator,
    find,
    lookups: () => lookups,
    advance: (ms: number) => (now += ms),
    drop: () => (stored = undefined),
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
      return live;
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
