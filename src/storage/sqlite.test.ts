import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { randomId } from '../core/crypto.js';
import { session, signingKey, storageContract } from './contract.test-suite.js';
import { upstreamToken } from './contract-upstream.test-suite.js';
import { migrate, MIGRATIONS, schemaVersion } from './migrations.js';
import { openSqliteStorage } from './sqlite.js';
import { openStorage } from './open.js';
import type { Storage } from './types.js';

const root = mkdtempSync(join(tmpdir(), 'portcullis-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const T0 = 1_800_000_000_000;

/** Runs `fn` on a connection of its own to `file`. */
function raw<T>(file: string, fn: (db: Sqlite.Database) => T): T {
  const db = new Sqlite(file);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

storageContract('sqlite', async () => {
  const dir = join(root, `case-${++n}`);
  const file = join(dir, 'nested', 'portcullis.db');
  let current: Storage = openSqliteStorage(file);
  return {
    get storage() {
      return current;
    },
    async reopen() {
      await current.close();
      current = openSqliteStorage(file);
      return current;
    },
    async schemaVersion() {
      return raw(file, schemaVersion);
    },
    async recordSchemaVersion(version) {
      raw(file, (db) => db.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(version, 0));
    },
    async dispose() {
      await current.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite storage', () => {
  test('creates the parent directory and an owner-only file', async () => {
    const file = join(root, 'fresh', 'deeper', 'p.db');
    const s = openSqliteStorage(file);
    await s.sessions.put(session());
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(`${file}-wal`).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, 'fresh')).mode & 0o077, 0);
    assert.equal(s.kind, 'sqlite');
    await s.close();
    await s.close(); // twice is harmless
  });

  test('two connections to one file share data; racing adds keep one key', async () => {
    const file = join(root, 'shared.db');
    const [a, b] = [openSqliteStorage(file), openSqliteStorage(file)];
    await Promise.all([
      a.signingKeys.add(signingKey({ privateJwkEnc: 'from-a' })),
      b.signingKeys.add(signingKey({ privateJwkEnc: 'from-b' })),
    ]);
    assert.equal((await a.signingKeys.list()).length, 1);
    assert.deepEqual(await a.signingKeys.list(), await b.signingKeys.list());
    await Promise.all([a.close(), b.close()]);
  });

  test('two connections to one file share one lease and one token version', async () => {
    const file = join(root, 'shared-upstream.db');
    const [a, b] = [openSqliteStorage(file), openSqliteStorage(file)];
    assert.equal(await a.leases.acquire('refresh', 'a', 1000, T0), true);
    assert.equal(await b.leases.acquire('refresh', 'b', 1000, T0 + 1), false);
    await b.leases.release('refresh', 'b');
    assert.equal(await b.leases.acquire('refresh', 'b', 1000, T0 + 1000), true);
    await a.upstreamTokens.put(upstreamToken());
    assert.equal(await b.upstreamTokens.replace(upstreamToken({ version: 2 }), 1), true);
    assert.equal(await a.upstreamTokens.replace(upstreamToken({ version: 2 }), 1), false);
    await Promise.all([a.close(), b.close()]);
  });

  test('migration 4 adds the upstream tables to a version-3 database and keeps its rows', async () => {
    const file = join(root, 'v3.db');
    const db = new Sqlite(file);
    migrate(
      db,
      MIGRATIONS.filter((m) => m.version <= 3),
    );
    db.prepare('INSERT INTO identities VALUES (?, ?, ?, ?, ?, ?)').run(
      'user-1',
      null,
      null,
      '[]',
      '{}',
      T0,
    );
    db.close();
    const s = openSqliteStorage(file);
    assert.equal(raw(file, schemaVersion), MIGRATIONS.at(-1)!.version);
    assert.equal((await s.identities.get('user-1'))?.updatedAt, T0);
    await s.upstreamTokens.put(upstreamToken());
    assert.deepEqual(await s.upstreamTokens.listBySub('user-1'), [upstreamToken()]);
    await s.close();
  });

  test('migration 5 indexes the OAuth records already there by user; old consents keep no client_id', async () => {
    const file = join(root, 'v4.db');
    const db = new Sqlite(file);
    migrate(
      db,
      MIGRATIONS.filter((m) => m.version <= 4),
    );
    const insert = db.prepare(`INSERT INTO oauth_records (id_hash, model, payload, expires_at)
      VALUES (?, 'Grant', ?, NULL)`);
    insert.run('h1', JSON.stringify({ accountId: 'ada', clientId: 'c1' }));
    insert.run('h2', JSON.stringify({ accountId: 7 }));
    db.prepare('INSERT INTO consents VALUES (?, ?, ?, ?, ?, ?)').run(
      'ada',
      'https://mcp.example/mcp',
      'k'.repeat(64),
      'Old client',
      '["mcp"]',
      T0,
    );
    db.close();
    const s = openSqliteStorage(file);
    assert.deepEqual(await s.oauth.listByAccountId('Grant', 'ada', T0), [
      { payload: { accountId: 'ada', clientId: 'c1' }, expiresAt: null, consumedAt: null },
    ]);
    const [old] = await s.consents.listBySub('ada');
    assert.deepEqual(
      [old?.clientName, old?.clientId, old?.redirectUri],
      ['Old client', null, null],
    );
    await s.close();
  });

  test('migration 7 keeps the sessions of a version-6 database; they have no ID token', async () => {
    const file = join(root, 'v6.db');
    const db = new Sqlite(file);
    migrate(
      db,
      MIGRATIONS.filter((m) => m.version <= 6),
    );
    const old = session();
    db.prepare(
      `INSERT INTO sessions (id_hash, sub, email, name, groups, claims, idp_refresh_token_enc,
        idp_expires_at, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      old.idHash,
      old.sub,
      old.email,
      old.name,
      JSON.stringify(old.groups),
      JSON.stringify(old.claims),
      old.idpRefreshTokenEnc,
      old.idpExpiresAt,
      old.createdAt,
      old.expiresAt,
    );
    db.close();
    const s = openSqliteStorage(file);
    assert.equal(raw(file, schemaVersion), 7);
    assert.deepEqual(await s.sessions.get(old.idHash, T0), { ...old, idpIdTokenEnc: null });
    await s.sessions.put(old);
    assert.deepEqual(await s.sessions.get(old.idHash, T0), old);
    await s.close();
  });

  test('applies each migration in its own transaction and stops at a failing one', () => {
    const db = new Sqlite(':memory:');
    const broken = [
      ...MIGRATIONS,
      {
        version: MIGRATIONS.length + 1,
        name: 'half',
        sql: 'CREATE TABLE half (x); SELECT nope FROM nowhere;',
      },
    ];
    assert.throws(() => migrate(db, broken), /no such table: nowhere/);
    assert.equal(schemaVersion(db), MIGRATIONS.length);
    const half = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'half'").get();
    assert.equal(half, undefined, 'the failed migration left no trace');
    const rows = db.prepare('SELECT version, applied_at FROM schema_migrations').all();
    assert.equal(rows.length, MIGRATIONS.length);
    db.close();
  });

  test('migration 3 drops consents remembered by client name (issue 8, defect 2)', () => {
    const db = new Sqlite(':memory:');
    migrate(
      db,
      MIGRATIONS.filter((m) => m.version <= 2),
    );
    db.prepare('INSERT INTO consents VALUES (?, ?, ?, ?, ?, ?)').run(
      'user-1',
      'https://mcp.example.com/sqlite',
      'c'.repeat(64),
      'By name',
      '["mcp"]',
      1,
    );
    assert.equal(migrate(db), MIGRATIONS.at(-1)!.version);
    assert.deepEqual(db.prepare('SELECT * FROM consents').all(), []);
    db.close();
  });

  test('the file and its WAL never hold an id given to a token model', async () => {
    const file = join(root, 'tokens.db');
    const s = openSqliteStorage(file);
    // oidc-provider's models whose ids are bearer values; only Session, Interaction and
    // DeviceCode keep their ids (their lookups return them).
    const models = [
      'AccessToken',
      'RefreshToken',
      'AuthorizationCode',
      'ClientCredentials',
      'Grant',
      'RegistrationAccessToken',
      'InitialAccessToken',
      'PushedAuthorizationRequest',
      'BackchannelAuthenticationRequest',
      'ReplayDetection',
    ];
    const tokens = models.map((model) => ({ model, id: `secret-${randomId()}` }));
    for (const { model, id } of tokens) {
      await s.oauth.upsert(model, id, { grantId: 'g1', kind: model }, Date.now() + 60_000);
    }
    const [code, refresh] = tokens;
    await s.oauth.consume(code!.model, code!.id, Date.now());
    await s.oauth.upsert(refresh!.model, refresh!.id, { grantId: 'g2' }, null);
    // A kept id proves the scan reads what was written.
    const kept = `kept-${randomId()}`;
    await s.oauth.upsert('Session', kept, { uid: 'u1' }, null);
    const bytes = () =>
      [file, `${file}-wal`].filter(existsSync).map((f) => ({ f, b: readFileSync(f) }));
    const assertNoTokens = () => {
      const files = bytes();
      assert.ok(
        files.some(({ b }) => b.includes(kept)),
        'the scan sees the kept Session id',
      );
      for (const { f, b } of files) {
        for (const { model, id } of tokens) assert.ok(!b.includes(id), `${model} id in ${f}`);
      }
    };
    assert.ok(existsSync(`${file}-wal`));
    assertNoTokens();
    await s.close(); // checkpoints the WAL into the file
    assertNoTokens();
  });

  test('openStorage opens memory and sqlite (postgres: postgres.test.ts)', async () => {
    const memory = await openStorage({ type: 'memory' });
    assert.equal(memory.kind, 'memory');
    await memory.close();
    const sqlite = await openStorage({ type: 'sqlite', file: join(root, 'open.db') });
    assert.equal(sqlite.kind, 'sqlite');
    await sqlite.close();
  });
});
