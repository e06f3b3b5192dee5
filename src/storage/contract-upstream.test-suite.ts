/**
 * The contract of the upstream stores (`upstreamTokens`, `upstreamClients`, `leases`), run by
 * `storageContract` against every backend. The races are real on PostgreSQL (a pool of
 * connections); on SQLite and memory they prove the same answers when calls interleave.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BackendUnderTest } from './contract-backend.test-suite.js';
import type { Storage, UpstreamClientRecord, UpstreamTokenRecord } from './types.js';

const T0 = 1_800_000_000_000;
const RACERS = 20;

export function upstreamToken(overrides: Partial<UpstreamTokenRecord> = {}): UpstreamTokenRecord {
  return {
    sub: 'user-1',
    routeKey: 'notion',
    upstreamKey: 'https://auth.example.com client-1',
    accessTokenEnc: 'v1.iv.access.tag',
    refreshTokenEnc: 'v1.iv.refresh.tag',
    scopes: ['read', 'write'],
    expiresAt: T0 + 3_600_000,
    createdAt: T0,
    updatedAt: T0,
    version: 1,
    ...overrides,
  };
}

export function upstreamClient(
  overrides: Partial<UpstreamClientRecord> = {},
): UpstreamClientRecord {
  return {
    issuer: 'https://auth.example.com',
    redirectUri: 'https://mcp.example.com/.pomerium/mcp/oauth/callback',
    clientId: 'gateway-client-1',
    clientSecretEnc: 'v1.iv.secret.tag',
    tokenEndpointAuthMethod: 'client_secret_basic',
    createdAt: T0,
    ...overrides,
  };
}

/** `store()` is the storage under test, `backend()` its backend (for reopen). */
export function upstreamStoresContract(store: () => Storage, backend: () => BackendUnderTest) {
  upstreamTokensContract(store);
  upstreamClientsContract(store);
  leasesContract(store);

  test('the upstream stores fail once closed', async () => {
    const s = store();
    await s.close();
    await assert.rejects(s.upstreamTokens.get('u', 'r', 'k'));
    await assert.rejects(s.upstreamClients.putIfAbsent(upstreamClient()));
    await assert.rejects(s.leases.acquire('n', 'h', 1000, T0));
  });

  test('keeps the upstream stores across a reopen (persistent backends)', async (t) => {
    const { reopen } = backend();
    if (!reopen) return t.skip('not persistent');
    let s = store();
    const token = upstreamToken({ refreshTokenEnc: null, expiresAt: null, scopes: [] });
    await s.upstreamTokens.put(token);
    assert.equal(await s.upstreamTokens.replace({ ...token, version: 2 }, 1), true);
    await s.upstreamClients.putIfAbsent(upstreamClient());
    assert.equal(await s.leases.acquire('refresh', 'replica-a', 60_000, T0), true);
    s = await reopen();
    assert.deepEqual(await s.upstreamTokens.listBySub('user-1'), [{ ...token, version: 2 }]);
    assert.equal(await s.upstreamTokens.replace({ ...token, version: 2 }, 1), false);
    assert.equal(await s.upstreamTokens.replace({ ...token, version: 3 }, 2), true);
    assert.deepEqual(
      await s.upstreamClients.putIfAbsent(upstreamClient({ clientId: 'second' })),
      upstreamClient(),
    );
    assert.equal(await s.leases.acquire('refresh', 'replica-b', 60_000, T0 + 1), false);
    assert.equal(await s.leases.acquire('refresh', 'replica-a', 60_000, T0 + 1), true);
  });
}

