import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startPostgres } from '../../test/support/postgres.js';
import { randomId } from '../core/crypto.js';
import { session, signingKey, storageContract } from './contract.test-suite.js';
import { upstreamToken } from './contract-upstream.test-suite.js';
import { StorageError } from './errors.js';
import { MIGRATIONS } from './migrations.js';
import { openStorage } from './open.js';
import { openPostgresStorage } from './postgres.js';
import { migratePostgres, pgSchemaVersion, PG_MIGRATIONS } from './postgres-migrations.js';

const server = await startPostgres();
after(() => server.stop());
/** This file's database; each contract case migrates a schema of its own in it. */
const database = await server.createDatabase('storage');

const T0 = 1_800_000_000_000;
const latest = PG_MIGRATIONS.at(-1)!.version;

storageContract('postgres', async () => {
  const url = await server.createSchema(database, 'contract');
  let current = await openPostgresStorage(url);
  return {
    get storage() {
      return current;
    },
    async reopen() {
      await current.close();
      current = await openPostgresStorage(url);
      return current;
    },
    async schemaVersion() {
      const [row] = await server.query<{ v: number }>(
        url,
        'SELECT max(version) AS v FROM schema_migrations',
      );
      return row!.v;
    },
    async recordSchemaVersion(version) {
      await server.query(url, 'INSERT INTO schema_migrations VALUES ($1, 0)', [version]);
    },
    async dispose() {
      await current.close();
    },
  };
});

