/**
 * A hostile corpus against /sqlite, judged by effects rather than by whether an error came
 * back: after every entry the data directory is byte-identical, an outside writer can still
 * take the write lock, no reply names the database's path or shows another file's contents,
 * and later callers still see the real tables.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createSqliteServer } from '../src/servers/sqlite/server.js';
import type { ServersHost } from '../src/servers/host.js';
import { startTestHost } from './support/host.js';
import { connectClient } from './support/mcp-client.js';
import { OTHER_FILE_SECRET, makeDataDir, snapshot, writerCanLock } from './sqlite-fixture.js';

const RECURSE = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)';

function corpus(dir: string, other: string): Array<[string, string]> {
  return [
    // Plain and hidden writes.
    ['delete', 'DELETE FROM t'],
    ['update', "UPDATE t SET name = 'x'"],
    ['insert', 'INSERT INTO t (name) VALUES (1)'],
    ['drop', 'DROP TABLE t'],
    ['create', 'CREATE TABLE evil (a)'],
    ['returning', 'DELETE FROM t RETURNING *'],
    ['insert returning', "INSERT INTO t (name) VALUES ('x') RETURNING id"],
    ['cte delete', 'WITH x AS (SELECT 1) DELETE FROM t'],
    ['cte insert', 'WITH x(a) AS (SELECT 1) INSERT INTO t (name) SELECT a FROM x'],
    ['comment prefix', '/* SELECT */ DELETE FROM t'],
    ['line comment prefix', '-- SELECT\nDELETE FROM t'],
    ['stacked', 'SELECT 1; DELETE FROM t'],
    ['stacked drop', 'SELECT 1;DROP TABLE t;'],
    ['replace', "REPLACE INTO t VALUES (1, 'x', 0)"],
    ['upsert', "INSERT INTO t VALUES (1, 'x', 0) ON CONFLICT DO UPDATE SET name = 'y'"],
    // Temp objects that would shadow real tables for later callers.
    ['temp table', 'CREATE TEMP TABLE t (fake)'],
    ['temp view', "CREATE TEMP VIEW t AS SELECT 'shadow' AS name"],
    ['temp trigger', 'CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END'],
    // Other files.
    ['attach relative', "ATTACH 'other.db' AS o"],
    ['attach absolute', `ATTACH DATABASE '${other}' AS o`],
    ['attach memory', "ATTACH ':memory:' AS m"],
    ['attached read', 'SELECT * FROM o.secret'],
    ['detach', 'DETACH main'],
    ['vacuum into', `VACUUM INTO '${dir}/copy.db'`],
    ['vacuum into tmp', "VACUUM INTO '/tmp/portcullis-stolen.db'"],
    ['vacuum', 'VACUUM'],
    ['analyze', 'ANALYZE'],
    ['reindex', 'REINDEX'],
    // PRAGMAs, some of which act while being prepared.
    ['query_only off', 'PRAGMA query_only = 0'],
    ['journal wal', 'PRAGMA journal_mode = WAL'],
    ['locking exclusive', 'PRAGMA locking_mode = EXCLUSIVE'],
    ['user_version', 'PRAGMA user_version = 7'],
    ['writable_schema', 'PRAGMA writable_schema = ON'],
    ['explain pragma', 'EXPLAIN PRAGMA user_version = 5'],
    ['database_list', 'SELECT * FROM pragma_database_list'],
    ['database_list quoted', 'SELECT file FROM "pragma_database_list"'],
    ['database_list string', "SELECT * FROM 'pragma_database_list'"],
    ['optimize', 'SELECT * FROM pragma_optimize'],
    ['lowercase pragma after comment', '/**/pragma cache_size = 1'],
    // Transactions and locks.
    ['begin', 'BEGIN'],
    ['begin immediate', 'BEGIN IMMEDIATE'],
    ['begin exclusive', 'BEGIN EXCLUSIVE'],
    ['savepoint', 'SAVEPOINT s'],
    ['commit', 'COMMIT'],
    ['rollback', 'ROLLBACK'],
    ['end', 'END'],
    // Extensions and file access.
    ['load_extension libc', "SELECT load_extension('/lib/x86_64-linux-gnu/libc.so.6')"],
    ['load_extension relative', "SELECT load_extension('other.db')"],
    ['readfile', "SELECT readfile('/etc/passwd')"],
    ['fts3 tokenizer', "SELECT fts3_tokenizer('simple')"],
    // Resource bombs: rows, CPU and memory.
    ['huge result', 'SELECT * FROM big'],
    ['endless rows', `${RECURSE} SELECT x, randomblob(100) FROM c`],
    ['cpu count', `${RECURSE} SELECT count(*) FROM c`],
    ['cartesian', 'SELECT count(*) FROM big a, big b, big c'],
    ['sort bomb', `${RECURSE} SELECT x FROM c ORDER BY random() LIMIT 1`],
    ['giant blob', 'SELECT randomblob(900000000)'],
    ['several blobs', 'SELECT length(randomblob(400000000) || randomblob(400000000))'],
    ['zeroblob', 'SELECT zeroblob(2000000000)'],
    ['hex growth', "SELECT length(replace(hex(zeroblob(50000000)), '0', '000000'))"],
    // Parse bombs.
    ['deep parens', `SELECT ${'('.repeat(45_000)}1${')'.repeat(45_000)}`],
    ['long compound', `SELECT 1${' UNION ALL SELECT 1'.repeat(4000)}`],
    ['wide expression', `SELECT ${Array.from({ length: 9000 }, () => '1').join('+')}`],
    ['oversize text', `SELECT '${'a'.repeat(200_000)}'`],
    ['deep subqueries', `SELECT ${'(SELECT '.repeat(3000)}1${')'.repeat(3000)}`],
    // NUL bytes and odd text.
    ['nul stacked', 'SELECT 1;\0DROP TABLE t'],
    ['nul in string', "SELECT 'a\0b'"],
    ['lone surrogate', "SELECT '\ud800' AS s"],
    ['invalid utf-8 stored', 'SELECT v FROM texts'],
    ['odd table name', 'SELECT * FROM "weird ""name"";--"'],
    ['table called pragma', 'SELECT pragma FROM "pragma"'],
    ['unicode table', 'SELECT * FROM "ünïcödé 表"'],
    ['syntax error echo', `SELECT * FROM "${dir}"`],
    ['sqlite_schema', 'SELECT sql FROM sqlite_schema'],
  ];
}

