import pg from 'pg';
import { StorageError } from './errors.js';
import { pgRateCounters } from './rate-counters.js';
import { migratePostgres } from './postgres-migrations.js';
import { openPostgresBus } from './postgres-notify.js';
import type { PgDb } from './postgres-db.js';
import { pgConsents, pgIdentities, pgOAuth, pgOAuthClients } from './postgres-oauth.js';
import { pgLeases, pgUpstreamClients, pgUpstreamTokens } from './postgres-upstream.js';
import { parsePostgresOptions, tlsOptions } from './postgres-options.js';
import { guarded } from './postgres-unavailable.js';
import { postgresRows, type PostgresRow } from './rows.js';
import type {
  LoginAttemptStore,
  SessionStore,
  SigningKeyStore,
  Storage,
  UserStore,
} from './types.js';

export interface PostgresStorageOptions {
  /** Most connections this process opens (default: `pool_max_conns`, else 10). */
  readonly max?: number;
  /** How long a query waits for a connection, at start too (default: `connect_timeout`, else 5 s; 0: forever). */
  readonly connectionTimeoutMs?: number;
  /** How long an unused connection stays open (default 30 s). */
  readonly idleTimeoutMs?: number;
  /** The config key the connection string came from, for errors about its options. */
  readonly source?: string;
  /**
   * Told when an idle connection breaks (server restart, network cut); the pool drops it and
   * opens another for the next query. Default: a process warning.
   */
  readonly onError?: (err: Error) => void;
}

/**
 * Storage in PostgreSQL, for several gateway replicas on one database. Every replica reads and
 * writes the same rows, so a session made on one is seen by all; the schema is migrated at
 * open under an advisory lock (`postgres-migrations.ts`). Pool size, deadlines and TLS come
 * from the connection string (`postgres-options.ts`).
 */
export async function openPostgresStorage(
  connectionString: string,
  options: PostgresStorageOptions = {},
): Promise<Storage> {
  const configs = connectionConfigs(connectionString, options);
  await withPool(configs.migrations, options, (migrations) =>
    guarded(() => migratePostgres(migrations)),
  );
  const pool = new pg.Pool(configs.pool);
  // Without a listener, an idle connection's error would crash the process.
  pool.on('error', options.onError ?? warn);
  let closed = false;
  const open = () => {
    if (closed) throw new StorageError('ERR_STORAGE_CLOSED', 'The storage has been closed.');
    return pool;
  };
  const db: PgDb = {
    // Every query goes through `guarded`: a database that is down answers 503, not 500.
    async rows<R>(sql: string, params: readonly unknown[] = []) {
      return (await guarded(() => open().query(sql, [...params]))).rows as R[];
    },
    async run(sql, params = []) {
      return (await guarded(() => open().query(sql, [...params]))).rowCount ?? 0;
    },
  };
  const invalidation = await openPostgresBus(configs.listener, db, {
    onError: options.onError ?? warn,
  });
  return {
    kind: 'postgres',
    ...pgStores(db),
    invalidation,
    async ping() {
      // Readiness probes call this often: a database that does not answer soon is down.
      await guarded(() => open().query(PING));
    },
    async close() {
      if (closed) return;
      closed = true;
      await invalidation.close();
      await pool.end();
    },
  };
}

/** Each connection's settings, from the connection string and `options` (which win). */
function connectionConfigs(connectionString: string, options: PostgresStorageOptions) {
  const settings = parsePostgresOptions(connectionString, options.source);
  const common: pg.ClientConfig = {
    connectionString: settings.connectionString,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? settings.connectTimeoutMs,
    application_name: 'portcullis',
    types: { getTypeParser },
    ...(settings.tls ? { ssl: tlsOptions(settings.tls, options.source) } : {}),
  };
  const { statementTimeoutMs, queryTimeoutMs } = settings;
  return {
    // Migrations may wait for another replica's lock or rewrite a large table: no deadline.
    migrations: { ...common, max: 1 } satisfies pg.PoolConfig,
    pool: {
      ...common,
      max: options.max ?? settings.maxConnections,
      idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
      ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
      ...(queryTimeoutMs > 0 ? { query_timeout: queryTimeoutMs } : {}),
    } satisfies pg.PoolConfig,
    // The invalidation listener: it waits for notifications, so no statement deadline either.
    listener: common,
  };
}

/** How long `ping` waits for `SELECT 1` (a connection is waited for as long as any query). */
const PING_TIMEOUT_MS = 2_000;
// node-postgres reads `query_timeout` per query; its types omit it.
const PING = { text: 'SELECT 1', query_timeout: PING_TIMEOUT_MS } as pg.QueryConfig;

