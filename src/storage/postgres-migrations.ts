/**
 * The PostgreSQL schema: the same tables, versions and rules as the SQLite one
 * (`migrations.ts`, docs/storage.md), in PostgreSQL's types. Times are BIGINT milliseconds, JSON
 * is JSONB, and the columns that lists are ordered by compare bytewise (`COLLATE "C"`), as
 * SQLite's do, so every backend returns the same order whatever the database's locale.
 */
import type { Pool, PoolClient } from 'pg';
import { schemaTooNew, type Migration } from './migrations.js';

export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        sub TEXT NOT NULL,
        email TEXT,
        name TEXT,
        groups JSONB NOT NULL,
        claims JSONB NOT NULL,
        idp_refresh_token_enc TEXT,
        idp_expires_at BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX sessions_expires_at ON sessions (expires_at);

      CREATE TABLE signing_keys (
        kid TEXT COLLATE "C" PRIMARY KEY,
        alg TEXT NOT NULL CHECK (alg = 'ES256'),
        public_jwk TEXT NOT NULL,
        private_jwk_enc TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        retired_at BIGINT
      );

      CREATE TABLE users (
        email TEXT COLLATE "C" PRIMARY KEY,
        name TEXT,
        groups JSONB NOT NULL,
        password_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );

      CREATE TABLE login_attempts (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        key TEXT NOT NULL,
        at BIGINT NOT NULL
      );
      CREATE INDEX login_attempts_key_at ON login_attempts (key, at);
      CREATE INDEX login_attempts_at ON login_attempts (at);
    `,
  },
  {
    version: 2,
    name: 'oauth server',
    sql: `
      CREATE TABLE oauth_records (
        id_hash TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        id TEXT,
        payload JSONB NOT NULL,
        grant_id TEXT,
        uid TEXT,
        user_code TEXT,
        expires_at BIGINT,
        consumed_at BIGINT
      );
      CREATE INDEX oauth_records_grant_id ON oauth_records (grant_id);
      CREATE INDEX oauth_records_model_uid ON oauth_records (model, uid);
      CREATE INDEX oauth_records_model_user_code ON oauth_records (model, user_code);
      CREATE INDEX oauth_records_expires_at ON oauth_records (expires_at);

      CREATE TABLE oauth_clients (
        client_id TEXT COLLATE "C" PRIMARY KEY,
        metadata JSONB NOT NULL,
        fingerprint TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT
      );
      CREATE INDEX oauth_clients_fingerprint ON oauth_clients (fingerprint);

      CREATE TABLE consents (
        sub TEXT NOT NULL,
        resource TEXT COLLATE "C" NOT NULL,
        client_key TEXT COLLATE "C" NOT NULL,
        client_name TEXT NOT NULL,
        scopes JSONB NOT NULL,
        granted_at BIGINT NOT NULL,
        PRIMARY KEY (sub, resource, client_key)
      );

      CREATE TABLE identities (
        sub TEXT PRIMARY KEY,
        email TEXT,
        name TEXT,
        groups JSONB NOT NULL,
        claims JSONB NOT NULL,
        updated_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'consent per client',
    // As in migrations.ts: consents keyed by client name are dropped, not converted.
    sql: `DELETE FROM consents;`,
  },
  {
    version: 4,
    name: 'upstream tokens',
    sql: `
      CREATE TABLE upstream_tokens (
        sub TEXT NOT NULL,
        route_key TEXT COLLATE "C" NOT NULL,
        upstream_key TEXT COLLATE "C" NOT NULL,
        access_token_enc TEXT NOT NULL,
        refresh_token_enc TEXT,
        scopes JSONB NOT NULL,
        expires_at BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        version BIGINT NOT NULL,
        PRIMARY KEY (sub, route_key, upstream_key)
      );

      CREATE TABLE upstream_clients (
        issuer TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        client_id TEXT NOT NULL,
        client_secret_enc TEXT,
        token_endpoint_auth_method TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (issuer, redirect_uri)
      );

      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'authorized clients',
    // As in migrations.ts: records found by their user, consents keep client_id and redirect URI.
    sql: `
      ALTER TABLE oauth_records ADD COLUMN account_id TEXT;
      UPDATE oauth_records SET account_id = payload->>'accountId'
        WHERE jsonb_typeof(payload->'accountId') = 'string' AND payload->>'accountId' <> '';
      CREATE INDEX oauth_records_model_account_id ON oauth_records (model, account_id);
      ALTER TABLE consents ADD COLUMN client_id TEXT, ADD COLUMN redirect_uri TEXT;
    `,
  },
  {
    version: 6,
    name: 'rate counters',
    sql: `
      CREATE TABLE rate_counters (
        key TEXT NOT NULL,
        window_start BIGINT NOT NULL,
        count INTEGER NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (key, window_start)
      );
      CREATE INDEX rate_counters_expires_at ON rate_counters (expires_at);
    `,
  },
  {
    version: 7,
    name: 'session id token',
    // The provider's ID token, sealed like the refresh token, for `id_token_hint` at sign-out.
    // Sessions from before have none: their sign-out sends `client_id` alone, as it did.
    sql: `ALTER TABLE sessions ADD COLUMN idp_id_token_enc TEXT;`,
  },
];

/**
 * Serialises schema changes across every process on the database (replicas starting at once).
 * A transaction-level advisory lock is released by COMMIT or ROLLBACK, and by the server if the
 * connection dies, so a crashed replica never leaves it held. The value is arbitrary but fixed.
 */
export const MIGRATION_LOCK_KEY = '8101820099040208754'; // "portmigr" as a big-endian int8

type Queryable = Pick<PoolClient, 'query'>;

/** The schema version recorded in the database (0: none yet). */
export async function pgSchemaVersion(db: Queryable): Promise<number> {
  const table = await db.query<{ t: string | null }>(
    "SELECT to_regclass('schema_migrations')::text AS t",
  );
  if (table.rows[0]?.t == null) return 0;
  const row = await db.query<{ v: number | null }>(
    'SELECT max(version) AS v FROM schema_migrations',
  );
  return row.rows[0]?.v ?? 0;
}

/**
 * Brings the database to the newest schema, each migration in its own transaction together
 * with its `schema_migrations` row and under the advisory lock, so a failed migration leaves
 * no trace and replicas starting together apply each migration once. Refuses a database
 * written by newer code.
 */
export async function migratePostgres(
  pool: Pool,
  migrations: readonly Migration[] = PG_MIGRATIONS,
  now: () => number = Date.now,
): Promise<number> {
  const latest = migrations.at(-1)?.version ?? 0;
  const db = await pool.connect();
  try {
    for (const migration of migrations) {
      await inTransaction(db, async () => {
        await db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
        const current = await checkVersion(db, latest);
        if (migration.version <= current) return;
        if (migration.version !== current + 1) {
          throw new Error(`migration ${migration.version} follows version ${current}: a gap`);
        }
        if (current === 0) await createMigrationsTable(db);
        await db.query(migration.sql);
        await db.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
          migration.version,
          now(),
        ]);
      });
    }
    const version = await checkVersion(db, latest);
    db.release();
    return version;
  } catch (err) {
    db.release(true); // its state is unknown (a failed ROLLBACK): never reuse it
    throw err;
  }
}

async function createMigrationsTable(db: Queryable): Promise<void> {
  // Under the lock: two concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL's
  // catalog. Only while the version is 0, so a migrated database needs no CREATE privilege.
  await db.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at BIGINT NOT NULL
  )`);
}

async function checkVersion(db: Queryable, latest: number): Promise<number> {
  const current = await pgSchemaVersion(db);
  if (current > latest) throw schemaTooNew(current, latest);
  return current;
}

/** Runs `fn` between BEGIN and COMMIT on `db`, rolling back when it throws. */
export async function inTransaction<T>(db: Queryable, fn: () => Promise<T>): Promise<T> {
  await db.query('BEGIN');
  try {
    const result = await fn();
    await db.query('COMMIT');
    return result;
  } catch (err) {
    // If ROLLBACK fails too the connection is broken; the original error is the one to report.
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
