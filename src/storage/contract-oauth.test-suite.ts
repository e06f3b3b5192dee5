/**
 * The contract of the OAuth server's stores (`oauth`, `oauthClients`, `consents`,
 * `identities`), run by `storageContract` against every backend.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackendUnderTest } from './contract-backend.test-suite.js';
import type { ConsentRecord, IdentityRecord, OAuthClientRecord, Storage } from './types.js';

const T0 = 1_800_000_000_000;

export function oauthClient(overrides: Partial<OAuthClientRecord> = {}): OAuthClientRecord {
  return {
    clientId: 'client-1',
    metadata: { client_name: 'Claude', redirect_uris: ['http://127.0.0.1:33418/callback'] },
    fingerprint: 'f'.repeat(64),
    createdAt: T0,
    lastUsedAt: null,
    ...overrides,
  };
}

export function consent(overrides: Partial<ConsentRecord> = {}): ConsentRecord {
  return {
    sub: 'user-1',
    resource: 'https://mcp.example.com/mcp',
    clientKey: 'c'.repeat(64),
    clientName: 'Claude',
    clientId: 'client-1',
    redirectUri: 'http://127.0.0.1:33418/callback',
    scopes: ['mcp', 'offline_access'],
    grantedAt: T0,
    ...overrides,
  };
}

export function identity(overrides: Partial<IdentityRecord> = {}): IdentityRecord {
  return {
    sub: 'user-1',
    email: 'ada@example.com',
    name: 'Ada Lovelace',
    groups: ['engineering'],
    claims: { sub: 'user-1', nested: { list: [1, 'two', null] } },
    updatedAt: T0,
    ...overrides,
  };
}

/** `store()` is the storage under test, `backend()` its backend (for reopen). */
export function oauthStoresContract(store: () => Storage, backend: () => BackendUnderTest): void {
  describe('oauth records', () => {
    const payload = { kind: 'AccessToken', grantId: 'grant-1', scope: 'mcp', extra: { n: [1] } };

    test('round-trips payload and expiry, returns copies, keys by model and id', async () => {
      const s = store();
      await s.oauth.upsert('AccessToken', 'tok-1', payload, T0 + 60_000);
      await s.oauth.upsert('RefreshToken', 'tok-1', { kind: 'RefreshToken' }, null);
      const got = await s.oauth.find('AccessToken', 'tok-1', T0);
      assert.deepEqual(got, { payload, expiresAt: T0 + 60_000, consumedAt: null });
      (got!.payload.extra as { n: number[] }).n.push(2);
      assert.deepEqual((await s.oauth.find('AccessToken', 'tok-1', T0))?.payload, payload);
      assert.deepEqual(await s.oauth.find('RefreshToken', 'tok-1', T0), {
        payload: { kind: 'RefreshToken' },
        expiresAt: null,
        consumedAt: null,
      });
      assert.equal(await s.oauth.find('AuthorizationCode', 'tok-1', T0), undefined);
      assert.equal(await s.oauth.find('AccessToken', 'tok-2', T0), undefined);
    });

    test('is missing at its expiry instant and after; a null expiry never expires', async () => {
      const s = store();
      await s.oauth.upsert('AccessToken', 'a', payload, T0);
      await s.oauth.upsert('Client', 'b', {}, null);
      assert.ok(await s.oauth.find('AccessToken', 'a', T0 - 1));
      assert.equal(await s.oauth.find('AccessToken', 'a', T0), undefined);
      assert.equal(await s.oauth.find('AccessToken', 'a', T0 + 1), undefined);
      assert.ok(await s.oauth.find('Client', 'b', Number.MAX_SAFE_INTEGER));
    });

    test('consume: the first consumption stands, survives a re-upsert, unknown ids ignored', async () => {
      const s = store();
      await s.oauth.upsert('AuthorizationCode', 'code-1', { grantId: 'g' }, T0 + 60_000);
      assert.equal(await s.oauth.consume('AuthorizationCode', 'code-1', T0 + 1), true);
      assert.equal(await s.oauth.consume('AuthorizationCode', 'code-1', T0 + 2), false);
      assert.equal(await s.oauth.consume('AuthorizationCode', 'nope', T0 + 2), false);
      assert.equal((await s.oauth.find('AuthorizationCode', 'code-1', T0))?.consumedAt, T0 + 1);
      await s.oauth.upsert('AuthorizationCode', 'code-1', { grantId: 'g', n: 2 }, T0 + 90_000);
      assert.deepEqual(await s.oauth.find('AuthorizationCode', 'code-1', T0), {
        payload: { grantId: 'g', n: 2 },
        expiresAt: T0 + 90_000,
        consumedAt: T0 + 1,
      });
      assert.equal(await s.oauth.find('AuthorizationCode', 'nope', T0), undefined);
    });

    test('consume: of concurrent consumers exactly one is the first', async () => {
      const s = store();
      await s.oauth.upsert('SessionHandoff', 'h-1', { host: 'x' }, T0 + 60_000);
      const told = await Promise.all(
        [1, 2, 3, 4, 5].map((n) => s.oauth.consume('SessionHandoff', 'h-1', T0 + n)),
      );
      assert.equal(told.filter(Boolean).length, 1, `answers: ${told.join(', ')}`);
      const kept = (await s.oauth.find('SessionHandoff', 'h-1', T0))?.consumedAt;
      assert.equal(kept, T0 + 1 + told.indexOf(true));
    });

    test('destroy removes one record and tolerates a missing one', async () => {
      const s = store();
      await s.oauth.upsert('AccessToken', 'a', payload, null);
      await s.oauth.upsert('AccessToken', 'b', payload, null);
      await s.oauth.destroy('AccessToken', 'a');
      await s.oauth.destroy('AccessToken', 'a');
      await s.oauth.destroy('RefreshToken', 'b');
      assert.equal(await s.oauth.find('AccessToken', 'a', T0), undefined);
      assert.ok(await s.oauth.find('AccessToken', 'b', T0));
    });

    test('revokeByGrantId deletes the grant in every model and nothing else', async () => {
      const s = store();
      for (const model of ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'Grant']) {
        await s.oauth.upsert(model, `${model}-g1`, { grantId: 'g1' }, T0 + 60_000);
        await s.oauth.upsert(model, `${model}-g2`, { grantId: 'g2' }, T0 + 60_000);
      }
      await s.oauth.upsert('Session', 'sess', { uid: 'u' }, null);
      // A replaced payload re-indexes: this token left grant g1 for g2.
      await s.oauth.upsert('AccessToken', 'moved', { grantId: 'g1' }, null);
      await s.oauth.upsert('AccessToken', 'moved', { grantId: 'g2' }, null);
      await s.oauth.revokeByGrantId('g1');
      await s.oauth.revokeByGrantId('unknown');
      for (const model of ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'Grant']) {
        assert.equal(await s.oauth.find(model, `${model}-g1`, T0), undefined, model);
        assert.ok(await s.oauth.find(model, `${model}-g2`, T0), model);
      }
      assert.ok(await s.oauth.find('Session', 'sess', T0));
      assert.ok(await s.oauth.find('AccessToken', 'moved', T0));
    });

    test('findByUid returns the id and record of a live Session or Interaction', async () => {
      const s = store();
      await s.oauth.upsert('Session', 'sess-1', { uid: 'uid-1', accountId: 'ada' }, T0 + 10);
      await s.oauth.upsert('Interaction', 'int-1', { uid: 'int-1' }, null);
      assert.deepEqual(await s.oauth.findByUid('Session', 'uid-1', T0), {
        id: 'sess-1',
        record: {
          payload: { uid: 'uid-1', accountId: 'ada' },
          expiresAt: T0 + 10,
          consumedAt: null,
        },
      });
      assert.equal((await s.oauth.findByUid('Interaction', 'int-1', T0))?.id, 'int-1');
      assert.equal(await s.oauth.findByUid('Session', 'uid-1', T0 + 10), undefined);
      assert.equal(await s.oauth.findByUid('Session', 'int-1', T0), undefined);
      assert.equal(await s.oauth.findByUid('Session', 'nope', T0), undefined);
      await s.oauth.upsert('Session', 'sess-1', { uid: 'uid-2' }, null);
      assert.equal(await s.oauth.findByUid('Session', 'uid-1', T0), undefined);
      assert.equal((await s.oauth.findByUid('Session', 'uid-2', T0))?.id, 'sess-1');
    });

    test('findByUserCode returns the id and record of a live DeviceCode', async () => {
      const s = store();
      await s.oauth.upsert('DeviceCode', 'dc-1', { userCode: 'BCDF-GHJK' }, T0 + 10);
      assert.deepEqual(await s.oauth.findByUserCode('DeviceCode', 'BCDF-GHJK', T0), {
        id: 'dc-1',
        record: { payload: { userCode: 'BCDF-GHJK' }, expiresAt: T0 + 10, consumedAt: null },
      });
      assert.equal(await s.oauth.findByUserCode('DeviceCode', 'BCDF-GHJK', T0 + 10), undefined);
      assert.equal(await s.oauth.findByUserCode('DeviceCode', 'XXXX-XXXX', T0), undefined);
    });

    test('listByAccountId lists the live records of one model and user, re-indexed on upsert', async () => {
      const s = store();
      const mine = { grantId: 'g1', accountId: 'ada', clientId: 'c1' };
      await s.oauth.upsert('GrantSession', 'g1', mine, T0 + 60_000);
      await s.oauth.upsert('GrantSession', 'g2', { grantId: 'g2', accountId: 'ada' }, null);
      await s.oauth.upsert('GrantSession', 'g3', { grantId: 'g3', accountId: 'bob' }, null);
      await s.oauth.upsert('GrantSession', 'g4', { grantId: 'g4', accountId: 'ada' }, T0);
      await s.oauth.upsert('GrantSession', 'g5', { grantId: 'g5' }, null);
      await s.oauth.upsert('AccessToken', 'at', { grantId: 'g1', accountId: 'ada' }, null);
      const ids = async (model: string, user: string, now = T0) =>
        (await s.oauth.listByAccountId(model, user, now)).map((r) => r.payload.grantId).sort();
      assert.deepEqual(await ids('GrantSession', 'ada'), ['g1', 'g2'], 'live, this model only');
      assert.deepEqual(await s.oauth.listByAccountId('GrantSession', 'ada', T0 + 60_000), [
        { payload: { grantId: 'g2', accountId: 'ada' }, expiresAt: null, consumedAt: null },
      ]);
      assert.deepEqual(await ids('GrantSession', 'bob'), ['g3']);
      assert.deepEqual(await ids('GrantSession', 'nobody'), []);
      assert.deepEqual(await ids('AccessToken', 'ada'), ['g1']);
      // A replaced payload re-indexes: g2 now belongs to bob; an empty accountId is no user.
      await s.oauth.upsert('GrantSession', 'g2', { grantId: 'g2', accountId: 'bob' }, null);
      await s.oauth.upsert('GrantSession', 'g6', { grantId: 'g6', accountId: '' }, null);
      assert.deepEqual(await ids('GrantSession', 'ada'), ['g1']);
      assert.deepEqual(await ids('GrantSession', 'bob'), ['g2', 'g3']);
      assert.deepEqual(await ids('GrantSession', ''), []);
      await s.oauth.revokeByGrantId('g1');
      assert.deepEqual(await ids('GrantSession', 'ada'), []);
      assert.deepEqual(await ids('AccessToken', 'ada'), []);
    });

    test('lookups on a model whose id is kept only as a hash are refused', async () => {
      const s = store();
      await s.oauth.upsert('AccessToken', 'tok', { uid: 'u', userCode: 'c' }, null);
      await assert.rejects(s.oauth.findByUid('AccessToken', 'u', T0), TypeError);
      await assert.rejects(s.oauth.findByUserCode('AccessToken', 'c', T0), TypeError);
      await assert.rejects(s.oauth.findByUserCode('Session', 'c', T0), TypeError);
      await assert.rejects(s.oauth.findByUid('DeviceCode', 'u', T0), TypeError);
    });

    test('sweep deletes records expired at now, never unexpiring ones, and counts them', async () => {
      const s = store();
      await s.oauth.upsert('AccessToken', '1', {}, T0 - 1);
      await s.oauth.upsert('AccessToken', '2', {}, T0);
      await s.oauth.upsert('Session', '3', { uid: 'u' }, T0);
      await s.oauth.upsert('AccessToken', '4', {}, T0 + 1);
      await s.oauth.upsert('Client', '5', {}, null);
      assert.equal(await s.oauth.sweep(T0), 3);
      assert.equal(await s.oauth.sweep(T0), 0);
      assert.ok(await s.oauth.find('AccessToken', '4', T0));
      assert.ok(await s.oauth.find('Client', '5', T0 + 10));
    });
  });

  describe('oauth clients', () => {
    test('put inserts or replaces; get returns copies; delete tolerates a missing id', async () => {
      const s = store();
      assert.equal(await s.oauthClients.get('client-1'), undefined);
      await s.oauthClients.put(oauthClient());
      const got = await s.oauthClients.get('client-1');
      assert.deepEqual(got, oauthClient());
      (got!.metadata.redirect_uris as string[]).push('https://evil.example');
      assert.deepEqual(await s.oauthClients.get('client-1'), oauthClient());
      await s.oauthClients.put(oauthClient({ metadata: { client_name: 'B' }, lastUsedAt: T0 }));
      assert.deepEqual(
        await s.oauthClients.get('client-1'),
        oauthClient({ metadata: { client_name: 'B' }, lastUsedAt: T0 }),
      );
      await s.oauthClients.delete('client-1');
      await s.oauthClients.delete('client-1');
      assert.equal(await s.oauthClients.get('client-1'), undefined);
    });

    test('findByFingerprint returns the oldest client with that fingerprint', async () => {
      const s = store();
      await s.oauthClients.put(oauthClient({ clientId: 'c', createdAt: T0 + 1 }));
      await s.oauthClients.put(oauthClient({ clientId: 'b', createdAt: T0 }));
      await s.oauthClients.put(oauthClient({ clientId: 'a', createdAt: T0 + 1 }));
      await s.oauthClients.put(oauthClient({ clientId: 'z', fingerprint: '0'.repeat(64) }));
      assert.deepEqual(
        await s.oauthClients.findByFingerprint('f'.repeat(64)),
        oauthClient({ clientId: 'b' }),
      );
      assert.equal((await s.oauthClients.findByFingerprint('0'.repeat(64)))?.clientId, 'z');
      assert.equal(await s.oauthClients.findByFingerprint('1'.repeat(64)), undefined);
    });

    test('markUsed records the latest use; unknown clients are ignored', async () => {
      const s = store();
      await s.oauthClients.put(oauthClient());
      await s.oauthClients.markUsed('client-1', T0 + 10);
      assert.equal((await s.oauthClients.get('client-1'))?.lastUsedAt, T0 + 10);
      await s.oauthClients.markUsed('client-1', T0 + 5); // a replica reporting late
      assert.equal((await s.oauthClients.get('client-1'))?.lastUsedAt, T0 + 10);
      await s.oauthClients.markUsed('client-1', T0 + 20);
      assert.equal((await s.oauthClients.get('client-1'))?.lastUsedAt, T0 + 20);
      await s.oauthClients.markUsed('nope', T0);
      assert.equal(await s.oauthClients.get('nope'), undefined);
    });

    test('sweep deletes never-used clients created before, and clients last used before, their bounds', async () => {
      const s = store();
      const neverUsedBefore = T0;
      const unusedBefore = T0 - 100;
      const clients = {
        neverUsedOld: oauthClient({ createdAt: T0 - 1 }),
        neverUsedAtBound: oauthClient({ createdAt: T0 }),
        usedLongAgo: oauthClient({ createdAt: T0 - 1000, lastUsedAt: T0 - 101 }),
        usedAtBound: oauthClient({ createdAt: T0 - 1000, lastUsedAt: T0 - 100 }),
        // Used, so only `unusedBefore` applies, however old it is.
        oldButUsed: oauthClient({ createdAt: T0 - 1000, lastUsedAt: T0 - 50 }),
        usedOnceRecently: oauthClient({ createdAt: T0 + 1, lastUsedAt: T0 + 2 }),
      };
      for (const [clientId, c] of Object.entries(clients)) {
        await s.oauthClients.put({ ...c, clientId });
      }
      assert.equal(await s.oauthClients.sweep(neverUsedBefore, unusedBefore), 2);
      assert.equal(await s.oauthClients.sweep(neverUsedBefore, unusedBefore), 0);
      const left = [];
      for (const clientId of Object.keys(clients)) {
        if (await s.oauthClients.get(clientId)) left.push(clientId);
      }
      assert.deepEqual(left, ['neverUsedAtBound', 'usedAtBound', 'oldButUsed', 'usedOnceRecently']);
    });
  });

  describe('consents', () => {
    test('get/put by (sub, resource, clientKey); put replaces; delete removes one', async () => {
      const s = store();
      assert.equal(
        await s.consents.get('user-1', consent().resource, consent().clientKey),
        undefined,
      );
      await s.consents.put(consent());
      await s.consents.put(consent({ resource: 'https://other.example.com/mcp' }));
      await s.consents.put(consent({ clientKey: 'd'.repeat(64) }));
      await s.consents.put(consent({ sub: 'user-2' }));
      const got = await s.consents.get('user-1', consent().resource, consent().clientKey);
      assert.deepEqual(got, consent());
      (got!.scopes as string[]).push('admin');
      await s.consents.put(consent({ scopes: ['mcp'], grantedAt: T0 + 5, clientName: 'C2' }));
      assert.deepEqual(
        await s.consents.get('user-1', consent().resource, consent().clientKey),
        consent({ scopes: ['mcp'], grantedAt: T0 + 5, clientName: 'C2' }),
      );
      await s.consents.delete('user-1', consent().resource, consent().clientKey);
      await s.consents.delete('user-1', consent().resource, consent().clientKey);
      assert.equal(
        await s.consents.get('user-1', consent().resource, consent().clientKey),
        undefined,
      );
      assert.ok(await s.consents.get('user-2', consent().resource, consent().clientKey));
      assert.ok(await s.consents.get('user-1', consent().resource, 'd'.repeat(64)));
    });

    test('keeps the client_id and redirect URI of a consent, or their absence', async () => {
      const s = store();
      const old = consent({ clientKey: 'e'.repeat(64), clientId: null, redirectUri: null });
      await s.consents.put(old);
      await s.consents.put(consent());
      assert.deepEqual(await s.consents.get('user-1', old.resource, old.clientKey), old);
      const moved = consent({ clientId: 'client-2', redirectUri: 'https://c.example/cb' });
      await s.consents.put(moved);
      assert.deepEqual(await s.consents.get('user-1', moved.resource, moved.clientKey), moved);
      assert.deepEqual((await s.consents.listBySub('user-1')).map((c) => c.clientId).sort(), [
        'client-2',
        null,
      ]);
    });

    test('listBySub lists one person, newest first, then by resource and client key', async () => {
      const s = store();
      assert.deepEqual(await s.consents.listBySub('user-1'), []);
      const [a, b, c, d] = [
        consent({ resource: 'https://b.example/mcp', grantedAt: T0 }),
        consent({ resource: 'https://a.example/mcp', clientKey: '2', grantedAt: T0 }),
        consent({ resource: 'https://a.example/mcp', clientKey: '1', grantedAt: T0 }),
        consent({ resource: 'https://z.example/mcp', grantedAt: T0 + 1 }),
      ];
      for (const x of [a, b, c, d, consent({ sub: 'user-2' })]) await s.consents.put(x!);
      assert.deepEqual(await s.consents.listBySub('user-1'), [d, c, b, a]);
      assert.equal((await s.consents.listBySub('user-2')).length, 1);
      // Bytewise, whatever the database locale: 'B' before 'a'.
      const upper = consent({ sub: 'user-3', resource: 'https://B.example/mcp' });
      const lower = consent({ sub: 'user-3', resource: 'https://a.example/mcp' });
      for (const x of [lower, upper]) await s.consents.put(x);
      assert.deepEqual(await s.consents.listBySub('user-3'), [upper, lower]);
    });
  });

  describe('identities', () => {
    test('put inserts or replaces by sub; get returns copies', async () => {
      const s = store();
      assert.equal(await s.identities.get('user-1'), undefined);
      await s.identities.put(identity());
      await s.identities.put(identity({ sub: 'user-2', email: null, name: null, groups: [] }));
      const got = await s.identities.get('user-1');
      assert.deepEqual(got, identity());
      (got!.groups as string[]).push('admins');
      assert.deepEqual(await s.identities.get('user-1'), identity());
      const replaced = identity({ email: null, groups: ['admins'], claims: {}, updatedAt: T0 + 1 });
      await s.identities.put(replaced);
      assert.deepEqual(await s.identities.get('user-1'), replaced);
      assert.deepEqual(
        await s.identities.get('user-2'),
        identity({ sub: 'user-2', email: null, name: null, groups: [] }),
      );
    });
  });

  test('the OAuth stores fail once closed', async () => {
    const s = store();
    await s.close();
    await assert.rejects(s.oauth.find('AccessToken', 'x', T0));
    await assert.rejects(s.oauthClients.get('x'));
    await assert.rejects(s.consents.listBySub('x'));
    await assert.rejects(s.identities.get('x'));
  });

  test('keeps the OAuth stores across a reopen (persistent backends)', async (t) => {
    const { reopen } = backend();
    if (!reopen) return t.skip('not persistent');
    let s = store();
    await s.oauth.upsert('RefreshToken', 'rt', { grantId: 'g' }, T0 + 10);
    await s.oauth.consume('RefreshToken', 'rt', T0 + 1);
    await s.oauth.upsert('Session', 'sess', { uid: 'u' }, null);
    await s.oauth.upsert('DeviceCode', 'dc', { userCode: 'ABCD' }, T0 + 10);
    await s.oauthClients.put(oauthClient());
    await s.oauthClients.markUsed('client-1', T0 + 3);
    await s.consents.put(consent());
    await s.identities.put(identity());
    s = await reopen();
    assert.deepEqual(await s.oauth.find('RefreshToken', 'rt', T0), {
      payload: { grantId: 'g' },
      expiresAt: T0 + 10,
      consumedAt: T0 + 1,
    });
    assert.equal((await s.oauth.findByUid('Session', 'u', T0))?.id, 'sess');
    assert.equal((await s.oauth.findByUserCode('DeviceCode', 'ABCD', T0))?.id, 'dc');
    await s.oauth.revokeByGrantId('g');
    assert.equal(await s.oauth.find('RefreshToken', 'rt', T0), undefined);
    assert.deepEqual(await s.oauthClients.get('client-1'), oauthClient({ lastUsedAt: T0 + 3 }));
    assert.deepEqual(
      await s.oauthClients.findByFingerprint(oauthClient().fingerprint),
      oauthClient({ lastUsedAt: T0 + 3 }),
    );
    assert.deepEqual(await s.consents.listBySub('user-1'), [consent()]);
    assert.deepEqual(await s.identities.get('user-1'), identity());
  });
}
