import { StorageError } from './errors.js';
import {
  memoryConsents,
  memoryIdentities,
  memoryOAuth,
  memoryOAuthClients,
} from './memory-oauth.js';
import { bytewise, copy, deleteWhere } from './memory-rows.js';
import { memoryLeases, memoryUpstreamClients, memoryUpstreamTokens } from './memory-upstream.js';
import { memoryRateCounters } from './rate-counters.js';
import type {
  LoginAttemptStore,
  SessionRecord,
  SessionStore,
  SigningKeyRecord,
  SigningKeyStore,
  Storage,
  UserRecord,
  UserStore,
} from './types.js';

/**
 * Storage in this process's memory: for tests and single-process trials. Everything is lost
 * on exit and replicas cannot share it. Records are copied in and out, so a caller mutating
 * an object never changes what is stored.
 */
export function createMemoryStorage(): Storage {
  let closed = false;
  const closedError = () => new StorageError('ERR_STORAGE_CLOSED', 'The storage has been closed.');
  // Every method rejects once closed, as a real backend's would.
  const guard = <T extends object>(store: T): T =>
    Object.fromEntries(
      Object.entries(store).map(
        ([name, fn]: [string, (...args: unknown[]) => Promise<unknown>]) => [
          name,
          (...args: unknown[]) => (closed ? Promise.reject(closedError()) : fn(...args)),
        ],
      ),
    ) as T;
  return {
    kind: 'memory',
    sessions: guard(memorySessions()),
    signingKeys: guard(memorySigningKeys()),
    users: guard(memoryUsers()),
    loginAttempts: guard(memoryLoginAttempts()),
    rateCounters: guard(memoryRateCounters()),
    oauth: guard(memoryOAuth()),
    oauthClients: guard(memoryOAuthClients()),
    consents: guard(memoryConsents()),
    identities: guard(memoryIdentities()),
    upstreamTokens: guard(memoryUpstreamTokens()),
    upstreamClients: guard(memoryUpstreamClients()),
    leases: guard(memoryLeases()),
    async ping() {
      if (closed) throw closedError();
    },
    async close() {
      closed = true;
    },
  };
}

function memorySessions(): SessionStore {
  const rows = new Map<string, SessionRecord>();
  return {
    async put(session) {
      rows.set(session.idHash, copy(session));
    },
    async get(idHash, now) {
      const row = rows.get(idHash);
      return row !== undefined && row.expiresAt > now ? copy(row) : undefined;
    },
    async delete(idHash) {
      rows.delete(idHash);
    },
    async sweep(now) {
      return deleteWhere(rows, (row) => row.expiresAt <= now);
    },
  };
}

/** Newest first; equal times fall back to `kid` so every replica picks the same "newest". */
function compareKeys(a: SigningKeyRecord, b: SigningKeyRecord): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return bytewise(b.kid, a.kid);
}

function memorySigningKeys(): SigningKeyStore {
  const rows = new Map<string, SigningKeyRecord>();
  return {
    async list() {
      return [...rows.values()].map(copy).sort(compareKeys);
    },
    async add(key) {
      if (!rows.has(key.kid)) rows.set(key.kid, copy(key));
    },
    async retire(kid, at) {
      const row = rows.get(kid);
      // The first retirement stands: a later one would keep the key published longer.
      if (row !== undefined && row.retiredAt === null) rows.set(kid, { ...row, retiredAt: at });
    },
    async prune(before) {
      return deleteWhere(rows, (row) => row.retiredAt !== null && row.retiredAt < before);
    },
  };
}

function memoryUsers(): UserStore {
  const rows = new Map<string, UserRecord>();
  return {
    async get(email) {
      return copy(rows.get(email.toLowerCase()));
    },
    async put(user) {
      const email = user.email.toLowerCase();
      rows.set(email, copy({ ...user, email }));
    },
    async list() {
      return [...rows.entries()].sort(([a], [b]) => bytewise(a, b)).map(([, row]) => copy(row));
    },
  };
}

function memoryLoginAttempts(): LoginAttemptStore {
  const rows = new Map<string, number[]>();
  return {
    async recordFailure(key, at) {
      const list = rows.get(key);
      if (list === undefined) rows.set(key, [at]);
      else list.push(at);
    },
    async countFailures(key, since) {
      return (rows.get(key) ?? []).filter((at) => at >= since).length;
    },
    async reset(key) {
      rows.delete(key);
    },
    async prune(before) {
      let n = 0;
      for (const [key, list] of rows) {
        const kept = list.filter((at) => at >= before);
        n += list.length - kept.length;
        if (kept.length === 0) rows.delete(key);
        else rows.set(key, kept);
      }
      return n;
    },
  };
}
