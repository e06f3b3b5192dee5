/**
 * The PostgreSQL invalidation bus on a real server: two storages on one database stand for two
 * replicas; the listener's connection is killed from the server side as a restart would.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startPostgres } from '../../test/support/postgres.js';
import type { InvalidationEvent } from './invalidation.js';
import { openStorage } from './open.js';
import { openPostgresBus } from './postgres-notify.js';
import { openPostgresStorage } from './postgres.js';
import type { Storage } from './types.js';

const server = await startPostgres();
const database = await server.createDatabase('notify');
const quiet = { onError: () => undefined };
const a = await openPostgresStorage(database, quiet);
const b = await openPostgresStorage(database, quiet);
after(async () => {
  await a.close();
  await b.close();
  await server.stop();
});

/** Every event `storage`'s bus delivers, from now on. */
function record(storage: Storage): InvalidationEvent[] {
  const seen: InvalidationEvent[] = [];
  storage.invalidation!.subscribe((e) => seen.push(e));
  return seen;
}

/** Polls `ready` every 10 ms until it holds or `capMs` passes; returns the time it took. */
async function waitFor(ready: () => boolean, capMs: number, what: string): Promise<number> {
  const start = performance.now();
  while (!ready()) {
    if (performance.now() - start > capMs) assert.fail(`not within ${capMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - start;
}

const killListeners = () =>
  server.query(
    database,
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
  );

describe('PostgreSQL invalidation bus', () => {
  it('an event published on one replica reaches the other within a second, and itself once', async () => {
    assert.ok(a.invalidation?.healthy() && b.invalidation?.healthy());
    const onA = record(a);
    const onB = record(b);
    const sent = performance.now();
    await a.invalidation!.publish({ k: 'grant', id: 'g-1' });
    assert.deepEqual(onA, [{ k: 'grant', id: 'g-1' }], 'delivered here before publish resolved');
    await waitFor(() => onB.length > 0, 1_000, 'B hears of the grant');
    const lag = performance.now() - sent;
    console.log(`NOTIFY delivered to the other replica in ${lag.toFixed(1)} ms`);
    assert.deepEqual(onB, [{ k: 'grant', id: 'g-1' }]);
    await b.invalidation!.publish({ k: 'upstream', sub: 'ada', route: 'r' });
    await waitFor(() => onA.length === 2, 1_000, 'A hears of the upstream');
    assert.deepEqual(onA[1], { k: 'upstream', sub: 'ada', route: 'r' });
    assert.equal(onB.length, 2, 'B got its own event once, the echo was recognised');
  });

  it('writes through openStorage announce themselves to the other replica', async () => {
    const writer = await openStorage({ type: 'postgres', connectionString: database });
    try {
      const onB = record(b);
      await writer.sessions.delete('f'.repeat(64));
      await writer.oauth.revokeByGrantId('g-2');
      await waitFor(() => onB.length === 2, 1_000, 'B hears of both writes');
      assert.deepEqual(onB, [
        { k: 'session', idHash: 'f'.repeat(64) },
        { k: 'grant', id: 'g-2' },
      ]);
    } finally {
      await writer.close();
    }
  });

  it('oversized and foreign payloads make the others drop everything', async () => {
    const onB = record(b);
    await a.invalidation!.publish({ k: 'user', sub: 'x'.repeat(9_000) });
    await server.query(database, `NOTIFY portcullis_invalidate, 'not json'`);
    await server.query(database, `NOTIFY portcullis_invalidate, '{"k":"grant"}'`);
    await waitFor(() => onB.length === 3, 1_000, 'three events on B');
    assert.deepEqual(onB, [{ k: 'all' }, { k: 'all' }, { k: 'all' }]);
  });

  it('a killed listener: unhealthy at once, healthy again after reconnecting, then `all`', async () => {
    const onA = record(a);
    const onB = record(b);
    const killed = await killListeners();
    assert.equal(killed.length, 2, 'one listener per replica');
    await waitFor(() => !a.invalidation!.healthy(), 1_000, 'A notices');
    const back = await waitFor(() => a.invalidation!.healthy(), 3_000, 'A listens again');
    console.log(`listener back after ${back.toFixed(0)} ms`);
    await waitFor(() => b.invalidation!.healthy(), 3_000, 'B listens again');
    assert.deepEqual(onA, [{ k: 'all' }], 'caches were told to drop what they kept');
    assert.deepEqual(onB, [{ k: 'all' }]);
    await a.invalidation!.publish({ k: 'client', id: 'c-1' });
    await waitFor(() => onB.length === 2, 1_000, 'B hears A again');
    assert.deepEqual(onB[1], { k: 'client', id: 'c-1' });
  });

  it('kept killed, it keeps retrying with backoff; closed, it stops', async () => {
    const bus = await openPostgresBus({ connectionString: database }, unused);
    assert.equal(bus.healthy(), true);
    let kills = 0;
    const start = performance.now();
    while (performance.now() - start < 1_500) {
      kills += (await killListeners()).length;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(kills >= 6, `reconnected and killed ${kills} times across the three listeners`);
    await waitFor(() => bus.healthy(), 3_000, 'healthy once left alone');
    await bus.close();
    assert.equal(bus.healthy(), false);
    await waitFor(() => a.invalidation!.healthy() && b.invalidation!.healthy(), 3_000, 'others');
  });

  it('a listener that cannot connect is unhealthy and tells why', async () => {
    const errors: Error[] = [];
    const url = new URL(database);
    url.password = 'wrong';
    const onError = (err: Error) => void errors.push(err);
    const bus = await openPostgresBus({ connectionString: url.href }, unused, { onError });
    assert.equal(bus.healthy(), false);
    assert.match(
      errors[0]?.message ?? '',
      /^invalidation listener: password authentication failed/,
    );
    await bus.close();
  });
});

/** The pool of a bus that publishes nothing in its test. */
const unused = {
  rows: async () => assert.fail('not sent in this test'),
  run: async () => assert.fail('not sent in this test'),
};
