import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite, { type Database } from 'better-sqlite3';
import { migrate } from './migrations.js';
import {
  sqliteConsents,
  sqliteIdentities,
  sqliteOAuth,
  sqliteOAuthClients,
} from './sqlite-oauth.js';
import { sqliteLeases, sqliteUpstreamClients, sqliteUpstreamTokens } from './sqlite-upstream.js';
import { sqliteRateCounters } from './rate-counters.js';
import { sqliteRows, type SqliteRow } from './rows.js';
import type {
  LoginAttemptStore,
  SessionStore,
  SigningKeyStore,
  Storage,
  UserStore,
} from './types.js';

export interface SqliteStorageOptions {
  /** How long a statement waits for another connection's write lock. */
  readonly busyTimeoutMs?: number;
}

/**
 * Storage in one SQLite file (the embedded default). The file and its WAL are readable by
 * the owner only; several processes may open the same file (WAL, busy timeout).
 */
export function openSqliteStorage(file: string, options: SqliteStorageOptions = {}): Storage {
  const inMemory = file === ':memory:' || file === '';
  if (!inMemory) prepareFile(file);
  const db = new Sqlite(file);
  try {
    db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL cannot corrupt the file; a power cut may lose the last commits only.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('trusted_schema = OFF');
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return {
    kind: 'sqlite',
    sessions: sqliteSessions(db),
    signingKeys: sqliteSigningKeys(db),
    users: sqliteUsers(db),
    loginAttempts: sqliteLoginAttempts(db),
    rateCounters: sqliteRateCounters(db),
    oauth: sqliteOAuth(db),
    oauthClients: sqliteOAuthClients(db),
    consents: sqliteConsents(db),
    identities: sqliteIdentities(db),
    upstreamTokens: sqliteUpstreamTokens(db),
    upstreamClients: sqliteUpstreamClients(db),
    leases: sqliteLeases(db),
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      if (db.open) db.close();
    },
  };
}

/** Creates the directory (owner-only) and the file with mode 0600 before SQLite opens it. */
function prepareFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  // An existing file keeps its mode on open; tighten it. SQLite gives -wal/-shm the same mode.
  chmodSync(file, 0o600);
}

function sqliteSessions(db: Database): SessionStore {
  const put = db.prepare(`INSERT OR REPLACE INTO sessions
    (id_hash, sub, email, name, groups, claims, idp_refresh_token_enc, idp_id_token_enc,
      idp_expires_at, created_at, expires_at)
    VALUES (@id_hash, @sub, @email, @name, @groups, @claims, @idp_refresh_token_enc,
      @idp_id_token_enc, @idp_expires_at, @created_at, @expires_at)`);
  const get = db.prepare('SELECT * FROM sessions WHERE id_hash = ? AND expires_at > ?');
  const del = db.prepare('DELETE FROM sessions WHERE id_hash = ?');
  const sweep = db.prepare('DELETE FROM sessions WHERE expires_at <= ?');
  return {
    async put(s) {
      put.run({
        id_hash: s.idHash,
        sub: s.sub,
        email: s.email,
        name: s.name,
        groups: JSON.stringify(s.groups),
        claims: JSON.stringify(s.claims),
        idp_refresh_token_enc: s.idpRefreshTokenEnc,
        idp_id_token_enc: s.idpIdTokenEnc,
        idp_expires_at: s.idpExpiresAt,
        created_at: s.createdAt,
        expires_at: s.expiresAt,
      } satisfies SqliteRow<'sessions'>);
    },
    async get(idHash, now) {
      const row = get.get(idHash, now) as SqliteRow<'sessions'> | undefined;
      return row === undefined ? undefined : sqliteRows.toSession(row);
    },
    async delete(idHash) {
      del.run(idHash);
    },
    async sweep(now) {
      return sweep.run(now).changes;
    },
  };
}

function sqliteSigningKeys(db: Database): SigningKeyStore {
  const list = db.prepare('SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC');
  const add = db.prepare(`INSERT INTO signing_keys
    (kid, alg, public_jwk, private_jwk_enc, created_at, retired_at)
    VALUES (@kid, @alg, @public_jwk, @private_jwk_enc, @created_at, @retired_at)
    ON CONFLICT (kid) DO NOTHING`);
  // The first retirement stands: a later one would keep the key published longer.
  const retire = db.prepare(
    'UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL',
  );
  const prune = db.prepare(
    'DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?',
  );
  return {
    async list() {
      return (list.all() as SqliteRow<'signing_keys'>[]).map(sqliteRows.toSigningKey);
    },
    async add(k) {
      add.run({
        kid: k.kid,
        alg: k.alg,
        public_jwk: k.publicJwk,
        private_jwk_enc: k.privateJwkEnc,
        created_at: k.createdAt,
        retired_at: k.retiredAt,
      } satisfies SqliteRow<'signing_keys'>);
    },
    async retire(kid, at) {
      retire.run(at, kid);
    },
    async prune(before) {
      return prune.run(before).changes;
    },
  };
}

function sqliteUsers(db: Database): UserStore {
  const get = db.prepare('SELECT * FROM users WHERE email = ?');
  const put =
    db.prepare(`INSERT OR REPLACE INTO users (email, name, groups, password_hash, created_at)
    VALUES (@email, @name, @groups, @password_hash, @created_at)`);
  const list = db.prepare('SELECT * FROM users ORDER BY email');
  return {
    async get(email) {
      const row = get.get(email.toLowerCase()) as SqliteRow<'users'> | undefined;
      return row === undefined ? undefined : sqliteRows.toUser(row);
    },
    async put(u) {
      put.run({
        email: u.email.toLowerCase(),
        name: u.name,
        groups: JSON.stringify(u.groups),
        password_hash: u.passwordHash,
        created_at: u.createdAt,
      } satisfies SqliteRow<'users'>);
    },
    async list() {
      return (list.all() as SqliteRow<'users'>[]).map(sqliteRows.toUser);
    },
  };
}

function sqliteLoginAttempts(db: Database): LoginAttemptStore {
  const record = db.prepare('INSERT INTO login_attempts (key, at) VALUES (?, ?)');
  const count = db.prepare('SELECT count(*) AS n FROM login_attempts WHERE key = ? AND at >= ?');
  const reset = db.prepare('DELETE FROM login_attempts WHERE key = ?');
  const prune = db.prepare('DELETE FROM login_attempts WHERE at < ?');
  return {
    async recordFailure(key, at) {
      record.run(key, at);
    },
    async countFailures(key, since) {
      return (count.get(key, since) as { n: number }).n;
    },
    async reset(key) {
      reset.run(key);
    },
    async prune(before) {
      return prune.run(before).changes;
    },
  };
}
