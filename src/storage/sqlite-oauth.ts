/** The OAuth server's stores in SQLite (see `sqlite.ts`; schema in docs/storage.md). */
import type { Database, Statement } from 'better-sqlite3';
import { assertLookup, keepsPlainId, oauthKey, payloadRefs } from './oauth-keys.js';
import { sqliteRows, type SqliteRow } from './rows.js';
import type {
  ConsentStore,
  IdentityStore,
  OAuthClientStore,
  OAuthRecord,
  OAuthStore,
} from './types.js';

const LIVE = '(expires_at IS NULL OR expires_at > @now)';

/** The statements of `oauth_records`, prepared once per database. */
function prepareOAuth(db: Database) {
  return {
    // A consumed record stays consumed: re-saving a used code must not make it usable.
    upsert: db.prepare(`INSERT INTO oauth_records
      (id_hash, model, id, payload, grant_id, uid, user_code, account_id, expires_at, consumed_at)
      VALUES (@id_hash, @model, @id, @payload, @grant_id, @uid, @user_code, @account_id,
        @expires_at, @consumed_at)
      ON CONFLICT (id_hash) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
        uid = excluded.uid, user_code = excluded.user_code, account_id = excluded.account_id,
        expires_at = excluded.expires_at`),
    find: db.prepare(`SELECT * FROM oauth_records WHERE id_hash = @key AND ${LIVE}`),
    byUid: db.prepare(`SELECT * FROM oauth_records
      WHERE model = @model AND uid = @value AND id IS NOT NULL AND ${LIVE} LIMIT 1`),
    byUserCode: db.prepare(`SELECT * FROM oauth_records
      WHERE model = @model AND user_code = @value AND id IS NOT NULL AND ${LIVE} LIMIT 1`),
    byAccount: db.prepare(`SELECT * FROM oauth_records
      WHERE model = @model AND account_id = @value AND ${LIVE}`),
    consume: db.prepare(
      'UPDATE oauth_records SET consumed_at = ? WHERE id_hash = ? AND consumed_at IS NULL',
    ),
    destroy: db.prepare('DELETE FROM oauth_records WHERE id_hash = ?'),
    revoke: db.prepare('DELETE FROM oauth_records WHERE grant_id = ?'),
    sweep: db.prepare('DELETE FROM oauth_records WHERE expires_at <= ?'),
  };
}

/** The live record a `uid` or `user_code` statement finds, by its plain id. */
function findOAuthBy(
  stmt: Statement,
  model: string,
  value: string,
  now: number,
): { id: string; record: OAuthRecord } | undefined {
  const row = stmt.get({ model, value, now }) as SqliteRow<'oauth_records'> | undefined;
  return row?.id == null ? undefined : { id: row.id, record: sqliteRows.toOAuthRecord(row) };
}

export function sqliteOAuth(db: Database): OAuthStore {
  const { upsert, find, byUid, byUserCode, byAccount, consume, destroy, revoke, sweep } =
    prepareOAuth(db);
  return {
    async upsert(model, id, payload, expiresAt) {
      const refs = payloadRefs(payload);
      upsert.run({
        id_hash: oauthKey(model, id),
        model,
        id: keepsPlainId(model) ? id : null,
        payload: JSON.stringify(payload),
        grant_id: refs.grantId,
        uid: refs.uid,
        user_code: refs.userCode,
        account_id: refs.accountId,
        expires_at: expiresAt,
        consumed_at: null,
      } satisfies SqliteRow<'oauth_records'>);
    },
    async find(model, id, now) {
      const row = find.get({ key: oauthKey(model, id), now }) as
        SqliteRow<'oauth_records'> | undefined;
      return row === undefined ? undefined : sqliteRows.toOAuthRecord(row);
    },
    async findByUid(model, uid, now) {
      assertLookup('findByUid', model);
      return findOAuthBy(byUid, model, uid, now);
    },
    async findByUserCode(model, userCode, now) {
      assertLookup('findByUserCode', model);
      return findOAuthBy(byUserCode, model, userCode, now);
    },
    async listByAccountId(model, accountId, now) {
      const rows = byAccount.all({ model, value: accountId, now }) as SqliteRow<'oauth_records'>[];
      return rows.map(sqliteRows.toOAuthRecord);
    },
    async consume(model, id, at) {
      return consume.run(at, oauthKey(model, id)).changes > 0;
    },
    async destroy(model, id) {
      destroy.run(oauthKey(model, id));
    },
    async revokeByGrantId(grantId) {
      revoke.run(grantId);
    },
    async sweep(now) {
      return sweep.run(now).changes;
    },
  };
}

