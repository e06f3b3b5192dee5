/** The OAuth server's stores in PostgreSQL (see `postgres.ts`; schema in docs/storage.md). */
import { assertLookup, keepsPlainId, oauthKey, payloadRefs } from './oauth-keys.js';
import type { PgDb } from './postgres-db.js';
import { postgresRows, type PostgresRow } from './rows.js';
import type {
  ConsentStore,
  IdentityStore,
  OAuthClientStore,
  OAuthRecord,
  OAuthStore,
} from './types.js';

/** The columns `COLUMNS` selects. */
type SelectedOAuthRow = Pick<
  PostgresRow<'oauth_records'>,
  'id' | 'payload' | 'expires_at' | 'consumed_at'
>;

const COLUMNS = 'id, payload, expires_at, consumed_at';
/** `$2` is `now`. */
const LIVE = '(expires_at IS NULL OR expires_at > $2)';

/** The live record with this `uid` or `user_code`, by its plain id (the lookups oidc-provider makes). */
async function findOAuthBy(
  db: PgDb,
  column: 'uid' | 'user_code',
  model: string,
  value: string,
  now: number,
): Promise<{ id: string; record: OAuthRecord } | undefined> {
  const [row] = await db.rows<SelectedOAuthRow>(
    `SELECT ${COLUMNS} FROM oauth_records
    WHERE model = $1 AND ${column} = $3 AND id IS NOT NULL AND ${LIVE} LIMIT 1`,
    [model, now, value],
  );
  return row?.id == null ? undefined : { id: row.id, record: postgresRows.toOAuthRecord(row) };
}

// A consumed record stays consumed: re-saving a used code must not make it usable.
const UPSERT = `INSERT INTO oauth_records
    (id_hash, model, id, payload, grant_id, uid, user_code, account_id, expires_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  ON CONFLICT (id_hash) DO UPDATE SET payload = excluded.payload,
    grant_id = excluded.grant_id, uid = excluded.uid, user_code = excluded.user_code,
    account_id = excluded.account_id, expires_at = excluded.expires_at`;

export function pgOAuth(db: PgDb): OAuthStore {
  return {
    async upsert(model, id, payload, expiresAt) {
      const refs = payloadRefs(payload);
      await db.run(UPSERT, [
        oauthKey(model, id),
        model,
        keepsPlainId(model) ? id : null,
        JSON.stringify(payload),
        refs.grantId,
        refs.uid,
        refs.userCode,
        refs.accountId,
        expiresAt,
      ]);
    },
    async find(model, id, now) {
      const [row] = await db.rows<SelectedOAuthRow>(
        `SELECT ${COLUMNS} FROM oauth_records WHERE id_hash = $1 AND ${LIVE}`,
        [oauthKey(model, id), now],
      );
      return row === undefined ? undefined : postgresRows.toOAuthRecord(row);
    },
    async findByUid(model, uid, now) {
      assertLookup('findByUid', model);
      return findOAuthBy(db, 'uid', model, uid, now);
    },
    async findByUserCode(model, userCode, now) {
      assertLookup('findByUserCode', model);
      return findOAuthBy(db, 'user_code', model, userCode, now);
    },
    async listByAccountId(model, accountId, now) {
      const rows = await db.rows<SelectedOAuthRow>(
        `SELECT ${COLUMNS} FROM oauth_records WHERE model = $1 AND account_id = $3 AND ${LIVE}`,
        [model, now, accountId],
      );
      return rows.map(postgresRows.toOAuthRecord);
    },
    async consume(model, id, at) {
      const changed = await db.run(
        'UPDATE oauth_records SET consumed_at = $1 WHERE id_hash = $2 AND consumed_at IS NULL',
        [at, oauthKey(model, id)],
      );
      return changed > 0;
    },
    async destroy(model, id) {
      await db.run('DELETE FROM oauth_records WHERE id_hash = $1', [oauthKey(model, id)]);
    },
    async revokeByGrantId(grantId) {
      await db.run('DELETE FROM oauth_records WHERE grant_id = $1', [grantId]);
    },
    async sweep(now) {
      return db.run('DELETE FROM oauth_records WHERE expires_at <= $1', [now]);
    },
  };
}

