/**
 * The rate counters (`RateCounterStore`) of each backend: one row per key and window, its count
 * raised by a single upsert, so concurrent requests on any replica each get their own count.
 */
import type { Database } from 'better-sqlite3';
import type { PgDb } from './postgres-db.js';
import type { RateCounterStore } from './types.js';

const UPSERT = `INSERT INTO rate_counters (key, window_start, count, expires_at)
  VALUES ($1, $2, 1, $3)
  ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1
  RETURNING count`;

export function pgRateCounters(db: PgDb): RateCounterStore {
  return {
    async increment(key, windowStart, expiresAt) {
      const [row] = await db.rows<{ count: number }>(UPSERT, [key, windowStart, expiresAt]);
      return row!.count;
    },
    prune: (before) => db.run('DELETE FROM rate_counters WHERE expires_at < $1', [before]),
  };
}

export function sqliteRateCounters(db: Database): RateCounterStore {
  const upsert = db.prepare(UPSERT.replace(/\$\d/g, '?'));
  const prune = db.prepare('DELETE FROM rate_counters WHERE expires_at < ?');
  return {
    async increment(key, windowStart, expiresAt) {
      return (upsert.get(key, windowStart, expiresAt) as { count: number }).count;
    },
    async prune(before) {
      return prune.run(before).changes;
    },
  };
}

export function memoryRateCounters(): RateCounterStore {
  const windows = new Map<string, { count: number; expiresAt: number }>();
  return {
    async increment(key, windowStart, expiresAt) {
      const id = JSON.stringify([key, windowStart]);
      const window = windows.get(id) ?? { count: 0, expiresAt };
      window.count++;
      windows.set(id, window);
      return window.count;
    },
    async prune(before) {
      let n = 0;
      for (const [id, window] of windows) {
        if (window.expiresAt < before && windows.delete(id)) n++;
      }
      return n;
    },
  };
}