describe('postgres storage', () => {
  test('mirrors the SQLite migrations, version for version', () => {
    assert.deepEqual(
      PG_MIGRATIONS.map((m) => [m.version, m.name]),
      MIGRATIONS.map((m) => [m.version, m.name]),
    );
  });

  test('openStorage opens it; closed, every store refuses with ERR_STORAGE_CLOSED', async () => {
    const url = await server.createSchema(database, 'open');
    const s = await openStorage({ type: 'postgres', connectionString: url });
    assert.equal(s.kind, 'postgres');
    await s.ping();
    await s.close();
    await s.close(); // twice is harmless
    const closed = (err: unknown) =>
      err instanceof StorageError && err.code === 'ERR_STORAGE_CLOSED';
    await assert.rejects(s.ping(), closed);
    await assert.rejects(s.sessions.get('x', T0), closed);
    await assert.rejects(s.oauth.sweep(T0), closed);
  });

  test('an unreachable server fails the open, promptly', async () => {
    const started = Date.now();
    await assert.rejects(
      openPostgresStorage('postgresql://portcullis:x@127.0.0.1:1/none', {
        connectionTimeoutMs: 2_000,
      }),
      /ECONNREFUSED|connect/,
    );
    assert.ok(Date.now() - started < 2_000);
  });

  test('a connection cut while idle is reported and replaced; the next call works', async () => {
    const url = await server.createSchema(database, 'cut');
    const errors: Error[] = [];
    const s = await openPostgresStorage(url, { onError: (err) => errors.push(err) });
    await s.ping();
    // As a server restart or failover would: the pool's idle connection is terminated.
    await server.query(
      url,
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'portcullis'",
    );
    for (const deadline = Date.now() + 5_000; errors.length === 0 && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.match(String(errors[0]), /terminat/);
    await s.ping();
    await s.close();
  });

  test('replicas on one database see each other’s writes at once', async () => {
    const url = await server.createSchema(database, 'replicas');
    const [a, b] = await Promise.all([openPostgresStorage(url), openPostgresStorage(url)]);
    await a.sessions.put(session());
    assert.deepEqual(await b.sessions.get(session().idHash, T0), session());
    await b.sessions.delete(session().idHash);
    assert.equal(await a.sessions.get(session().idHash, T0), undefined);

    // Racing adds of one kid keep the first; both replicas list the same keys.
    await Promise.all([
      a.signingKeys.add(signingKey({ privateJwkEnc: 'from-a' })),
      b.signingKeys.add(signingKey({ privateJwkEnc: 'from-b' })),
    ]);
    assert.equal((await a.signingKeys.list()).length, 1);
    assert.deepEqual(await a.signingKeys.list(), await b.signingKeys.list());

    // A code consumed on one replica is consumed on the other; the first consumption stands.
    await a.oauth.upsert('AuthorizationCode', 'code', { grantId: 'g' }, T0 + 60_000);
    await Promise.all([
      a.oauth.consume('AuthorizationCode', 'code', T0 + 1),
      b.oauth.consume('AuthorizationCode', 'code', T0 + 2),
    ]);
    const consumedAt = (await b.oauth.find('AuthorizationCode', 'code', T0))?.consumedAt;
    assert.ok(consumedAt === T0 + 1 || consumedAt === T0 + 2);
    await a.oauth.consume('AuthorizationCode', 'code', T0 + 3);
    assert.equal((await a.oauth.find('AuthorizationCode', 'code', T0))?.consumedAt, consumedAt);

    // Failures recorded by both replicas count together (rate limits hold across replicas).
    await Promise.all([
      a.loginAttempts.recordFailure('ip:1', T0),
      b.loginAttempts.recordFailure('ip:1', T0),
    ]);
    assert.equal(await a.loginAttempts.countFailures('ip:1', T0), 2);

    // Replicas racing for one lease, or to replace one token version: one of them wins.
    const leases = await Promise.all(
      [a, b, a, b].map((s, i) => s.leases.acquire('refresh', `holder-${i}`, 60_000, T0)),
    );
    assert.equal(leases.filter(Boolean).length, 1);
    await a.upstreamTokens.put(upstreamToken());
    const replaced = await Promise.all(
      [a, b, a, b].map((s, i) =>
        s.upstreamTokens.replace(upstreamToken({ accessTokenEnc: `r${i}`, version: 2 }), 1),
      ),
    );
    assert.equal(replaced.filter(Boolean).length, 1);
    await Promise.all([a.close(), b.close()]);
  });

  test('replicas opening a new database together apply each migration once', async () => {
    const url = await server.createSchema(database, 'race');
    const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStorage(url)));
    const rows = await server.query<{ version: number }>(
      url,
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    assert.deepEqual(
      rows.map((r) => r.version),
      PG_MIGRATIONS.map((m) => m.version),
    );
    await Promise.all(stores.map((s) => s.close()));
  });

  test('applies each migration in its own transaction and stops at a failing one', async () => {
    const url = await server.createSchema(database, 'broken');
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const broken = [
      ...PG_MIGRATIONS,
      {
        version: latest + 1,
        name: 'half',
        sql: 'CREATE TABLE half (x int); SELECT nope FROM nowhere;',
      },
    ];
    await assert.rejects(migratePostgres(pool, broken), /relation "nowhere" does not exist/);
    const client = await pool.connect();
    assert.equal(await pgSchemaVersion(client), latest);
    const half = await client.query("SELECT to_regclass('half') AS t");
    assert.equal(half.rows[0].t, null, 'the failed migration left no trace');
    const count = await client.query('SELECT count(*)::int AS n FROM schema_migrations');
    assert.equal(count.rows[0].n, latest);
    client.release();
    await pool.end();
  });

  test('migration 5 indexes the OAuth records already there by user', async () => {
    const url = await server.createSchema(database, 'v4');
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    await migratePostgres(
      pool,
      PG_MIGRATIONS.filter((m) => m.version <= 4),
    );
    await pool.query(
      `INSERT INTO oauth_records (id_hash, model, payload) VALUES
        ('h1', 'Grant', '{"accountId": "ada", "clientId": "c1"}'), ('h2', 'Grant', '{"accountId": 7}')`,
    );
    await pool.query(
      `INSERT INTO consents VALUES ('ada', 'https://mcp.example/mcp', 'k', 'Old client', '["mcp"]', 1)`,
    );
    await pool.end();
    const s = await openPostgresStorage(url);
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
    const url = await server.createSchema(database, 'v6');
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    await migratePostgres(
      pool,
      PG_MIGRATIONS.filter((m) => m.version <= 6),
    );
    const old = session();
    await pool.query(
      `INSERT INTO sessions (id_hash, sub, email, name, groups, claims, idp_refresh_token_enc,
        idp_expires_at, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
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
      ],
    );
    await pool.end();
    const s = await openPostgresStorage(url);
    assert.deepEqual(await s.sessions.get(old.idHash, T0), { ...old, idpIdTokenEnc: null });
    await s.sessions.put(old);
    assert.deepEqual(await s.sessions.get(old.idHash, T0), old);
    await s.close();
  });

  test('the database never holds an id given to a token model', async () => {
    const url = await server.createSchema(database, 'tokens');
    const s = await openPostgresStorage(url);
    const models = ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'ClientCredentials'];
    const tokens = models.map((model) => ({ model, id: `secret-${randomId()}` }));
    for (const { model, id } of tokens) {
      await s.oauth.upsert(model, id, { grantId: 'g1', kind: model }, Date.now() + 60_000);
      await s.oauth.consume(model, id, Date.now());
    }
    const kept = `kept-${randomId()}`;
    await s.oauth.upsert('Session', kept, { uid: 'u1' }, null);
    const [dump] = await server.query<{ all: string }>(
      url,
      'SELECT string_agg(r::text, $1) AS all FROM oauth_records r',
      ['\n'],
    );
    assert.ok(dump!.all.includes(kept), 'the dump sees the kept Session id');
    for (const { model, id } of tokens) assert.ok(!dump!.all.includes(id), model);
    await s.close();
  });
});