/** Runs `fn` with a pool of its own, ended afterwards. */
async function withPool<T>(
  config: pg.PoolConfig,
  options: PostgresStorageOptions,
  fn: (pool: pg.Pool) => Promise<T>,
): Promise<T> {
  const pool = new pg.Pool(config);
  pool.on('error', options.onError ?? warn);
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

/** Every store of `Storage` on the pool. */
function pgStores(db: PgDb) {
  return {
    sessions: pgSessions(db),
    signingKeys: pgSigningKeys(db),
    users: pgUsers(db),
    loginAttempts: pgLoginAttempts(db),
    rateCounters: pgRateCounters(db),
    oauth: pgOAuth(db),
    oauthClients: pgOAuthClients(db),
    consents: pgConsents(db),
    identities: pgIdentities(db),
    upstreamTokens: pgUpstreamTokens(db),
    upstreamClients: pgUpstreamClients(db),
    leases: pgLeases(db),
  };
}

/**
 * BIGINT (int8) arrives as text by default, since it may exceed 2^53; times and counts here
 * never do, and a value that did is refused rather than rounded.
 */
const getTypeParser = ((oid: number, format?: 'text' | 'binary') =>
  oid === pg.types.builtins.INT8
    ? toSafeInteger
    : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser;

function toSafeInteger(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 ${text} is not a safe integer`);
  return n;
}

function warn(err: Error): void {
  process.emitWarning(`PostgreSQL storage: an idle connection failed: ${err.message}`);
}

function pgSessions(db: PgDb): SessionStore {
  return {
    async put(s) {
      await db.run(
        `INSERT INTO sessions (id_hash, sub, email, name, groups, claims, idp_refresh_token_enc,
          idp_id_token_enc, idp_expires_at, created_at, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (id_hash) DO UPDATE SET sub = excluded.sub, email = excluded.email,
          name = excluded.name, groups = excluded.groups, claims = excluded.claims,
          idp_refresh_token_enc = excluded.idp_refresh_token_enc,
          idp_id_token_enc = excluded.idp_id_token_enc,
          idp_expires_at = excluded.idp_expires_at, created_at = excluded.created_at,
          expires_at = excluded.expires_at`,
        [
          s.idHash,
          s.sub,
          s.email,
          s.name,
          JSON.stringify(s.groups),
          JSON.stringify(s.claims),
          s.idpRefreshTokenEnc,
          s.idpIdTokenEnc,
          s.idpExpiresAt,
          s.createdAt,
          s.expiresAt,
        ],
      );
    },
    async get(idHash, now) {
      const [row] = await db.rows<PostgresRow<'sessions'>>(
        'SELECT * FROM sessions WHERE id_hash = $1 AND expires_at > $2',
        [idHash, now],
      );
      return row === undefined ? undefined : postgresRows.toSession(row);
    },
    async delete(idHash) {
      await db.run('DELETE FROM sessions WHERE id_hash = $1', [idHash]);
    },
    async sweep(now) {
      return db.run('DELETE FROM sessions WHERE expires_at <= $1', [now]);
    },
  };
}

function pgSigningKeys(db: PgDb): SigningKeyStore {
  return {
    async list() {
      const rows = await db.rows<PostgresRow<'signing_keys'>>(
        'SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC',
      );
      return rows.map(postgresRows.toSigningKey);
    },
    async add(k) {
      await db.run(
        `INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_enc, created_at, retired_at)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kid) DO NOTHING`,
        [k.kid, k.alg, k.publicJwk, k.privateJwkEnc, k.createdAt, k.retiredAt],
      );
    },
    async retire(kid, at) {
      // The first retirement stands: a later one would keep the key published longer.
      await db.run(
        'UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL',
        [at, kid],
      );
    },
    async prune(before) {
      return db.run('DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1', [
        before,
      ]);
    },
  };
}

function pgUsers(db: PgDb): UserStore {
  return {
    async get(email) {
      const [row] = await db.rows<PostgresRow<'users'>>('SELECT * FROM users WHERE email = $1', [
        email.toLowerCase(),
      ]);
      return row === undefined ? undefined : postgresRows.toUser(row);
    },
    async put(u) {
      await db.run(
        `INSERT INTO users (email, name, groups, password_hash, created_at)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (email) DO UPDATE SET name = excluded.name, groups = excluded.groups,
          password_hash = excluded.password_hash, created_at = excluded.created_at`,
        [u.email.toLowerCase(), u.name, JSON.stringify(u.groups), u.passwordHash, u.createdAt],
      );
    },
    async list() {
      return (await db.rows<PostgresRow<'users'>>('SELECT * FROM users ORDER BY email')).map(
        postgresRows.toUser,
      );
    },
  };
}

function pgLoginAttempts(db: PgDb): LoginAttemptStore {
  return {
    async recordFailure(key, at) {
      await db.run('INSERT INTO login_attempts (key, at) VALUES ($1, $2)', [key, at]);
    },
    async countFailures(key, since) {
      const [row] = await db.rows<{ n: number }>(
        'SELECT count(*) AS n FROM login_attempts WHERE key = $1 AND at >= $2',
        [key, since],
      );
      return row?.n ?? 0;
    },
    async reset(key) {
      await db.run('DELETE FROM login_attempts WHERE key = $1', [key]);
    },
    async prune(before) {
      return db.run('DELETE FROM login_attempts WHERE at < $1', [before]);
    },
  };
}