function upstreamTokensContract(store: () => Storage): void {
  describe('upstream tokens', () => {
    test('round-trips every field, nulls included, and returns copies', async () => {
      const s = store();
      const bare = upstreamToken({ refreshTokenEnc: null, expiresAt: null, scopes: [] });
      assert.equal(await s.upstreamTokens.get('user-1', 'notion', bare.upstreamKey), undefined);
      await s.upstreamTokens.put(bare);
      await s.upstreamTokens.put(upstreamToken({ routeKey: 'sqlite' }));
      assert.deepEqual(await s.upstreamTokens.get('user-1', 'notion', bare.upstreamKey), bare);
      const got = await s.upstreamTokens.get('user-1', 'sqlite', bare.upstreamKey);
      assert.deepEqual(got, upstreamToken({ routeKey: 'sqlite' }));
      (got!.scopes as string[]).push('admin');
      assert.deepEqual((await s.upstreamTokens.get('user-1', 'sqlite', bare.upstreamKey))?.scopes, [
        'read',
        'write',
      ]);
    });

    test('two users, two routes and two upstreams never see each other’s tokens', async () => {
      const s = store();
      const all: UpstreamTokenRecord[] = [];
      for (const sub of ['user-1', 'user-2']) {
        for (const routeKey of ['notion', 'https://mcp.example.com/sqlite']) {
          for (const upstreamKey of ['https://a.example c1', 'https://b.example c1']) {
            const accessTokenEnc = `sealed:${sub}:${routeKey}:${upstreamKey}`;
            all.push(upstreamToken({ sub, routeKey, upstreamKey, accessTokenEnc }));
          }
        }
      }
      for (const token of all) await s.upstreamTokens.put(token);
      for (const t of all) {
        assert.deepEqual(await s.upstreamTokens.get(t.sub, t.routeKey, t.upstreamKey), t);
      }
      assert.equal(
        await s.upstreamTokens.get('user-1', 'notion', 'https://c.example c1'),
        undefined,
      );
      assert.equal(
        await s.upstreamTokens.get('user-3', 'notion', 'https://a.example c1'),
        undefined,
      );
      // The parts of a key stay apart: no split of the same characters finds another's token.
      const joined = upstreamToken({
        sub: 'user-1notion',
        routeKey: '',
        upstreamKey: 'https://a.example c1',
        accessTokenEnc: 'joined',
      });
      await s.upstreamTokens.put(joined);
      assert.deepEqual(await s.upstreamTokens.get('user-1', 'notion', joined.upstreamKey), all[0]);
      assert.deepEqual(await s.upstreamTokens.get('user-1notion', '', joined.upstreamKey), joined);
      const [first, second] = all as [UpstreamTokenRecord, UpstreamTokenRecord];
      assert.equal(
        await s.upstreamTokens.replace({ ...first, accessTokenEnc: 'new', version: 2 }, 1),
        true,
      );
      assert.equal(
        await s.upstreamTokens.delete(second.sub, second.routeKey, second.upstreamKey),
        true,
      );
      assert.deepEqual(await s.upstreamTokens.listBySub('user-2'), all.slice(4).sort(byKey));
      const mine = await s.upstreamTokens.listBySub('user-1');
      assert.deepEqual(
        mine,
        [{ ...first, accessTokenEnc: 'new', version: 2 }, ...all.slice(2, 4)].sort(byKey),
      );
      assert.deepEqual(await s.upstreamTokens.listBySub('user-3'), []);
    });

    test('listBySub orders by route key then upstream key, bytewise', async () => {
      const s = store();
      const keys = [
        ['b', 'y'],
        ['a', 'z'],
        ['B', 'x'],
        ['a', 'Z'],
        ['_', 'x'],
      ] as const;
      for (const [routeKey, upstreamKey] of keys) {
        await s.upstreamTokens.put(upstreamToken({ routeKey, upstreamKey }));
      }
      const listed = (await s.upstreamTokens.listBySub('user-1')).map((t) => [
        t.routeKey,
        t.upstreamKey,
      ]);
      assert.deepEqual(listed, [
        ['B', 'x'],
        ['_', 'x'],
        ['a', 'Z'],
        ['a', 'z'],
        ['b', 'y'],
      ]);
    });

    test('put replaces whatever is stored, whatever its version', async () => {
      const s = store();
      await s.upstreamTokens.put(upstreamToken({ version: 7 }));
      await s.upstreamTokens.put(upstreamToken({ accessTokenEnc: 'reconnected', version: 1 }));
      const t = upstreamToken();
      assert.deepEqual(
        await s.upstreamTokens.get(t.sub, t.routeKey, t.upstreamKey),
        upstreamToken({ accessTokenEnc: 'reconnected', version: 1 }),
      );
    });

    test('replace sets once per version; a stale version loses and changes nothing', async () => {
      const s = store();
      const t = upstreamToken();
      assert.equal(await s.upstreamTokens.replace({ ...t, version: 2 }, 1), false, 'no row');
      assert.equal(await s.upstreamTokens.get(t.sub, t.routeKey, t.upstreamKey), undefined);
      await s.upstreamTokens.put(t);
      const v2 = upstreamToken({
        accessTokenEnc: 'refreshed',
        refreshTokenEnc: null,
        scopes: ['read'],
        expiresAt: null,
        updatedAt: T0 + 5,
        version: 2,
      });
      assert.equal(await s.upstreamTokens.replace(v2, 1), true);
      assert.deepEqual(await s.upstreamTokens.get(t.sub, t.routeKey, t.upstreamKey), v2);
      const stale = upstreamToken({ accessTokenEnc: 'stale', version: 2 });
      assert.equal(await s.upstreamTokens.replace(stale, 1), false);
      assert.equal(await s.upstreamTokens.replace({ ...stale, version: 5 }, 4), false);
      assert.deepEqual(await s.upstreamTokens.get(t.sub, t.routeKey, t.upstreamKey), v2);
      assert.equal(await s.upstreamTokens.replace(upstreamToken({ version: 3 }), 2), true);
      assert.equal((await s.upstreamTokens.get(t.sub, t.routeKey, t.upstreamKey))?.version, 3);
    });

    test('replace refuses a new version that does not rise above the expected one', async () => {
      const s = store();
      await s.upstreamTokens.put(upstreamToken());
      await assert.rejects(s.upstreamTokens.replace(upstreamToken({ version: 1 }), 1), TypeError);
      await assert.rejects(s.upstreamTokens.replace(upstreamToken({ version: 0 }), 1), TypeError);
      await assert.rejects(s.upstreamTokens.replace(upstreamToken({ version: 1.5 }), 1), TypeError);
      const t = upstreamToken();
      assert.deepEqual(await s.upstreamTokens.get(t.sub, t.routeKey, t.upstreamKey), t);
    });

    test(`${RACERS} racing replaces of one version: exactly one wins, and it is stored`, async () => {
      const s = store();
      const t = upstreamToken();
      await s.upstreamTokens.put(t);
      const racers = Array.from({ length: RACERS }, (_, i) =>
        upstreamToken({ accessTokenEnc: `racer-${i}`, version: 2 }),
      );
      const won = await Promise.all(racers.map((r) => s.upstreamTokens.replace(r, 1)));
      assert.equal(won.filter(Boolean).length, 1, `winners: ${won.join()}`);
      const stored = await s.upstreamTokens.get(t.sub, t.routeKey, t.upstreamKey);
      assert.deepEqual(stored, racers[won.indexOf(true)]);
    });

    test('delete reports whether it deleted; with a version, only that version', async () => {
      const s = store();
      const t = upstreamToken({ version: 4 });
      const del = (expected?: number) =>
        s.upstreamTokens.delete(t.sub, t.routeKey, t.upstreamKey, expected);
      assert.equal(await del(), false);
      await s.upstreamTokens.put(t);
      await s.upstreamTokens.put(upstreamToken({ routeKey: 'other' }));
      assert.equal(await del(3), false);
      assert.equal(await del(5), false);
      assert.deepEqual(await s.upstreamTokens.get(t.sub, t.routeKey, t.upstreamKey), t);
      assert.equal(await del(4), true);
      assert.equal(await del(4), false);
      assert.equal(await s.upstreamTokens.get(t.sub, t.routeKey, t.upstreamKey), undefined);
      await s.upstreamTokens.put(t);
      assert.equal(await del(), true);
      assert.equal(await del(), false);
      assert.equal((await s.upstreamTokens.listBySub('user-1')).length, 1, 'the other route stays');
    });
  });
}

