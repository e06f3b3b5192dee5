import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APIErrorCode, APIResponseError } from '@notionhq/client';
import { retryAfterMs, withRetry, type RetryPolicy } from './retry.js';

function apiError(status: number, code: APIErrorCode, retryAfter?: string): APIResponseError {
  return new APIResponseError({
    code,
    status,
    message: code,
    headers: new Headers(retryAfter === undefined ? {} : { 'retry-after': retryAfter }),
    rawBodyText: '',
    additional_data: undefined,
    request_id: undefined,
  });
}

function policy(overrides: Partial<RetryPolicy> = {}) {
  const waits: number[] = [];
  const p: RetryPolicy = {
    maxRetries: 2,
    maxWaitMs: 5000,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...overrides,
  };
  return { policy: p, waits };
}

/** A call that fails with the given errors, then succeeds. */
function failing(...errors: unknown[]) {
  let calls = 0;
  const fn = async () => {
    const err = errors[calls++];
    if (err) throw err;
    return 'ok';
  };
  return { fn, calls: () => calls };
}

test('waits what Retry-After asks, then succeeds', async () => {
  const { policy: p, waits } = policy();
  const call = failing(
    apiError(429, APIErrorCode.RateLimited, '2'),
    apiError(529, APIErrorCode.ServiceOverload, '0'),
  );
  assert.equal(await withRetry(call.fn, p), 'ok');
  assert.deepEqual(waits, [2000, 0]);
  assert.equal(call.calls(), 3);
});

test('gives up after maxRetries and rethrows the last error', async () => {
  const { policy: p, waits } = policy({ maxRetries: 1 });
  const last = apiError(429, APIErrorCode.RateLimited, '1');
  const call = failing(apiError(429, APIErrorCode.RateLimited, '1'), last);
  await assert.rejects(withRetry(call.fn, p), (err) => err === last);
  assert.deepEqual(waits, [1000]);
});

test('a Retry-After beyond maxWaitMs is not waited out', async () => {
  const { policy: p, waits } = policy({ maxWaitMs: 5000 });
  const call = failing(apiError(429, APIErrorCode.RateLimited, '6'));
  await assert.rejects(withRetry(call.fn, p), { code: 'rate_limited' });
  assert.deepEqual(waits, []);
  assert.equal(call.calls(), 1);
});

test('without Retry-After, backs off exponentially within the bound', async () => {
  const { policy: p, waits } = policy({ maxRetries: 4, maxWaitMs: 1500 });
  const overload = () => apiError(529, APIErrorCode.ServiceOverload);
  const call = failing(overload(), overload(), overload(), overload());
  assert.equal(await withRetry(call.fn, p), 'ok');
  assert.deepEqual(waits, [500, 1000, 1500, 1500]);
});

test('other errors are not retried', async () => {
  for (const err of [
    apiError(401, APIErrorCode.Unauthorized),
    apiError(404, APIErrorCode.ObjectNotFound),
    apiError(503, APIErrorCode.ServiceUnavailable, '1'),
    new TypeError('fetch failed'),
  ]) {
    const { policy: p, waits } = policy();
    const call = failing(err);
    await assert.rejects(withRetry(call.fn, p), (e) => e === err);
    assert.deepEqual(waits, []);
  }
});

test('Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3)', () => {
  const now = Date.parse('2026-03-02T10:00:00Z');
  assert.equal(retryAfterMs(apiError(429, APIErrorCode.RateLimited, '3'), now), 3000);
  assert.equal(
    retryAfterMs(apiError(429, APIErrorCode.RateLimited, 'Mon, 02 Mar 2026 10:00:07 GMT'), now),
    7000,
  );
  assert.equal(retryAfterMs(apiError(429, APIErrorCode.RateLimited, 'soon'), now), undefined);
  assert.equal(retryAfterMs(apiError(429, APIErrorCode.RateLimited), now), undefined);
});
