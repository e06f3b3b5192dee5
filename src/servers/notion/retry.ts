import { APIErrorCode, APIResponseError } from '@notionhq/client';

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** Longest single wait; a longer Retry-After ends the retries at once. */
  readonly maxWaitMs: number;
  /** Injected so tests never sleep. */
  readonly sleep: (ms: number) => Promise<void>;
  /** Called before each wait (logging). */
  readonly onRetry?: (info: { attempt: number; waitMs: number; code: string }) => void;
}

/** Backoff when Notion sends no Retry-After (e.g. some 529s). */
const BASE_BACKOFF_MS = 500;

export const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `call`, retrying Notion's "slow down" answers: 429 `rate_limited` and 529
 * `service_overload` ("Request limits": respect Retry-After, integer seconds). Waits are
 * bounded: when Notion asks for longer than `maxWaitMs`, or retries run out, the last error
 * is rethrown so the caller can report `retry_after_seconds`.
 */
export async function withRetry<T>(call: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isSlowDown(err) || attempt >= policy.maxRetries) throw err;
      const slow = err as APIResponseError;
      const asked = retryAfterMs(slow);
      const waitMs = asked ?? BASE_BACKOFF_MS * 2 ** attempt;
      if (waitMs > policy.maxWaitMs) {
        if (asked !== undefined) throw err;
        // Our own backoff is only a guess: clamp it rather than give up.
        policy.onRetry?.({ attempt: attempt + 1, waitMs: policy.maxWaitMs, code: slow.code });
        await policy.sleep(policy.maxWaitMs);
        continue;
      }
      policy.onRetry?.({ attempt: attempt + 1, waitMs, code: slow.code });
      await policy.sleep(waitMs);
    }
  }
}

export function isSlowDown(err: unknown): boolean {
  return (
    APIResponseError.isAPIResponseError(err) &&
    (err.code === APIErrorCode.RateLimited || err.code === APIErrorCode.ServiceOverload)
  );
}

/** Retry-After in ms (RFC 9110 §10.2.3: delay-seconds or HTTP-date), undefined when absent. */
export function retryAfterMs(err: APIResponseError, now = Date.now()): number | undefined {
  const raw = headerOf(err.headers, 'retry-after')?.trim();
  if (!raw) return undefined;
  if (/^\d+$/.test(raw)) return Number(raw) * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  if (typeof (headers as Headers).get === 'function') {
    return (headers as Headers).get(name) ?? undefined;
  }
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name && typeof value === 'string') return value;
  }
  return undefined;
}
