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
import { RECURSE, hostileCorpus } from './sqlite-corpus.js';

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
    for (const [name, sql] of hostileCorpus(data.dir, data.other)) {
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
