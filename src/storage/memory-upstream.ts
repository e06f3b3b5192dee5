/** The upstream stores (tokens, the gateway's clients, leases) in memory (see `memory.ts`). */
import { assertNewerVersion } from './upstream-version.js';
import type {
  LeaseStore,
  UpstreamClientRecord,
  UpstreamClientStore,
  UpstreamTokenRecord,
  UpstreamTokenStore,
} from './types.js';

const copy = <T>(value: T): T => structuredClone(value);
const bytewise = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const tokenKey = (sub: string, routeKey: string, upstreamKey: string) =>
  JSON.stringify([sub, routeKey, upstreamKey]);
const keyOf = (t: UpstreamTokenRecord) => tokenKey(t.sub, t.routeKey, t.upstreamKey);

export function memoryUpstreamTokens(): UpstreamTokenStore {
  const rows = new Map<string, UpstreamTokenRecord>();
  return {
    async get(sub, routeKey, upstreamKey) {
      const row = rows.get(tokenKey(sub, routeKey, upstreamKey));
      return row === undefined ? undefined : copy(row);
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
      const key = tokenKey(sub, routeKey, upstreamKey);
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
  const clientKey = (issuer: string, redirectUri: string) => JSON.stringify([issuer, redirectUri]);
  return {
    async get(issuer, redirectUri) {
      const row = rows.get(clientKey(issuer, redirectUri));
      return row === undefined ? undefined : copy(row);
    },
    async putIfAbsent(client) {
      const key = clientKey(client.issuer, client.redirectUri);
      const row = rows.get(key) ?? copy(client);
      rows.set(key, row);
      return copy(row);
    },
    async delete(issuer, redirectUri) {
      rows.delete(clientKey(issuer, redirectUri));
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
