import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { session } from '../storage/contract.test-suite.js';
import { createMemoryStorage } from '../storage/memory.js';
import type { Storage } from '../storage/types.js';
import { authorizedClients, recordGrantUse, revokeClient } from './authorized-clients.js';
import { consentClientKey } from './client-identity.js';
import { recordGrantSession } from './grant-session.js';

const T0 = 1_800_000_000_000;
const NOTES = 'https://mcp.example/notes';
const OPEN = 'https://mcp.example/open';
const LOOPBACK = 'http://127.0.0.1:33418/callback';

describe('authorized clients', () => {
  let s: Storage;
  const deps = () => ({
    oauth: s.oauth,
    consents: s.consents,
    clients: s.oauthClients,
    sessions: s.sessions,
    now: () => T0 + 1000,
  });
  const key = (clientId: string, redirectUri: string) => consentClientKey(clientId, redirectUri);

  /** A grant the consent interaction made for `sub` under session `idHash`. */
  async function grant(
    grantId: string,
    sub: string,
    clientId: string,
    redirectUri: string,
    resource: string,
    idHash = 'a'.repeat(64),
    createdAt = T0,
  ) {
    const owner = { sub, clientId, clientKey: key(clientId, redirectUri), resource, redirectUri };
    await recordGrantSession(s.oauth, grantId, idHash, T0 + 86_400_000, { ...owner, createdAt });
    await s.oauth.upsert('Grant', grantId, { accountId: sub, clientId }, T0 + 86_400_000);
    await s.oauth.upsert('AccessToken', `at-${grantId}`, { grantId, accountId: sub }, null);
  }

  async function consent(sub: string, clientId: string | null, redirectUri: string | null) {
    await s.consents.put({
      sub,
      resource: NOTES,
      clientKey: key(clientId ?? 'old', redirectUri ?? 'old'),
      clientName: `${clientId ?? 'old'} as consented`,
      clientId,
      redirectUri,
      scopes: ['mcp'],
      grantedAt: T0 - 500,
    });
  }

  beforeEach(async () => {
    s = createMemoryStorage();
    await s.sessions.put(session({ sub: 'ada' }));
  });

  it('lists each client once, from its consents and grants, newest first', async () => {
    await consent('ada', 'claude', LOOPBACK);
    // Another port of the same loopback redirect: the same client (RFC 8252 §7.3); the newest
    // grant's redirect is shown.
    await grant('g1', 'ada', 'claude', 'http://127.0.0.1:50000/callback', NOTES, undefined, T0);
    await grant('g2', 'ada', 'claude', LOOPBACK, OPEN, 'b'.repeat(64), T0 + 10);
    await recordGrantUse(s.oauth, { grantId: 'g1', accountId: 'ada', expiresAt: null }, T0 + 50);
    await recordGrantUse(s.oauth, { grantId: 'g2', accountId: 'ada', expiresAt: null }, T0 + 70);
    await s.oauthClients.put({
      clientId: 'cursor',
      metadata: { client_name: '  Cursor  ' },
      fingerprint: 'f',
      createdAt: T0,
      lastUsedAt: null,
    });
    await grant('g3', 'ada', 'cursor', 'cursor://anysphere.cursor-mcp/oauth/callback', NOTES);
    const chatgpt = 'https://chatgpt.com/client.json';
    await grant('g4', 'ada', chatgpt, 'https://chatgpt.com/cb', NOTES, undefined, T0 + 5);
    await consent('ada', null, null);
    // Not Ada's, or not a client's: client mode's grants name no client.
    await grant('g5', 'bob', 'claude', LOOPBACK, NOTES);
    await recordGrantSession(s.oauth, 'g6', 'a'.repeat(64), T0 + 86_400_000);

    const listed = await authorizedClients(deps(), 'ada');
    assert.deepEqual(
      listed.map((c) => [c.name, c.host, c.resources, c.authorizedAt, c.lastUsedAt, c.active]),
      [
        ['claude as consented', '127.0.0.1:33418', [NOTES, OPEN], T0 + 10, T0 + 70, true],
        ['An unnamed MCP client', 'chatgpt.com', [NOTES], T0 + 5, null, true],
        ['Cursor', 'anysphere.cursor-mcp', [NOTES], T0, null, true],
        ['old as consented', null, [NOTES], T0 - 500, null, false],
      ],
    );
    assert.equal(listed[0]?.key, key('claude', LOOPBACK));
    assert.equal(listed[0]?.clientId, 'claude');
    assert.deepEqual(await authorizedClients(deps(), 'carol'), []);
  });

  it('a grant whose gateway session ended is not active', async () => {
    await grant('g1', 'ada', 'claude', LOOPBACK, NOTES, 'c'.repeat(64));
    const [listed] = await authorizedClients(deps(), 'ada');
    assert.equal(listed?.active, false);
  });

  it('revoke forgets the consents and revokes the grants of that client and user only', async () => {
    await consent('ada', 'claude', LOOPBACK);
    await grant('g1', 'ada', 'claude', LOOPBACK, NOTES);
    await grant('g2', 'ada', 'claude', LOOPBACK, OPEN);
    await grant('g3', 'ada', 'cursor', 'cursor://x/cb', NOTES);
    await grant('g4', 'bob', 'claude', LOOPBACK, NOTES);
    const revoked: string[] = [];
    const all = {
      ...deps(),
      revokeGrant: async (grantId: string) => {
        revoked.push(grantId);
        await s.oauth.revokeByGrantId(grantId);
      },
    };
    const done = await revokeClient(all, 'ada', key('claude', LOOPBACK));
    assert.equal(done.consents, 1);
    assert.deepEqual(revoked.sort(), ['g1', 'g2']);
    assert.equal(await s.consents.get('ada', NOTES, key('claude', LOOPBACK)), undefined);
    for (const id of ['g1', 'g2']) {
      assert.equal(await s.oauth.find('Grant', id, T0), undefined, `${id}: grant destroyed`);
      assert.equal(await s.oauth.find('AccessToken', `at-${id}`, T0), undefined, `${id}: tokens`);
    }
    for (const id of ['g3', 'g4']) assert.ok(await s.oauth.find('AccessToken', `at-${id}`, T0));
    assert.deepEqual(
      (await authorizedClients(deps(), 'ada')).map((c) => c.clientId),
      ['cursor'],
    );
    assert.equal((await authorizedClients(deps(), 'bob')).length, 1, 'Bob’s is his');
    const again = await revokeClient(all, 'ada', key('claude', LOOPBACK));
    assert.deepEqual([again.consents, again.grants.length], [0, 0]);
  });
});
