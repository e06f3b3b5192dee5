/**
 * The upstream stores (tokens, the gateway's clients, leases) in PostgreSQL (see `postgres.ts`;
 * schema in docs/storage.md). Each write that must be atomic across replicas is one statement:
 * under READ COMMITTED, a row another transaction is changing is waited for, and the WHERE is
 * evaluated again on its committed version, so a compare and set or a lease never wins twice.
 */
import type { PgDb } from './postgres-db.js';
import { postgresRows, type PostgresRow } from './rows.js';
import { assertNewerVersion } from './upstream-version.js';
import type {
  LeaseStore,
  UpstreamClientStore,
  UpstreamTokenRecord,
  UpstreamTokenStore,
} from './types.js';

const TOKEN_KEY = 'sub = $1 AND route_key = $2 AND upstream_key = $3';

const PUT_TOKEN = `INSERT INTO upstream_tokens (sub, route_key, upstream_key, access_token_enc,
    refresh_token_enc, scopes, expires_at, created_at, updated_at, version)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  ON CONFLICT (sub, route_key, upstream_key) DO UPDATE SET
    access_token_enc = excluded.access_token_enc, refresh_token_enc = excluded.refresh_token_enc,
    scopes = excluded.scopes, expires_at = excluded.expires_at, created_at = excluded.created_at,
    updated_at = excluded.updated_at, version = excluded.version`;

const REPLACE_TOKEN = `UPDATE upstream_tokens SET access_token_enc = $4, refresh_token_enc = $5,
    scopes = $6, expires_at = $7, created_at = $8, updated_at = $9, version = $10
  WHERE ${TOKEN_KEY} AND version = $11`;

/** The record's columns in `PUT_TOKEN`'s and `REPLACE_TOKEN`'s order ($1 … $10). */
const tokenParams = (t: UpstreamTokenRecord) => [
  t.sub,
  t.routeKey,
  t.upstreamKey,
  t.accessTokenEnc,
  t.refreshTokenEnc,
  JSON.stringify(t.scopes),
  t.expiresAt,
  t.createdAt,
  t.updatedAt,
  t.version,
];

export function pgUpstreamTokens(db: PgDb): UpstreamTokenStore {
  return {
    async get(sub, routeKey, upstreamKey) {
      const [row] = await db.rows<PostgresRow<'upstream_tokens'>>(
        `SELECT * FROM upstream_tokens WHERE ${TOKEN_KEY}`,
        [sub, routeKey, upstreamKey],
      );
      return row === undefined ? undefined : postgresRows.toUpstreamToken(row);
    },
    async put(token) {
      await db.run(PUT_TOKEN, tokenParams(token));
    },
    async replace(token, expectedVersion) {
      assertNewerVersion(token, expectedVersion);
      return (await db.run(REPLACE_TOKEN, [...tokenParams(token), expectedVersion])) === 1;
    },
    async delete(sub, routeKey, upstreamKey, expectedVersion) {
      const key = [sub, routeKey, upstreamKey];
      const deleted =
        expectedVersion === undefined
          ? await db.run(`DELETE FROM upstream_tokens WHERE ${TOKEN_KEY}`, key)
          : await db.run(`DELETE FROM upstream_tokens WHERE ${TOKEN_KEY} AND version = $4`, [
              ...key,
              expectedVersion,
            ]);
      return deleted === 1;
    },
    async listBySub(sub) {
      const rows = await db.rows<PostgresRow<'upstream_tokens'>>(
        'SELECT * FROM upstream_tokens WHERE sub = $1 ORDER BY route_key, upstream_key',
        [sub],
      );
      return rows.map(postgresRows.toUpstreamToken);
    },
  };
}

const INSERT_CLIENT = `INSERT INTO upstream_clients (issuer, redirect_uri, client_id,
    client_secret_enc, token_endpoint_auth_method, created_at)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT (issuer, redirect_uri) DO NOTHING RETURNING *`;
const GET_CLIENT = 'SELECT * FROM upstream_clients WHERE issuer = $1 AND redirect_uri = $2';

export function pgUpstreamClients(db: PgDb): UpstreamClientStore {
  return {
    async get(issuer, redirectUri) {
      const [row] = await db.rows<PostgresRow<'upstream_clients'>>(GET_CLIENT, [
        issuer,
        redirectUri,
      ]);
      return row === undefined ? undefined : postgresRows.toUpstreamClient(row);
    },
    async putIfAbsent(c) {
      const params = [
        c.issuer,
        c.redirectUri,
        c.clientId,
        c.clientSecretEnc,
        c.tokenEndpointAuthMethod,
        c.createdAt,
      ];
      // Two statements: one statement's snapshot predates a row a racing replica has just
      // committed, which its insert then skips and its read cannot see. A delete between the
      // two (the stored client given up on) sends the insert round again.
      for (let attempt = 1; ; attempt++) {
        const [inserted] = await db.rows<PostgresRow<'upstream_clients'>>(INSERT_CLIENT, params);
        const [row] =
          inserted !== undefined
            ? [inserted]
            : await db.rows<PostgresRow<'upstream_clients'>>(GET_CLIENT, [c.issuer, c.redirectUri]);
        if (row !== undefined) return postgresRows.toUpstreamClient(row);
        if (attempt === 3) throw new Error('putIfAbsent: the stored client kept being deleted');
      }
    },
    async delete(issuer, redirectUri) {
      await db.run('DELETE FROM upstream_clients WHERE issuer = $1 AND redirect_uri = $2', [
        issuer,
        redirectUri,
      ]);
    },
  };
}

// A row comes back only when the lease is new, expired at `now`, or already the holder's.
const ACQUIRE = `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
  ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
  WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder
  RETURNING holder`;

export function pgLeases(db: PgDb): LeaseStore {
  return {
    async acquire(name, holder, ttlMs, now) {
      const rows = await db.rows<{ holder: string }>(ACQUIRE, [name, holder, now + ttlMs, now]);
      return rows.length === 1;
    },
    async release(name, holder) {
      await db.run('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
    },
  };
}
