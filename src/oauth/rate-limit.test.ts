import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimiter } from './rate-limit.js';

test('rate limiter: a burst of max, then refusals with Retry-After, then refill', () => {
  let now = 1_000_000;
  const limiter = new RateLimiter({ max: 3, windowMs: 60_000 }, () => now);
  for (let i = 0; i < 3; i++) assert.deepEqual(limiter.take('a'), { allowed: true });
  const refused = limiter.take('a');
  assert.equal(refused.allowed, false);
  assert.ok(!refused.allowed && refused.retryAfterSeconds === 20);
  assert.deepEqual(limiter.take('b'), { allowed: true }, 'keys are independent');
  now += 20_000;
  assert.deepEqual(limiter.take('a'), { allowed: true });
  assert.equal(limiter.take('a').allowed, false);
});
