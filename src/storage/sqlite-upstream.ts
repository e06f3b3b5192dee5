/**
 * The upstream stores (tokens, the gateway's clients, leases) in SQLite (see `sqlite.ts`;
 * schema in docs/storage.md). Each write that must be atomic is one statement: SQLite's write
 * lock serialises it against every other connection to the file.
 */
import type { Database } from 'better-sqlite3';
import { sqliteRows, type SqliteRow } from './rows.js';
import { assertNewerVersion } from './upstream-version.js';
import type {
  LeaseStore,
  UpstreamClientRecord,
  UpstreamClientStore,
  UpstreamTokenRecord,
  UpstreamTokenStore,
} from './types.js';

const TOKEN_KEY = 'sub = @sub AND route_key = @route_key AND upstream_key = @upstream_key';

function prepareTokens(db: Database) {
  return {
    get: db.prepare(`SELECT * FROM upstream_tokens WHERE ${TOKEN_KEY}`),
    put: db.prepare(`INSERT OR REPLACE INTO upstream_tokens
      (sub, route_key, upstream_key, access_token_enc, refresh_token_enc, scopes, expires_at,
        created_at, updated_at, version)
      VALUES (@sub, @route_key, @upstream_key, @access_token_enc, @refresh_token_enc, @scopes,
        @expires_at, @created_at, @updated_at, @version)`),
    // Compare and set: the WHERE reads the version under the write lock that the SET holds.
    replace: db.prepare(`UPDATE upstream_tokens SET access_token_enc = @access_token_enc,
        refresh_token_enc = @refresh_token_enc, scopes = @scopes, expires_at = @expires_at,
        created_at = @created_at, updated_at = @updated_at, version = @version
      WHERE ${TOKEN_KEY} AND version = @expected`),
    delete: db.prepare(`DELETE FROM upstream_tokens WHERE ${TOKEN_KEY}`),
    deleteVersion: db.prepare(
      `DELETE FROM upstream_tokens WHERE ${TOKEN_KEY} AND version = @expected`,
    ),
    list: db.prepare(
      'SELECT * FROM upstream_tokens WHERE sub = ? ORDER BY route_key, upstream_key',
    ),
  };
}

export function sqliteUpstreamTokens(db: Database): UpstreamTokenStore {
  const stmt = prepareTokens(db);
  const key = (sub: string, route_key: string, upstream_key: string) => ({
    sub,
    route_key,
    upstream_key,
  });
  return {
    async get(sub, routeKey, upstreamKey) {
      const row = stmt.get.get(key(sub, routeKey, upstreamKey)) as
        SqliteRow<'upstream_tokens'> | undefined;
      return row === undefined ? undefined : sqliteRows.toUpstreamToken(row);
    },
    async put(token) {
      stmt.put.run(toTokenRow(token));
    },
    async replace(token, expectedVersion) {
      assertNewerVersion(token, expectedVersion);
      return stmt.replace.run({ ...toTokenRow(token), expected: expectedVersion }).changes === 1;
    },
    async delete(sub, routeKey, upstreamKey, expectedVersion) {
      const params = key(sub, routeKey, upstreamKey);
      const { changes } =
        expectedVersion === undefined
          ? stmt.delete.run(params)
          : stmt.deleteVersion.run({ ...params, expected: expectedVersion });
      return changes === 1;
    },
    async listBySub(sub) {
      return (stmt.list.all(sub) as SqliteRow<'upstream_tokens'>[]).map(sqliteRows.toUpstreamToken);
    },
  };
}

function toTokenRow(t: UpstreamTokenRecord): SqliteRow<'upstream_tokens'> {
  return {
    sub: t.sub,
    route_key: t.routeKey,
    upstream_key: t.upstreamKey,
    access_token_enc: t.accessTokenEnc,
    refresh_token_enc: t.refreshTokenEnc,
    scopes: JSON.stringify(t.scopes),
    expires_at: t.expiresAt,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
    version: t.version,
  };
}

export function sqliteUpstreamClients(db: Database): UpstreamClientStore {
  const get = db.prepare('SELECT * FROM upstream_clients WHERE issuer = ? AND redirect_uri = ?');
  const insert = db.prepare(`INSERT INTO upstream_clients
    (issuer, redirect_uri, client_id, client_secret_enc, token_endpoint_auth_method, created_at)
    VALUES (@issuer, @redirect_uri, @client_id, @client_secret_enc, @token_endpoint_auth_method,
      @created_at)
    ON CONFLICT (issuer, redirect_uri) DO NOTHING`);
  const del = db.prepare('DELETE FROM upstream_clients WHERE issuer = ? AND redirect_uri = ?');
  // One transaction: no other connection can delete the row between the insert and the read.
  const putIfAbsent = db.transaction((c: UpstreamClientRecord) => {
    insert.run({
      issuer: c.issuer,
      redirect_uri: c.redirectUri,
      client_id: c.clientId,
      client_secret_enc: c.clientSecretEnc,
      token_endpoint_auth_method: c.tokenEndpointAuthMethod,
      created_at: c.createdAt,
    } satisfies SqliteRow<'upstream_clients'>);
    return get.get(c.issuer, c.redirectUri) as SqliteRow<'upstream_clients'>;
  });
  return {
    async get(issuer, redirectUri) {
      const row = get.get(issuer, redirectUri) as SqliteRow<'upstream_clients'> | undefined;
      return row === undefined ? undefined : sqliteRows.toUpstreamClient(row);
    },
    async putIfAbsent(client) {
      return sqliteRows.toUpstreamClient(putIfAbsent.immediate(client));
    },
    async delete(issuer, redirectUri) {
      del.run(issuer, redirectUri);
    },
  };
}

export function sqliteLeases(db: Database): LeaseStore {
  // A row changes only when the lease is new, expired at `now`, or already the holder's.
  const acquire = db.prepare(`INSERT INTO leases (name, holder, expires_at)
    VALUES (@name, @holder, @expires_at)
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE leases.expires_at <= @now OR leases.holder = excluded.holder`);
  const release = db.prepare('DELETE FROM leases WHERE name = ? AND holder = ?');
  return {
    async acquire(name, holder, ttlMs, now) {
      return acquire.run({ name, holder, expires_at: now + ttlMs, now }).changes === 1;
    },
    async release(name, holder) {
      release.run(name, holder);
    },
  };
}
