import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSqliteStorage } from '../storage/sqlite.js';
import { endpointLimiter, SharedRateLimiter } from './shared-rate-limit.js';
import { RateLimiter } from './rate-limit.js';

test('limiters on one storage share a fixed window per key; Retry-After is the window’s rest', async () => {
  const storage = openSqliteStorage(':memory:');
  let now = 1_800_000_000_000; // a multiple of the window: the window starts here
  const clock = () => now;
  const limit = { max: 3, windowMs: 60_000 };
  const [a, b] = [1, 2].map(
    () => new SharedRateLimiter(storage.rateCounters, 'register', limit, clock),
  );
  const token = new SharedRateLimiter(storage.rateCounters, 'token', limit, clock);
  assert.deepEqual(await a!.take('1.2.3.4'), { allowed: true });
  assert.deepEqual(await b!.take('1.2.3.4'), { allowed: true });
  assert.deepEqual(await a!.take('1.2.3.4'), { allowed: true });
  now += 20_500;
  assert.deepEqual(await b!.take('1.2.3.4'), { allowed: false, retryAfterSeconds: 40 });
  assert.deepEqual(await b!.take('5.6.7.8'), { allowed: true }, 'another address');
  assert.deepEqual(await token.take('1.2.3.4'), { allowed: true }, 'another endpoint');
  now += 39_500;
  assert.deepEqual(await a!.take('1.2.3.4'), { allowed: true }, 'the next window');
  assert.equal(await storage.rateCounters.prune(now + 1), 3, 'the first window’s rows');
  await storage.close();
});

test('the shared limiter is used on PostgreSQL only; limits are checked when built', () => {
  const storage = openSqliteStorage(':memory:');
  const limit = { max: 1, windowMs: 1000 };
  assert.ok(endpointLimiter(storage, 'token', limit, Date.now) instanceof RateLimiter);
  const pg = { kind: 'postgres' as const, rateCounters: storage.rateCounters };
  assert.ok(endpointLimiter(pg, 'token', limit, Date.now) instanceof SharedRateLimiter);
  assert.throws(() => endpointLimiter(pg, 'token', { max: 0, windowMs: 1 }, Date.now), RangeError);
  void storage.close();
});
