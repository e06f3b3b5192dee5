/** The OAuth server's stores in this process's memory (see `memory.ts`). */
import { bytewise, compositeKey, copy, deleteWhere } from './memory-rows.js';
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
    async listByAccountId(model, accountId, now) {
      return [...rows.values()]
        .filter((row) => row.model === model && row.accountId === accountId && live(row, now))
        .map(toRecord);
    },
    async consume(model, id, at) {
      const key = oauthKey(model, id);
      const row = rows.get(key);
      if (row === undefined || row.consumedAt !== null) return false;
      rows.set(key, { ...row, consumedAt: at });
      return true;
    },
    async destroy(model, id) {
      rows.delete(oauthKey(model, id));
    },
    async revokeByGrantId(grantId) {
      deleteWhere(rows, (row) => row.grantId === grantId);
    },
    async sweep(now) {
      return deleteWhere(rows, (row) => !live(row, now));
    },
  };
}

/** Oldest first, ties by id: the client an identical re-registration gets back. */
const byAge = (a: OAuthClientRecord, b: OAuthClientRecord) =>
  a.createdAt - b.createdAt || bytewise(a.clientId, b.clientId);

export function memoryOAuthClients(): OAuthClientStore {
  const rows = new Map<string, OAuthClientRecord>();
  return {
    async get(clientId) {
      return copy(rows.get(clientId));
    },
    async findByFingerprint(fingerprint) {
      return copy([...rows.values()].filter((c) => c.fingerprint === fingerprint).sort(byAge)[0]);
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
      return deleteWhere(rows, (c) =>
        c.lastUsedAt === null ? c.createdAt < neverUsedBefore : c.lastUsedAt < unusedBefore,
      );
    },
  };
}

/** Newest first, then by resource and client key. */
const byGrantedAt = (a: ConsentRecord, b: ConsentRecord) =>
  b.grantedAt - a.grantedAt ||
  bytewise(a.resource, b.resource) ||
  bytewise(a.clientKey, b.clientKey);

export function memoryConsents(): ConsentStore {
  const rows = new Map<string, ConsentRecord>();
  return {
    async get(sub, resource, clientKey) {
      return copy(rows.get(compositeKey(sub, resource, clientKey)));
    },
    async put(consent) {
      rows.set(compositeKey(consent.sub, consent.resource, consent.clientKey), copy(consent));
    },
    async listBySub(sub) {
      return [...rows.values()]
        .filter((c) => c.sub === sub)
        .sort(byGrantedAt)
        .map(copy);
    },
    async delete(sub, resource, clientKey) {
      rows.delete(compositeKey(sub, resource, clientKey));
    },
  };
}

export function memoryIdentities(): IdentityStore {
  const rows = new Map<string, IdentityRecord>();
  return {
    async get(sub) {
      return copy(rows.get(sub));
    },
    async put(identity) {
      rows.set(identity.sub, copy(identity));
    },
  };
}
