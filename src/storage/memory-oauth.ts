/** The OAuth server's stores in this process's memory (see `memory.ts`). */
import { assertLookup, keepsPlainId, oauthKey, payloadRefs } from './oauth-keys.js';
import type {
  ConsentRecord,
  ConsentStore,
  IdentityRecord,
  IdentityStore,
  OAuthClientRecord,
  OAuthClientStore,
  OAuthRecord,
  OAuthStore,
} from './types.js';

const copy = <T>(value: T): T => structuredClone(value);

interface OAuthRow extends OAuthRecord, ReturnType<typeof payloadRefs> {
  readonly model: string;
  /** The plain id, for the models that keep it only (`keepsPlainId`). */
  readonly id: string | null;
}

const live = (row: OAuthRow, now: number) => row.expiresAt === null || row.expiresAt > now;
const toRecord = (row: OAuthRow): OAuthRecord => ({
  payload: copy(row.payload),
  expiresAt: row.expiresAt,
  consumedAt: row.consumedAt,
});

export function memoryOAuth(): OAuthStore {
  const rows = new Map<string, OAuthRow>();
  const findBy = (model: string, field: 'uid' | 'userCode', value: string, now: number) => {
    for (const row of rows.values()) {
      if (row.model === model && row[field] === value && row.id !== null && live(row, now)) {
        return { id: row.id, record: toRecord(row) };
      }
    }
    return undefined;
  };
  return {
    async upsert(model, id, payload, expiresAt) {
      const key = oauthKey(model, id);
      rows.set(key, {
        model,
        id: keepsPlainId(model) ? id : null,
        payload: copy(payload),
        ...payloadRefs(payload),
        expiresAt,
        // A consumed record stays consumed: re-saving a used code must not make it usable.
        consumedAt: rows.get(key)?.consumedAt ?? null,
      });
    },
    async find(model, id, now) {
      const row = rows.get(oauthKey(model, id));
      return row !== undefined && live(row, now) ? toRecord(row) : undefined;
    },
    async findByUid(model, uid, now) {
      assertLookup('findByUid', model);
      return findBy(model, 'uid', uid, now);
    },
    async findByUserCode(model, userCode, now) {
      assertLookup('findByUserCode', model);
      return findBy(model, 'userCode', userCode, now);
    },
    async consume(model, id, at) {
      const key = oauthKey(model, id);
      const row = rows.get(key);
      if (row !== undefined && row.consumedAt === null) rows.set(key, { ...row, consumedAt: at });
    },
    async destroy(model, id) {
      rows.delete(oauthKey(model, id));
    },
    async revokeByGrantId(grantId) {
      for (const [key, row] of rows) if (row.grantId === grantId) rows.delete(key);
    },
    async sweep(now) {
      let n = 0;
      for (const [key, row] of rows) if (!live(row, now) && rows.delete(key)) n++;
      return n;
    },
  };
}

/** Oldest first, ties by id: the client an identical re-registration gets back. */
const byAge = (a: OAuthClientRecord, b: OAuthClientRecord) =>
  a.createdAt - b.createdAt || (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0);

export function memoryOAuthClients(): OAuthClientStore {
  const rows = new Map<string, OAuthClientRecord>();
  return {
    async get(clientId) {
      const row = rows.get(clientId);
      return row === undefined ? undefined : copy(row);
    },
    async findByFingerprint(fingerprint) {
      const row = [...rows.values()].filter((c) => c.fingerprint === fingerprint).sort(byAge)[0];
      return row === undefined ? undefined : copy(row);
    },
    async put(client) {
      rows.set(client.clientId, copy(client));
    },
    async delete(clientId) {
      rows.delete(clientId);
    },
    async markUsed(clientId, at) {
      const row = rows.get(clientId);
      // Replicas report uses out of order; the latest one stands.
      if (row !== undefined && (row.lastUsedAt === null || row.lastUsedAt < at)) {
        rows.set(clientId, { ...row, lastUsedAt: at });
      }
    },
    async sweep(neverUsedBefore, unusedBefore) {
      let n = 0;
      for (const [clientId, c] of rows) {
        const stale =
          c.lastUsedAt === null ? c.createdAt < neverUsedBefore : c.lastUsedAt < unusedBefore;
        if (stale && rows.delete(clientId)) n++;
      }
      return n;
    },
  };
}

const consentKey = (sub: string, resource: string, clientKey: string) =>
  JSON.stringify([sub, resource, clientKey]);

/** Newest first, then by resource and client key. */
const byGrantedAt = (a: ConsentRecord, b: ConsentRecord) =>
  b.grantedAt - a.grantedAt ||
  (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0) ||
  (a.clientKey < b.clientKey ? -1 : a.clientKey > b.clientKey ? 1 : 0);

export function memoryConsents(): ConsentStore {
  const rows = new Map<string, ConsentRecord>();
  return {
    async get(sub, resource, clientKey) {
      const row = rows.get(consentKey(sub, resource, clientKey));
      return row === undefined ? undefined : copy(row);
    },
    async put(consent) {
      rows.set(consentKey(consent.sub, consent.resource, consent.clientKey), copy(consent));
    },
    async listBySub(sub) {
      return [...rows.values()]
        .filter((c) => c.sub === sub)
        .sort(byGrantedAt)
        .map(copy);
    },
    async delete(sub, resource, clientKey) {
      rows.delete(consentKey(sub, resource, clientKey));
    },
  };
}

export function memoryIdentities(): IdentityStore {
  const rows = new Map<string, IdentityRecord>();
  return {
    async get(sub) {
      const row = rows.get(sub);
      return row === undefined ? undefined : copy(row);
    },
    async put(identity) {
      rows.set(identity.sub, copy(identity));
    },
  };
}