describe('sqlite hostile corpus', () => {
  let data: ReturnType<typeof makeDataDir>;
  let host: ServersHost;
  let client: Client;
  let original: Record<string, string>;

  before(async () => {
    data = makeDataDir(3000);
    original = snapshot(data.dir);
    host = await startTestHost([createSqliteServer], {
      SQLITE_DB_FILE: data.file,
      SQLITE_QUERY_TIMEOUT_MS: '1500',
    });
    client = await connectClient(`${host.url}/sqlite`);
  });
  after(async () => {
    await client?.close();
    await host?.close();
    rmSync(data.dir, { recursive: true, force: true });
    rmSync('/tmp/portcullis-stolen.db', { force: true });
  });

  const leaks = (text: string) =>
    [data.dir, data.file, OTHER_FILE_SECRET, 'root:x:0:0'].filter((s) => text.includes(s));

  test('every entry leaves no trace, no lock and no leak', async () => {
    const expectedRows = [
      { id: 1, name: 'alpha' },
      { id: 2, name: 'beta' },
      { id: 3, name: 'gamma' },
    ];
    for (const [name, sql] of corpus(data.dir, data.other)) {
      const result = await client.callTool({ name: 'read_query', arguments: { query: sql } });
      const reply = JSON.stringify(result);
      assert.deepEqual(leaks(reply), [], `${name}: the reply leaks`);
      assert.deepEqual(snapshot(data.dir), original, `${name}: the data directory changed`);
      assert.ok(writerCanLock(data.file), `${name}: an outside writer cannot lock the database`);
      // Later callers see the real table (no temp shadow, no transaction left open).
      const check = await client.callTool({
        name: 'read_query',
        arguments: { query: 'SELECT id, name FROM t ORDER BY id' },
      });
      assert.deepEqual(
        (check.structuredContent as { rows: unknown }).rows,
        expectedRows,
        `${name}: later queries see something else`,
      );
    }
    assert.throws(() => readFileSync('/tmp/portcullis-stolen.db'));
  });

  test('writes are refused with a clear tool error', async () => {
    for (const sql of ['DELETE FROM t', 'BEGIN', "ATTACH 'other.db' AS o", 'PRAGMA query_only=0']) {
      const result = await client.callTool({ name: 'read_query', arguments: { query: sql } });
      assert.equal(result.isError, true, sql);
      assert.match(JSON.stringify(result.content), /not allowed|read-only/, sql);
    }
  });

  test('describe_table with hostile names leaves no trace', async () => {
    for (const table of [
      "t'); DROP TABLE t; --",
      't"; DELETE FROM t; --',
      'sqlite_schema',
      'o.secret',
    ]) {
      const result = await client.callTool({
        name: 'describe_table',
        arguments: { table_name: table },
      });
      assert.deepEqual(leaks(JSON.stringify(result)), []);
      assert.deepEqual(snapshot(data.dir), original);
    }
  });

  test('list_tables answers while CPU bombs hold every query process', async () => {
    const bombs = [1, 2, 3].map(() =>
      client.callTool({
        name: 'read_query',
        arguments: { query: `${RECURSE} SELECT count(*) FROM c` },
      }),
    );
    let settled = false;
    void Promise.allSettled(bombs).then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 100));
    const tables = await client.callTool({ name: 'list_tables', arguments: {} });
    assert.equal(settled, false, 'list_tables waited for the bombs');
    assert.equal(tables.isError, undefined);
    await Promise.all(bombs);
  });
});
