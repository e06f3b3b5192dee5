/**
 * Per-client-address rate limits for the unauthenticated OAuth endpoints (`/register`,
 * `/token`). One process (memory, SQLite storage): a token bucket per key in its memory.
 * Replicas on PostgreSQL share their counts instead (`shared-rate-limit.ts`), so N replicas
 * behind a balancer allow what one would.
 */
import { TemporarilyUnavailable } from './errors.js';

export interface RateLimit {
  /** Requests allowed in a burst, refilled evenly over `windowMs`. */
  readonly max: number;
  readonly windowMs: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Takes one request from `key`'s allowance. */
export interface Limiter {
  take(key: string): RateDecision | Promise<RateDecision>;
}

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_KEYS = 50_000;

export class RateLimiter implements Limiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {
    checkLimit(limit);
  }

  /** Takes one request from `key`'s bucket. */
  take(key: string): RateDecision {
    const now = this.now();
    const perMs = this.limit.max / this.limit.windowMs;
    const bucket = this.buckets.get(key) ?? { tokens: this.limit.max, at: now };
    bucket.tokens = Math.min(this.limit.max, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    // Re-insert so the map iterates oldest first for eviction.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > MAX_KEYS) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)),
    };
  }
}

/** The rate-limit step of an endpoint: throws `temporarily_unavailable` (429) past the limit. */
export async function checkRateLimit(limiter: Limiter, key: string): Promise<void> {
  const decision = await limiter.take(key);
  if (!decision.allowed) throw new TemporarilyUnavailable(decision.retryAfterSeconds);
}

export function checkLimit(limit: RateLimit): void {
  if (!(limit.max > 0) || !(limit.windowMs > 0)) {
    throw new RangeError('rate limit: max and windowMs must be positive');
  }
}
