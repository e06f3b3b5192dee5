/**
 * A real PostgreSQL that stops serving mid-query: the storage reports it as unavailable
 * (503 upstream of here), within the deadlines the connection string sets, and serves again.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { startPostgres } from '../../test/support/postgres.js';
import { isStorageUnavailable } from './errors.js';
import { openPostgresStorage } from './postgres.js';

const server = await startPostgres();
after(() => server.stop());
const database = await server.createDatabase('faults');
const T0 = 1_800_000_000_000;

/** Holds an exclusive lock on `table` from another connection until `release`. */
async function lockTable(url: string, table: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return async () => {
    await client.query('ROLLBACK');
    await client.end();
  };
}

const ours = (url: string) =>
  server.query<{ pid: number }>(
    url,
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'portcullis' AND state = 'active'",
  );

describe('postgres storage under faults', () => {
  test('statement_timeout from the URL: a query stuck on a lock fails fast as unavailable', async () => {
    const url = await server.createSchema(database, 'stmt');
    const s = await openPostgresStorage(`${url}&statement_timeout=200`);
    const release = await lockTable(url, 'sessions');
    const started = Date.now();
    await assert.rejects(s.sessions.get('x', T0), (err) => isStorageUnavailable(err));
    const took = Date.now() - started;
    assert.ok(took >= 150 && took < 1_500, `answered after ${took} ms`);
    await release();
    assert.equal(await s.sessions.get('x', T0), undefined, 'serves again');
    await s.close();
  });

  test('pool_max_conns caps the connections; backends killed mid-query are unavailable', async () => {
    const url = await server.createSchema(database, 'pool');
    const s = await openPostgresStorage(`${url}&pool_max_conns=2&statement_timeout=3000`);
    const release = await lockTable(url, 'sessions');
    const calls = Array.from({ length: 5 }, (_, i) =>
      s.sessions.get(`x${i}`, T0).then(
        () => 'ok',
        (err: unknown) => (isStorageUnavailable(err) ? 'unavailable' : String(err)),
      ),
    );
    let active: { pid: number }[] = [];
    for (const deadline = Date.now() + 2_000; active.length < 2 && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      active = await ours(url);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await ours(url)).length, 2, 'two connections, as pool_max_conns says');
    // As a database restart does to every session: admin shutdown, SQLSTATE 57P01.
    await server.query(url, 'SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [
      active.map((a) => a.pid),
    ]);
    assert.deepEqual(await Promise.all(calls), Array(5).fill('unavailable'));
    await release();
    await s.ping();
    await s.close();
  });
});
