import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routesFrom, session } from '../mcp/pipeline/fixtures.test-suite.js';
import { mcpServerRoutes } from './accessible.js';
import { ClientTokens } from './client-tokens.js';
import { createLocalBus, type InvalidationBus } from '../storage/invalidation.js';

const ROUTES = routesFrom(`
  - from: https://mcp.example.com
    path: /open
    to: http://up
    allow_any_authenticated_user: true
    mcp: { server: {} }
  - from: https://mcp.example.com
    path: /staff
    to: http://up
    policy: [{ allow: { and: [{ groups: { has: staff } }] } }]
    mcp: { server: {} }
  - from: https://app.example.com
    to: http://app
    allow_any_authenticated_user: true
    mcp: { client: {} }
`);

function setup(lifeMs = 300_000, invalidation?: InvalidationBus) {
  let now = 1_000_000;
  const minted: { sub: string; audiences: readonly string[] }[] = [];
  const revoked: string[] = [];
  const tokens = new ClientTokens({
    servers: mcpServerRoutes(ROUTES),
    now: () => now,
    mint: async (s, audiences) => {
      minted.push({ sub: s.sub, audiences });
      const n = minted.length;
      return { token: `token-${n}`, grantId: `grant-${n}`, expiresAt: now + lifeMs };
    },
    revokeGrant: async (grantId) => void revoked.push(grantId),
    invalidation,
  });
  return { tokens, minted, revoked, advance: (ms: number) => (now += ms) };
}

test('client tokens: audiences are the servers the policy lets the user reach', async () => {
  const s = setup();
  await s.tokens.tokenFor(session({ groups: ['staff'] }));
  await s.tokens.tokenFor(session({ idHash: 'b'.repeat(64), groups: [] }));
  assert.deepEqual(
    s.minted.map((m) => m.audiences),
    [
      ['https://mcp.example.com/open', 'https://mcp.example.com/staff'],
      ['https://mcp.example.com/open'],
    ],
  );
});

test('client tokens: one per session, reused until a minute before expiry, then replaced', async () => {
  const s = setup();
  const user = session();
  assert.equal(await s.tokens.tokenFor(user), 'token-1');
  s.advance(239_000);
  assert.equal(await s.tokens.tokenFor(user), 'token-1', '61 s left: still good');
  s.advance(2_000);
  assert.equal(await s.tokens.tokenFor(user), 'token-2', '59 s left: replaced');
  assert.deepEqual(s.revoked, [], 'an expiring token is left to expire');
});

test('client tokens: a short life is renewed with a third of it left', async () => {
  const s = setup(3_000);
  const user = session();
  assert.equal(await s.tokens.tokenFor(user), 'token-1');
  s.advance(1_900);
  assert.equal(await s.tokens.tokenFor(user), 'token-1');
  s.advance(200);
  assert.equal(await s.tokens.tokenFor(user), 'token-2');
});

test('client tokens: concurrent requests of a session share one mint', async () => {
  const s = setup();
  const user = session();
  const all = await Promise.all(Array.from({ length: 20 }, () => s.tokens.tokenFor(user)));
  assert.deepEqual(new Set(all), new Set(['token-1']));
  assert.equal(s.minted.length, 1);
});

test('client tokens: new audiences replace the token and revoke the old grant', async () => {
  const s = setup();
  assert.equal(await s.tokens.tokenFor(session({ groups: ['staff'] })), 'token-1');
  assert.equal(await s.tokens.tokenFor(session({ groups: [] })), 'token-2');
  assert.deepEqual(s.revoked, ['grant-1']);
});

test('client tokens: a session that ended is forgotten', async () => {
  const s = setup();
  const user = session();
  await s.tokens.tokenFor(user);
  s.tokens.forget(user.idHash);
  assert.equal(await s.tokens.tokenFor(user), 'token-2');
});

test('client tokens: a session ended on any replica is forgotten, and all on a reconnect', async () => {
  const bus = createLocalBus();
  const s = setup(300_000, bus);
  const ada = session();
  const bob = session({ idHash: 'b'.repeat(64) });
  assert.equal(await s.tokens.tokenFor(ada), 'token-1');
  assert.equal(await s.tokens.tokenFor(bob), 'token-2');
  await bus.publish({ k: 'session', idHash: ada.idHash });
  assert.equal(await s.tokens.tokenFor(ada), 'token-3');
  assert.equal(await s.tokens.tokenFor(bob), 'token-2');
  await bus.publish({ k: 'all' });
  assert.equal(await s.tokens.tokenFor(bob), 'token-4');
});
