/**
 * The contract of the rate counters (`rateCounters`), run by `storageContract` against every
 * backend. The race is real on PostgreSQL (a pool of connections).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Storage } from './types.js';

const T0 = 1_800_000_000_000;

export function rateCountersContract(store: () => Storage): void {
  describe('rate counters', () => {
    test('counts per key and window, each window from one', async () => {
      const { rateCounters } = store();
      assert.equal(await rateCounters.increment('register:1.2.3.4', T0, T0 + 60_000), 1);
      assert.equal(await rateCounters.increment('register:1.2.3.4', T0, T0 + 60_000), 2);
      assert.equal(await rateCounters.increment('register:5.6.7.8', T0, T0 + 60_000), 1);
      assert.equal(await rateCounters.increment('token:1.2.3.4', T0, T0 + 60_000), 1);
      const next = T0 + 60_000;
      assert.equal(await rateCounters.increment('register:1.2.3.4', next, next + 60_000), 1);
    });

    test('concurrent increments each get a distinct count', async () => {
      const { rateCounters } = store();
      const counts = await Promise.all(
        Array.from({ length: 25 }, () => rateCounters.increment('k', T0, T0 + 1000)),
      );
      assert.deepEqual(
        counts.sort((a, b) => a - b),
        Array.from({ length: 25 }, (_, i) => i + 1),
      );
    });

    test('prune deletes the windows expired before the instant, and only those', async () => {
      const { rateCounters } = store();
      await rateCounters.increment('old', T0, T0 + 1000);
      await rateCounters.increment('old', T0, T0 + 1000);
      await rateCounters.increment('current', T0 + 1000, T0 + 2000);
      assert.equal(await rateCounters.prune(T0 + 1000), 0, 'not before its expiry');
      assert.equal(await rateCounters.prune(T0 + 1001), 1);
      assert.equal(await rateCounters.increment('old', T0, T0 + 1000), 1, 'counted afresh');
      assert.equal(await rateCounters.increment('current', T0 + 1000, T0 + 2000), 2);
    });
  });
}