function byKey(a: UpstreamTokenRecord, b: UpstreamTokenRecord): number {
  const cmp = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return cmp(a.routeKey, b.routeKey) || cmp(a.upstreamKey, b.upstreamKey);
}

function upstreamClientsContract(store: () => Storage): void {
  describe('upstream clients', () => {
    test('putIfAbsent stores once per issuer and redirect URI and returns the stored one', async () => {
      const s = store();
      const c = upstreamClient();
      assert.equal(await s.upstreamClients.get(c.issuer, c.redirectUri), undefined);
      assert.deepEqual(await s.upstreamClients.putIfAbsent(c), c);
      const later = upstreamClient({ clientId: 'later', clientSecretEnc: null, createdAt: T0 + 1 });
      assert.deepEqual(await s.upstreamClients.putIfAbsent(later), c);
      assert.deepEqual(await s.upstreamClients.get(c.issuer, c.redirectUri), c);
      // Another redirect URI or another issuer is another registration.
      const otherHost = upstreamClient({
        redirectUri: 'https://other.example.com/.pomerium/mcp/oauth/callback',
        clientId: 'for-other-host',
        clientSecretEnc: null,
        tokenEndpointAuthMethod: 'none',
      });
      const otherIssuer = upstreamClient({ issuer: 'https://auth2.example.com', clientId: 'i2' });
      assert.deepEqual(await s.upstreamClients.putIfAbsent(otherHost), otherHost);
      assert.deepEqual(await s.upstreamClients.putIfAbsent(otherIssuer), otherIssuer);
      assert.deepEqual(await s.upstreamClients.get(c.issuer, otherHost.redirectUri), otherHost);
      assert.equal(
        await s.upstreamClients.get(otherIssuer.issuer, otherHost.redirectUri),
        undefined,
      );
    });

    test('delete removes one registration, tolerates a missing one, and frees the key', async () => {
      const s = store();
      const c = upstreamClient();
      const other = upstreamClient({ issuer: 'https://auth2.example.com' });
      await s.upstreamClients.putIfAbsent(c);
      await s.upstreamClients.putIfAbsent(other);
      await s.upstreamClients.delete(c.issuer, c.redirectUri);
      await s.upstreamClients.delete(c.issuer, c.redirectUri);
      assert.equal(await s.upstreamClients.get(c.issuer, c.redirectUri), undefined);
      assert.deepEqual(await s.upstreamClients.get(other.issuer, other.redirectUri), other);
      const again = upstreamClient({ clientId: 're-registered', createdAt: T0 + 9 });
      assert.deepEqual(await s.upstreamClients.putIfAbsent(again), again);
    });

    test(`${RACERS} racing putIfAbsent calls all get the one record stored`, async () => {
      const s = store();
      const racers = Array.from({ length: RACERS }, (_, i) =>
        upstreamClient({ clientId: `racer-${i}`, createdAt: T0 + i }),
      );
      const got = await Promise.all(racers.map((c) => s.upstreamClients.putIfAbsent(c)));
      const stored = await s.upstreamClients.get(racers[0]!.issuer, racers[0]!.redirectUri);
      assert.ok(stored !== undefined && racers.some((c) => c.clientId === stored.clientId));
      for (const c of got) assert.deepEqual(c, stored);
    });
  });
}