export function pgOAuthClients(db: PgDb): OAuthClientStore {
  const one = async (sql: string, param: string) => {
    const [row] = await db.rows<PostgresRow<'oauth_clients'>>(sql, [param]);
    return row === undefined ? undefined : postgresRows.toOAuthClient(row);
  };
  return {
    get: (clientId) => one('SELECT * FROM oauth_clients WHERE client_id = $1', clientId),
    // The oldest wins, so every replica hands an identical re-registration the same client.
    findByFingerprint: (fingerprint) =>
      one(
        `SELECT * FROM oauth_clients WHERE fingerprint = $1
        ORDER BY created_at, client_id LIMIT 1`,
        fingerprint,
      ),
    async put(c) {
      await db.run(
        `INSERT INTO oauth_clients (client_id, metadata, fingerprint, created_at, last_used_at)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata,
          fingerprint = excluded.fingerprint, created_at = excluded.created_at,
          last_used_at = excluded.last_used_at`,
        [c.clientId, JSON.stringify(c.metadata), c.fingerprint, c.createdAt, c.lastUsedAt],
      );
    },
    async delete(clientId) {
      await db.run('DELETE FROM oauth_clients WHERE client_id = $1', [clientId]);
    },
    async markUsed(clientId, at) {
      // Replicas report uses out of order; the latest one stands (GREATEST skips a null).
      await db.run(
        'UPDATE oauth_clients SET last_used_at = GREATEST(last_used_at, $1) WHERE client_id = $2',
        [at, clientId],
      );
    },
    async sweep(neverUsedBefore, unusedBefore) {
      return db.run(
        `DELETE FROM oauth_clients
        WHERE (last_used_at IS NULL AND created_at < $1) OR last_used_at < $2`,
        [neverUsedBefore, unusedBefore],
      );
    },
  };
}

export function pgConsents(db: PgDb): ConsentStore {
  return {
    async get(sub, resource, clientKey) {
      const [row] = await db.rows<PostgresRow<'consents'>>(
        'SELECT * FROM consents WHERE sub = $1 AND resource = $2 AND client_key = $3',
        [sub, resource, clientKey],
      );
      return row === undefined ? undefined : postgresRows.toConsent(row);
    },
    async put(c) {
      await db.run(
        `INSERT INTO consents
          (sub, resource, client_key, client_name, client_id, redirect_uri, scopes, granted_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (sub, resource, client_key) DO UPDATE SET client_name = excluded.client_name,
          client_id = excluded.client_id, redirect_uri = excluded.redirect_uri,
          scopes = excluded.scopes, granted_at = excluded.granted_at`,
        [
          c.sub,
          c.resource,
          c.clientKey,
          c.clientName,
          c.clientId,
          c.redirectUri,
          JSON.stringify(c.scopes),
          c.grantedAt,
        ],
      );
    },
    async listBySub(sub) {
      const rows = await db.rows<PostgresRow<'consents'>>(
        'SELECT * FROM consents WHERE sub = $1 ORDER BY granted_at DESC, resource, client_key',
        [sub],
      );
      return rows.map(postgresRows.toConsent);
    },
    async delete(sub, resource, clientKey) {
      await db.run('DELETE FROM consents WHERE sub = $1 AND resource = $2 AND client_key = $3', [
        sub,
        resource,
        clientKey,
      ]);
    },
  };
}

export function pgIdentities(db: PgDb): IdentityStore {
  return {
    async get(sub) {
      const [row] = await db.rows<PostgresRow<'identities'>>(
        'SELECT * FROM identities WHERE sub = $1',
        [sub],
      );
      return row === undefined ? undefined : postgresRows.toIdentity(row);
    },
    async put(i) {
      await db.run(
        `INSERT INTO identities (sub, email, name, groups, claims, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (sub) DO UPDATE SET email = excluded.email, name = excluded.name,
          groups = excluded.groups, claims = excluded.claims, updated_at = excluded.updated_at`,
        [i.sub, i.email, i.name, JSON.stringify(i.groups), JSON.stringify(i.claims), i.updatedAt],
      );
    },
  };
}
