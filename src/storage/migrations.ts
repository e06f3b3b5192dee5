import type { Database } from 'better-sqlite3';
import { StorageError } from './errors.js';

/**
 * One schema change. Versions start at 1 and increase by one; a released migration is never
 * edited, only followed by a new one (docs/storage.md).
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        sub TEXT NOT NULL,
        email TEXT,
        name TEXT,
        groups TEXT NOT NULL,
        claims TEXT NOT NULL,
        idp_refresh_token_enc TEXT,
        idp_expires_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX sessions_expires_at ON sessions (expires_at);

      CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL CHECK (alg = 'ES256'),
        public_jwk TEXT NOT NULL,
        private_jwk_enc TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        retired_at INTEGER
      ) STRICT;

      CREATE TABLE users (
        email TEXT PRIMARY KEY,
        name TEXT,
        groups TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE login_attempts (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        at INTEGER NOT NULL
      ) STRICT;
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
        payload TEXT NOT NULL,
        grant_id TEXT,
        uid TEXT,
        user_code TEXT,
        expires_at INTEGER,
        consumed_at INTEGER
      ) STRICT;
      CREATE INDEX oauth_records_grant_id ON oauth_records (grant_id);
      CREATE INDEX oauth_records_model_uid ON oauth_records (model, uid);
      CREATE INDEX oauth_records_model_user_code ON oauth_records (model, user_code);
      CREATE INDEX oauth_records_expires_at ON oauth_records (expires_at);

      CREATE TABLE oauth_clients (
        client_id TEXT PRIMARY KEY,
        metadata TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      ) STRICT;
      CREATE INDEX oauth_clients_fingerprint ON oauth_clients (fingerprint);

      CREATE TABLE consents (
        sub TEXT NOT NULL,
        resource TEXT NOT NULL,
        client_key TEXT NOT NULL,
        client_name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        granted_at INTEGER NOT NULL,
        PRIMARY KEY (sub, resource, client_key)
      ) STRICT;

      CREATE TABLE identities (
        sub TEXT PRIMARY KEY,
        email TEXT,
        name TEXT,
        groups TEXT NOT NULL,
        claims TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'consent per client',
    // Remembered consent was keyed by client name and redirect URIs, which another client can
    // copy; it is now keyed by client_id and redirect URI. Old rows can never match a new key
    // and must not linger: everyone is asked once more (release note, docs/storage.md).
    sql: `DELETE FROM consents;`,
  },
  {
    version: 4,
    name: 'upstream tokens',
    sql: `
      CREATE TABLE upstream_tokens (
        sub TEXT NOT NULL,
        route_key TEXT NOT NULL,
        upstream_key TEXT NOT NULL,
        access_token_enc TEXT NOT NULL,
        refresh_token_enc TEXT,
        scopes TEXT NOT NULL,
        expires_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (sub, route_key, upstream_key)
      ) STRICT;

      CREATE TABLE upstream_clients (
        issuer TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        client_id TEXT NOT NULL,
        client_secret_enc TEXT,
        token_endpoint_auth_method TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (issuer, redirect_uri)
      ) STRICT;

      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 5,
    name: 'authorized clients',
    // The portal lists a person's grants and consents: OAuth records are found by the user they
    // belong to (`accountId`, filled in for the rows already there), and a consent keeps the
    // client_id and redirect URI its key was made of (unknown for the rows already there).
    sql: `
      ALTER TABLE oauth_records ADD COLUMN account_id TEXT;
      UPDATE oauth_records SET account_id = json_extract(payload, '$.accountId')
        WHERE json_type(payload, '$.accountId') = 'text' AND json_extract(payload, '$.accountId') <> '';
      CREATE INDEX oauth_records_model_account_id ON oauth_records (model, account_id);
      ALTER TABLE consents ADD COLUMN client_id TEXT;
      ALTER TABLE consents ADD COLUMN redirect_uri TEXT;
    `,
  },
  {
    version: 6,
    name: 'rate counters',
    // The /register and /token rate limits of replicas on PostgreSQL; here for the same schema.
    sql: `
      CREATE TABLE rate_counters (
        key TEXT NOT NULL,
        window_start INTEGER NOT NULL,
        count INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (key, window_start)
      ) STRICT;
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

/** The schema version recorded in `db` (0: none yet). */
export function schemaVersion(db: Database): number {
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .get();
  if (table === undefined) return 0;
  const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as {
    v: number | null;
  };
  return row.v ?? 0;
}

/**
 * Brings `db` to the newest schema, one migration per transaction. Refuses a database written
 * by newer code: running old code on it could lose what the newer schema holds.
 */
export function migrate(
  db: Database,
  migrations: readonly Migration[] = MIGRATIONS,
  now: () => number = Date.now,
): number {
  const latest = migrations.at(-1)?.version ?? 0;
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  for (const migration of migrations) {
    // IMMEDIATE takes the write lock before reading the version, so two processes opening the
    // same new file apply each migration once.
    db.transaction(() => {
      const current = checkVersion(db, latest);
      if (migration.version <= current) return;
      if (migration.version !== current + 1) {
        throw new Error(`migration ${migration.version} follows version ${current}: a gap`);
      }
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(
        migration.version,
        now(),
      );
    }).immediate();
  }
  return checkVersion(db, latest);
}

function checkVersion(db: Database, latest: number): number {
  const current = schemaVersion(db);
  if (current > latest) throw schemaTooNew(current, latest);
  return current;
}

/** The refusal of a database written by a newer release (every persistent backend). */
export function schemaTooNew(current: number, latest: number): StorageError {
  return new StorageError(
    'ERR_STORAGE_SCHEMA_TOO_NEW',
    `The database schema is at version ${current} but this Portcullis knows only up to ${latest}: it was written by a newer release. Upgrade Portcullis (or restore a backup taken before the upgrade).`,
  );
}