function leasesContract(store: () => Storage): void {
  describe('leases', () => {
    test('one holder at a time; names are independent', async () => {
      const { leases } = store();
      assert.equal(await leases.acquire('refresh:u1', 'a', 1000, T0), true);
      assert.equal(await leases.acquire('refresh:u1', 'b', 1000, T0), false);
      assert.equal(await leases.acquire('refresh:u1', 'b', 1000, T0 + 999), false);
      assert.equal(await leases.acquire('refresh:u2', 'b', 1000, T0), true);
      assert.equal(await leases.acquire('refresh:u2', 'a', 1000, T0), false);
    });

    test('an expired lease is taken over at its expiry instant, and its old holder is out', async () => {
      const { leases } = store();
      assert.equal(await leases.acquire('x', 'a', 1000, T0), true);
      assert.equal(await leases.acquire('x', 'b', 1000, T0 + 999), false);
      assert.equal(await leases.acquire('x', 'b', 1000, T0 + 1000), true);
      assert.equal(await leases.acquire('x', 'a', 1000, T0 + 1001), false);
      assert.equal(await leases.acquire('x', 'c', 1000, T0 + 1999), false);
      assert.equal(await leases.acquire('x', 'c', 1000, T0 + 2000), true);
    });

    test('the holder acquiring again extends its lease', async () => {
      const { leases } = store();
      assert.equal(await leases.acquire('x', 'a', 1000, T0), true);
      assert.equal(await leases.acquire('x', 'a', 1000, T0 + 500), true);
      assert.equal(await leases.acquire('x', 'b', 1000, T0 + 1200), false, 'extended to +1500');
      assert.equal(await leases.acquire('x', 'b', 1000, T0 + 1500), true);
    });

    test('release by a non-holder leaves the lease; by its holder frees it', async () => {
      const { leases } = store();
      await leases.release('x', 'a'); // nothing to release
      assert.equal(await leases.acquire('x', 'a', 1000, T0), true);
      await leases.release('x', 'b');
      assert.equal(await leases.acquire('x', 'b', 1000, T0 + 1), false);
      await leases.release('x', 'a');
      assert.equal(await leases.acquire('x', 'b', 1000, T0 + 2), true);
      // A holder whose lease ran out and was taken over releases nothing of its successor's.
      await leases.release('x', 'a');
      assert.equal(await leases.acquire('x', 'c', 1000, T0 + 3), false);
    });

    test(`${RACERS} holders racing for a free lease: exactly one gets it`, async () => {
      const { leases } = store();
      const holders = Array.from({ length: RACERS }, (_, i) => `replica-${i}`);
      const won = await Promise.all(holders.map((h) => leases.acquire('x', h, 60_000, T0)));
      assert.equal(won.filter(Boolean).length, 1, `winners: ${won.join()}`);
      const winner = holders[won.indexOf(true)]!;
      assert.equal(await leases.acquire('x', winner, 60_000, T0 + 1), true);
      const loser = holders.find((h) => h !== winner)!;
      assert.equal(await leases.acquire('x', loser, 60_000, T0 + 1), false);
      // And racing for an expired one: again exactly one.
      const later = T0 + 120_000;
      const again = await Promise.all(holders.map((h) => leases.acquire('x', h, 60_000, later)));
      assert.equal(again.filter(Boolean).length, 1, `winners: ${again.join()}`);
    });
  });
}