export function sqliteOAuthClients(db: Database): OAuthClientStore {
  const get = db.prepare('SELECT * FROM oauth_clients WHERE client_id = ?');
  // The oldest wins, so every replica hands an identical re-registration the same client.
  const byFingerprint = db.prepare(
    'SELECT * FROM oauth_clients WHERE fingerprint = ? ORDER BY created_at, client_id LIMIT 1',
  );
  const put = db.prepare(`INSERT OR REPLACE INTO oauth_clients
    (client_id, metadata, fingerprint, created_at, last_used_at)
    VALUES (@client_id, @metadata, @fingerprint, @created_at, @last_used_at)`);
  const del = db.prepare('DELETE FROM oauth_clients WHERE client_id = ?');
  // Replicas report uses out of order; the latest one stands.
  const markUsed = db.prepare(`UPDATE oauth_clients
    SET last_used_at = max(coalesce(last_used_at, @at), @at) WHERE client_id = @clientId`);
  const sweep = db.prepare(`DELETE FROM oauth_clients
    WHERE (last_used_at IS NULL AND created_at < @neverUsedBefore) OR last_used_at < @unusedBefore`);
  return {
    async get(clientId) {
      const row = get.get(clientId) as SqliteRow<'oauth_clients'> | undefined;
      return row === undefined ? undefined : sqliteRows.toOAuthClient(row);
    },
    async findByFingerprint(fingerprint) {
      const row = byFingerprint.get(fingerprint) as SqliteRow<'oauth_clients'> | undefined;
      return row === undefined ? undefined : sqliteRows.toOAuthClient(row);
    },
    async put(c) {
      put.run({
        client_id: c.clientId,
        metadata: JSON.stringify(c.metadata),
        fingerprint: c.fingerprint,
        created_at: c.createdAt,
        last_used_at: c.lastUsedAt,
      } satisfies SqliteRow<'oauth_clients'>);
    },
    async delete(clientId) {
      del.run(clientId);
    },
    async markUsed(clientId, at) {
      markUsed.run({ clientId, at });
    },
    async sweep(neverUsedBefore, unusedBefore) {
      return sweep.run({ neverUsedBefore, unusedBefore }).changes;
    },
  };
}

export function sqliteConsents(db: Database): ConsentStore {
  const get = db.prepare(
    'SELECT * FROM consents WHERE sub = ? AND resource = ? AND client_key = ?',
  );
  const put = db.prepare(`INSERT OR REPLACE INTO consents
    (sub, resource, client_key, client_name, client_id, redirect_uri, scopes, granted_at)
    VALUES (@sub, @resource, @client_key, @client_name, @client_id, @redirect_uri, @scopes,
      @granted_at)`);
  const list = db.prepare(
    'SELECT * FROM consents WHERE sub = ? ORDER BY granted_at DESC, resource, client_key',
  );
  const del = db.prepare('DELETE FROM consents WHERE sub = ? AND resource = ? AND client_key = ?');
  return {
    async get(sub, resource, clientKey) {
      const row = get.get(sub, resource, clientKey) as SqliteRow<'consents'> | undefined;
      return row === undefined ? undefined : sqliteRows.toConsent(row);
    },
    async put(c) {
      put.run({
        sub: c.sub,
        resource: c.resource,
        client_key: c.clientKey,
        client_name: c.clientName,
        client_id: c.clientId,
        redirect_uri: c.redirectUri,
        scopes: JSON.stringify(c.scopes),
        granted_at: c.grantedAt,
      } satisfies SqliteRow<'consents'>);
    },
    async listBySub(sub) {
      return (list.all(sub) as SqliteRow<'consents'>[]).map(sqliteRows.toConsent);
    },
    async delete(sub, resource, clientKey) {
      del.run(sub, resource, clientKey);
    },
  };
}

export function sqliteIdentities(db: Database): IdentityStore {
  const get = db.prepare('SELECT * FROM identities WHERE sub = ?');
  const put = db.prepare(`INSERT OR REPLACE INTO identities
    (sub, email, name, groups, claims, updated_at)
    VALUES (@sub, @email, @name, @groups, @claims, @updated_at)`);
  return {
    async get(sub) {
      const row = get.get(sub) as SqliteRow<'identities'> | undefined;
      return row === undefined ? undefined : sqliteRows.toIdentity(row);
    },
    async put(i) {
      put.run({
        sub: i.sub,
        email: i.email,
        name: i.name,
        groups: JSON.stringify(i.groups),
        claims: JSON.stringify(i.claims),
        updated_at: i.updatedAt,
      } satisfies SqliteRow<'identities'>);
    },
  };
}
