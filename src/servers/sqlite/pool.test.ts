/**
 * The pool's life cycle with real query processes: it grows for concurrent jobs and shrinks
 * back when they are done, and a process that grew past the threshold is replaced after its
 * job while the next job still works.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { QueryPool, type PoolOptions } from './pool.js';
import type { Job, QueryResult } from './protocol.js';

let dir: string;
let file: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-pool-'));
  file = join(dir, 'pool.db');
  const db = new Database(file);
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'a')");
  db.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function startPool(options: Partial<PoolOptions>): Promise<QueryPool> {
  const pool = new QueryPool({
    file,
    memoryMb: 1536,
    size: 2,
    warm: 1,
    idleMs: 10_000,
    recycleMb: 1024,
    // Loaded CI machines run the slow job for seconds; only the deadline test wants a short one.
    timeoutMs: 30_000,
    maxQueue: 8,
    logger: pino({ level: 'silent' }),
    name: 'test',
    ...options,
  });
  await pool.start();
  return pool;
}

const query = (sql: string): Job => ({
  op: 'read_query',
  sql,
  limits: { maxRows: 10, maxBytes: 65536 },
});
const SELECT_T = query('SELECT id, name FROM t');
/** About a second of CPU in the query process, then an answer. */
const SLOW = query(
  'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 8000000) SELECT count(*) AS n FROM c',
);
const waitFor = async (check: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return check();
};

test('one process while idle; a concurrent job starts a second, which exits once idle', async () => {
  const pool = await startPool({ idleMs: 300 });
  try {
    assert.equal(pool.processIds.length, 1);
    const slow = pool.run(SLOW);
    let slowDone = false;
    void slow.then(() => (slowDone = true));
    const quick = (await pool.run(SELECT_T)) as QueryResult;
    assert.deepEqual(quick.rows, [{ id: 1, name: 'a' }]);
    assert.equal(slowDone, false, 'the quick job waited for the slow one');
    assert.equal(pool.processIds.length, 2);
    await slow;
    assert.ok(await waitFor(() => pool.processIds.length === 1, 3000), 'the extra one stayed');
    assert.deepEqual(((await pool.run(SELECT_T)) as QueryResult).rows, [{ id: 1, name: 'a' }]);
  } finally {
    await pool.close();
  }
});

test('never more processes than its size: a third concurrent job waits its turn', async () => {
  const pool = await startPool({ size: 2 });
  try {
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, pool.processIds.length)), 10);
    try {
      const answers = await Promise.all([pool.run(SLOW), pool.run(SELECT_T), pool.run(SELECT_T)]);
      assert.deepEqual((answers[2] as QueryResult).rows, [{ id: 1, name: 'a' }]);
      // On a loaded machine the jobs may all end on the first process before the second is up.
      assert.ok(await waitFor(() => pool.processIds.length === 2, 5000), 'no second process');
    } finally {
      clearInterval(watch);
    }
    assert.equal(most, 2);
  } finally {
    await pool.close();
  }
});

test('a process past the memory threshold is replaced after its job; the next job works', async () => {
  const keeps = await startPool({ size: 1 });
  try {
    const [pid] = keeps.processIds;
    await keeps.run(SELECT_T);
    assert.deepEqual(keeps.processIds, [pid], 'under the threshold the process stays');
  } finally {
    await keeps.close();
  }
  // A fresh Node process alone is above 1 MiB: every job passes this threshold.
  const pool = await startPool({ size: 1, recycleMb: 1 });
  try {
    const [first] = pool.processIds;
    assert.deepEqual(((await pool.run(SELECT_T)) as QueryResult).rows, [{ id: 1, name: 'a' }]);
    assert.ok(!pool.processIds.includes(first!), 'the grown process is gone');
    assert.deepEqual(((await pool.run(SELECT_T)) as QueryResult).rows, [{ id: 1, name: 'a' }]);
    // Replaced again after that job; a fresh one takes the slot.
    assert.ok(await waitFor(() => pool.processIds.length === 1, 5000));
    assert.ok(!pool.processIds.includes(first!));
  } finally {
    await pool.close();
  }
});

test('a job past its deadline is killed and the pool keeps its warm process', async () => {
  const pool = await startPool({ size: 2, timeoutMs: 300 });
  try {
    const [first] = pool.processIds;
    await assert.rejects(
      pool.run(
        query(
          'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c',
        ),
      ),
      { code: 'timeout' },
    );
    assert.deepEqual(((await pool.run(SELECT_T)) as QueryResult).rows, [{ id: 1, name: 'a' }]);
    // Replaced again after that job; a fresh one takes the slot.
    assert.ok(await waitFor(() => pool.processIds.length === 1, 5000));
    assert.ok(!pool.processIds.includes(first!));
  } finally {
    await pool.close();
  }
});
