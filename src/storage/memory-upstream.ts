/** The upstream stores (tokens, the gateway's clients, leases) in memory (see `memory.ts`). */
import { bytewise, compositeKey, copy } from './memory-rows.js';
import { assertNewerVersion } from './upstream-version.js';
import type {
  LeaseStore,
  UpstreamClientRecord,
  UpstreamClientStore,
  UpstreamTokenRecord,
  UpstreamTokenStore,
} from './types.js';

const keyOf = (t: UpstreamTokenRecord) => compositeKey(t.sub, t.routeKey, t.upstreamKey);

export function memoryUpstreamTokens(): UpstreamTokenStore {
  const rows = new Map<string, UpstreamTokenRecord>();
  return {
    async get(sub, routeKey, upstreamKey) {
      return copy(rows.get(compositeKey(sub, routeKey, upstreamKey)));
    },
    async put(token) {
      rows.set(keyOf(token), copy(token));
    },
    async replace(token, expectedVersion) {
      assertNewerVersion(token, expectedVersion);
      const key = keyOf(token);
      if (rows.get(key)?.version !== expectedVersion) return false;
      rows.set(key, copy(token));
      return true;
    },
    async delete(sub, routeKey, upstreamKey, expectedVersion) {
      const key = compositeKey(sub, routeKey, upstreamKey);
      const row = rows.get(key);
      if (row === undefined) return false;
      if (expectedVersion !== undefined && row.version !== expectedVersion) return false;
      return rows.delete(key);
    },
    async listBySub(sub) {
      return [...rows.values()]
        .filter((t) => t.sub === sub)
        .sort((a, b) => bytewise(a.routeKey, b.routeKey) || bytewise(a.upstreamKey, b.upstreamKey))
        .map(copy);
    },
  };
}

export function memoryUpstreamClients(): UpstreamClientStore {
  const rows = new Map<string, UpstreamClientRecord>();
  return {
    async get(issuer, redirectUri) {
      return copy(rows.get(compositeKey(issuer, redirectUri)));
    },
    async putIfAbsent(client) {
      const key = compositeKey(client.issuer, client.redirectUri);
      const row = rows.get(key) ?? copy(client);
      rows.set(key, row);
      return copy(row);
    },
    async delete(issuer, redirectUri) {
      rows.delete(compositeKey(issuer, redirectUri));
    },
  };
}

export function memoryLeases(): LeaseStore {
  const rows = new Map<string, { readonly holder: string; readonly expiresAt: number }>();
  return {
    async acquire(name, holder, ttlMs, now) {
      const row = rows.get(name);
      if (row !== undefined && row.expiresAt > now && row.holder !== holder) return false;
      rows.set(name, { holder, expiresAt: now + ttlMs });
      return true;
    },
    async release(name, holder) {
      if (rows.get(name)?.holder === holder) rows.delete(name);
    },
  };
}
