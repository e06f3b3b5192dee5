/**
 * The `/register` and `/token` rate limits of replicas that share a PostgreSQL: a fixed window
 * per key counted in storage (`rate_counters`), so a client spreading its requests over N
 * replicas gets the budget of one. A fixed window lets at most twice `max` through around a
 * window's edge; the limit bounds abuse, it is not a quota. One upsert per request: the token
 * endpoint writes to the database anyway.
 */
import type { RateCounterStore, Storage } from '../storage/types.js';
import {
  checkLimit,
  RateLimiter,
  type Limiter,
  type RateDecision,
  type RateLimit,
} from './rate-limit.js';

export type LimiterStorage = Pick<Storage, 'kind' | 'rateCounters'>;

/**
 * An endpoint's limiter: shared on PostgreSQL (replicas); in memory otherwise, since one
 * process needs no shared count, and no write per request.
 */
export function endpointLimiter(
  storage: LimiterStorage,
  name: 'register' | 'token',
  limit: RateLimit,
  now: () => number,
): Limiter {
  return storage.kind === 'postgres'
    ? new SharedRateLimiter(storage.rateCounters, name, limit, now)
    : new RateLimiter(limit, now);
}

export class SharedRateLimiter implements Limiter {
  constructor(
    private readonly counters: RateCounterStore,
    /** Keeps the endpoints' counts apart (`register`, `token`). */
    private readonly name: string,
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {
    checkLimit(limit);
  }

  async take(key: string): Promise<RateDecision> {
    const now = this.now();
    const { max, windowMs } = this.limit;
    const windowStart = now - (now % windowMs);
    const windowEnd = windowStart + windowMs;
    const count = await this.counters.increment(`${this.name}:${key}`, windowStart, windowEnd);
    if (count <= max) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((windowEnd - now) / 1000)) };
  }
}
