/**
 * The behaviour every storage backend must have. A backend's test file calls
 * `storageContract` with a factory; persistent backends also pass `reopen` and the schema
 * hooks so persistence and the migration version check are proven too.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { oauthStoresContract } from './contract-oauth.test-suite.js';
import { rateCountersContract } from './contract-counters.test-suite.js';
import { upstreamStoresContract } from './contract-upstream.test-suite.js';
import { StorageError } from './errors.js';
import { MIGRATIONS } from './migrations.js';
import type { BackendUnderTest } from './contract-backend.test-suite.js';
import type { SessionRecord, SigningKeyRecord, Storage, UserRecord } from './types.js';

export type { BackendUnderTest };

const T0 = 1_800_000_000_000;

export function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    idHash: 'a'.repeat(64),
    sub: 'user-1',
    email: 'ada@example.com',
    name: 'Ada Lovelace',
    groups: ['engineering', 'admins'],
    claims: { sub: 'user-1', nested: { list: [1, 'two', null] }, email_verified: true },
    idpRefreshTokenEnc: 'v1.aaaa.bbbb.cccc',
    idpIdTokenEnc: 'v1.dddd.eeee.ffff',
    idpExpiresAt: T0 + 3_600_000,
    createdAt: T0,
    expiresAt: T0 + 86_400_000,
    ...overrides,
  };
}

export function signingKey(overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  return {
    kid: 'kid-1',
    alg: 'ES256',
    publicJwk: '{"kty":"EC","crv":"P-256","x":"x","y":"y"}',
    privateJwkEnc: 'v1.iv.ct.tag',
    createdAt: T0,
    retiredAt: null,
    ...overrides,
  };
}

function user(overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    email: 'ada@example.com',
    name: 'Ada',
    groups: ['admins'],
    passwordHash: 'scrypt$32768$8$1$salt$hash',
    createdAt: T0,
    ...overrides,
  };
}

export function storageContract(name: string, open: () => Promise<BackendUnderTest>): void {
  describe(`storage contract: ${name}`, () => {
    let backend: BackendUnderTest;
    let s: Storage;
    beforeEach(async () => {
      backend = await open();
      s = backend.storage;
    });
    afterEach(() => backend.dispose());

    describe('sessions', () => {
      test('round-trips every field and returns copies', async () => {
        const record = session({
          email: null,
          name: null,
          idpRefreshTokenEnc: null,
          idpIdTokenEnc: null,
        });
        await s.sessions.put(record);
        await s.sessions.put(session({ idHash: 'b'.repeat(64) }));
        const got = await s.sessions.get(record.idHash, T0);
        assert.deepEqual(got, record);
        (got!.groups as string[]).push('intruder');
        assert.deepEqual((await s.sessions.get(record.idHash, T0))?.groups, record.groups);
        assert.deepEqual(
          await s.sessions.get('b'.repeat(64), T0),
          session({ idHash: 'b'.repeat(64) }),
        );
      });

      test('is missing at its expiry instant and after, present just before', async () => {
        const record = session();
        await s.sessions.put(record);
        assert.ok(await s.sessions.get(record.idHash, record.expiresAt - 1));
        assert.equal(await s.sessions.get(record.idHash, record.expiresAt), undefined);
        assert.equal(await s.sessions.get(record.idHash, record.expiresAt + 1), undefined);
        assert.equal(await s.sessions.get('f'.repeat(64), T0), undefined);
      });

      test('put replaces; delete removes and tolerates a missing id', async () => {
        await s.sessions.put(session());
        await s.sessions.put(session({ sub: 'user-2', groups: [] }));
        assert.equal((await s.sessions.get(session().idHash, T0))?.sub, 'user-2');
        await s.sessions.delete(session().idHash);
        await s.sessions.delete(session().idHash);
        assert.equal(await s.sessions.get(session().idHash, T0), undefined);
      });

      test('sweep deletes sessions expired at now and counts them', async () => {
        await s.sessions.put(session({ idHash: '1', expiresAt: T0 - 1 }));
        await s.sessions.put(session({ idHash: '2', expiresAt: T0 }));
        await s.sessions.put(session({ idHash: '3', expiresAt: T0 + 1 }));
        assert.equal(await s.sessions.sweep(T0), 2);
        assert.equal(await s.sessions.sweep(T0), 0);
        assert.ok(await s.sessions.get('3', T0));
      });
    });

    describe('signing keys', () => {
      test('lists newest first, ties broken by kid descending', async () => {
        assert.deepEqual(await s.signingKeys.list(), []);
        await s.signingKeys.add(signingKey({ kid: 'b', createdAt: T0 }));
        await s.signingKeys.add(signingKey({ kid: 'c', createdAt: T0 + 2 }));
        await s.signingKeys.add(signingKey({ kid: 'a', createdAt: T0 }));
        await s.signingKeys.add(signingKey({ kid: 'd', createdAt: T0 + 1 }));
        const kids = (await s.signingKeys.list()).map((k) => k.kid);
        assert.deepEqual(kids, ['c', 'd', 'b', 'a']);
        assert.deepEqual(
          (await s.signingKeys.list())[0],
          signingKey({ kid: 'c', createdAt: T0 + 2 }),
        );
      });

      test('compares kids bytewise, as SQLite does, whatever the database locale', async () => {
        for (const kid of ['a', 'B', '_']) await s.signingKeys.add(signingKey({ kid }));
        const kids = (await s.signingKeys.list()).map((k) => k.kid);
        assert.deepEqual(kids, ['a', '_', 'B']);
      });

      test('a second add of the same kid is a no-op', async () => {
        await s.signingKeys.add(signingKey({ privateJwkEnc: 'first' }));
        await s.signingKeys.add(signingKey({ privateJwkEnc: 'second', createdAt: T0 + 9 }));
        const keys = await s.signingKeys.list();
        assert.equal(keys.length, 1);
        assert.equal(keys[0]?.privateJwkEnc, 'first');
        assert.equal(keys[0]?.createdAt, T0);
      });

      test('retire records the first retirement only; unknown kids are ignored', async () => {
        await s.signingKeys.add(signingKey());
        await s.signingKeys.retire('kid-1', T0 + 10);
        await s.signingKeys.retire('kid-1', T0 + 20);
        await s.signingKeys.retire('nope', T0 + 20);
        const keys = await s.signingKeys.list();
        assert.deepEqual(keys, [signingKey({ retiredAt: T0 + 10 })]);
      });

      test('prune removes keys retired strictly before the bound, never current ones', async () => {
        await s.signingKeys.add(signingKey({ kid: 'current' }));
        await s.signingKeys.add(signingKey({ kid: 'old', retiredAt: T0 - 1 }));
        await s.signingKeys.add(signingKey({ kid: 'edge', retiredAt: T0 }));
        await s.signingKeys.add(signingKey({ kid: 'recent' }));
        await s.signingKeys.retire('recent', T0 + 5);
        assert.equal(await s.signingKeys.prune(T0), 1);
        assert.equal(await s.signingKeys.prune(T0), 0);
        const kids = (await s.signingKeys.list()).map((k) => k.kid).sort();
        assert.deepEqual(kids, ['current', 'edge', 'recent']);
        assert.equal(await s.signingKeys.prune(T0 + 6), 2);
        assert.deepEqual(
          (await s.signingKeys.list()).map((k) => k.kid),
          ['current'],
        );
      });
    });

    describe('users', () => {
      test('put inserts or replaces by email; get ignores case; list is by email', async () => {
        assert.equal(await s.users.get('ada@example.com'), undefined);
        await s.users.put(user({ email: 'zed@example.com', name: null, groups: [] }));
        await s.users.put(user());
        assert.deepEqual(await s.users.get('Ada@Example.com'), user());
        await s.users.put(user({ name: 'Ada L.', passwordHash: 'scrypt$new' }));
        assert.deepEqual(
          await s.users.get('ada@example.com'),
          user({ name: 'Ada L.', passwordHash: 'scrypt$new' }),
        );
        assert.deepEqual(await s.users.list(), [
          user({ name: 'Ada L.', passwordHash: 'scrypt$new' }),
          user({ email: 'zed@example.com', name: null, groups: [] }),
        ]);
      });
    });

    describe('login attempts', () => {
      test('counts failures per key at or after since', async () => {
        for (const at of [T0 - 1, T0, T0 + 1]) await s.loginAttempts.recordFailure('email:ada', at);
        await s.loginAttempts.recordFailure('email:ada', T0); // two at the same instant both count
        await s.loginAttempts.recordFailure('ip:127.0.0.1', T0);
        assert.equal(await s.loginAttempts.countFailures('email:ada', T0), 3);
        assert.equal(await s.loginAttempts.countFailures('email:ada', T0 - 1), 4);
        assert.equal(await s.loginAttempts.countFailures('ip:127.0.0.1', 0), 1);
        assert.equal(await s.loginAttempts.countFailures('email:bob', 0), 0);
      });

      test('reset forgets one key; prune deletes older failures and counts them', async () => {
        for (const at of [T0 - 2, T0 - 1, T0]) await s.loginAttempts.recordFailure('a', at);
        await s.loginAttempts.recordFailure('b', T0 - 5);
        await s.loginAttempts.reset('b');
        assert.equal(await s.loginAttempts.countFailures('b', 0), 0);
        assert.equal(await s.loginAttempts.prune(T0 - 1), 1);
        assert.equal(await s.loginAttempts.prune(T0 - 1), 0);
        assert.equal(await s.loginAttempts.countFailures('a', 0), 2);
      });
    });

    oauthStoresContract(
      () => s,
      () => backend,
    );
    upstreamStoresContract(
      () => s,
      () => backend,
    );
    rateCountersContract(() => s);

    test('ping answers while open and fails once closed', async () => {
      await s.ping();
      await s.close();
      await assert.rejects(s.ping());
      await assert.rejects(s.sessions.get('x', T0));
    });

    test('keeps everything across a reopen (persistent backends)', async (t) => {
      if (!backend.reopen) return t.skip('not persistent');
      await s.sessions.put(session());
      await s.signingKeys.add(signingKey());
      await s.signingKeys.retire('kid-1', T0 + 1);
      await s.users.put(user());
      await s.loginAttempts.recordFailure('a', T0);
      s = await backend.reopen();
      assert.deepEqual(await s.sessions.get(session().idHash, T0), session());
      assert.deepEqual(await s.signingKeys.list(), [signingKey({ retiredAt: T0 + 1 })]);
      assert.deepEqual(await s.users.list(), [user()]);
      assert.equal(await s.loginAttempts.countFailures('a', T0), 1);
    });

    test('records the schema version and refuses a newer one (persistent backends)', async (t) => {
      const { reopen, schemaVersion, recordSchemaVersion } = backend;
      if (!reopen || !schemaVersion || !recordSchemaVersion) return t.skip('not persistent');
      const latest = MIGRATIONS.at(-1)!.version;
      assert.equal(await schemaVersion(), latest);
      s = await reopen(); // reopening at the current version changes nothing
      assert.equal(await schemaVersion(), latest);
      await s.close();
      await recordSchemaVersion(latest + 1);
      await assert.rejects(reopen(), (err: unknown) => {
        assert.ok(err instanceof StorageError);
        assert.equal(err.code, 'ERR_STORAGE_SCHEMA_TOO_NEW');
        assert.match(err.message, new RegExp(`version ${latest + 1}.*up to ${latest}`));
        return true;
      });
    });
  });
}
