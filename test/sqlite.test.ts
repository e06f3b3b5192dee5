import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createSqliteServer } from '../src/servers/sqlite/server.js';
import type { ServersHost } from '../src/servers/host.js';
import { startTestHost } from './support/host.js';
import { connectClient, firstText } from './support/mcp-client.js';
import { makeDataDir, snapshot } from './sqlite-fixture.js';

type Structured = Record<string, unknown> & { rows?: Record<string, unknown>[] };

describe('sqlite server', () => {
  let data: ReturnType<typeof makeDataDir>;
  let host: ServersHost;
  let client: Client;
  let before_: Record<string, string>;

  before(async () => {
    data = makeDataDir(5000);
    before_ = snapshot(data.dir);
    host = await startTestHost([createSqliteServer], {
      SQLITE_DB_FILE: data.file,
      SQLITE_MAX_ROWS: '100',
      SQLITE_MAX_BYTES: '65536',
      SQLITE_QUERY_TIMEOUT_MS: '3000',
    });
    client = await connectClient(`${host.url}/sqlite`);
  });
  after(async () => {
    await client?.close();
    await host?.close();
    rmSync(data.dir, { recursive: true, force: true });
  });

  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const result = await client.callTool({ name, arguments: args });
    return {
      result,
      structured: result.structuredContent as Structured | undefined,
      text: firstText(result as { content?: unknown }),
    };
  };

  test('every tool is listed with schemas and read-only annotations', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), [
      'describe_table',
      'list_tables',
      'read_query',
      'update',
    ]);
    for (const tool of tools) {
      assert.ok(tool.description && tool.description.length > 20, tool.name);
      assert.equal(tool.inputSchema.type, 'object');
      assert.equal(tool.outputSchema?.type, 'object', tool.name);
      assert.equal(tool.annotations?.readOnlyHint, true, tool.name);
    }
  });

  test('list_tables names tables and views; structured content equals the text', async () => {
    const { structured, text } = await call('list_tables');
    assert.deepEqual(JSON.parse(text), structured);
    const tables = structured!.tables as { name: string; type: string }[];
    assert.ok(tables.some((t) => t.name === 't' && t.type === 'table'));
    assert.ok(tables.some((t) => t.name === 'small_t' && t.type === 'view'));
    assert.ok(tables.some((t) => t.name === 'weird "name";--'));
  });

  test('describe_table binds the name, so real odd names work and missing ones are errors', async () => {
    const { structured } = await call('describe_table', { table_name: 'weird "name";--' });
    assert.deepEqual(structured, {
      table: 'weird "name";--',
      columns: [
        { name: 'a', type: 'TEXT', not_null: false, default_value: null, primary_key: false },
        { name: 'b c', type: 'INTEGER', not_null: true, default_value: '7', primary_key: false },
      ],
    });
    const missing = await call('describe_table', { table_name: "t'); DROP TABLE t; --" });
    assert.equal(missing.result.isError, true);
    assert.match(missing.text, /no table or view named/);
    const nul = await call('describe_table', { table_name: 't\0x' });
    assert.equal(nul.result.isError, true);
  });

  test('read_query returns rows as objects with columns and counts', async () => {
    const { structured, text } = await call('read_query', {
      query: 'SELECT id, name, score FROM t ORDER BY id',
    });
    assert.deepEqual(JSON.parse(text), structured);
    assert.deepEqual(structured, {
      columns: ['id', 'name', 'score'],
      rows: [
        { id: 1, name: 'alpha', score: 1.5 },
        { id: 2, name: 'beta', score: 2.5 },
        { id: 3, name: 'gamma', score: null },
      ],
      row_count: 3,
      truncated: false,
    });
  });

  test('duplicate column names are kept apart', async () => {
    const { structured } = await call('read_query', { query: 'SELECT 1 AS a, 2 AS a' });
    assert.deepEqual(structured!.rows, [{ a: 1, a_2: 2 }]);
  });

  test('the row cap stops reading early and says so', async () => {
    const { structured } = await call('read_query', { query: 'SELECT * FROM big' });
    assert.equal(structured!.row_count, 100);
    assert.equal(structured!.rows!.length, 100);
    assert.equal(structured!.truncated, true);
    assert.equal(structured!.truncated_by, 'max_rows');
    // An endless generator is fine too: reading stops at the cap.
    const endless = await call('read_query', {
      query: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c',
    });
    assert.equal(endless.structured!.row_count, 100);
    assert.equal(endless.structured!.truncated, true);
  });

  test('exactly as many rows as the cap is not truncated', async () => {
    const { structured } = await call('read_query', { query: 'SELECT id FROM big LIMIT 100' });
    assert.equal(structured!.row_count, 100);
    assert.equal(structured!.truncated, false);
  });

  test('the byte cap stops before the budget is exceeded', async () => {
    const { structured, text } = await call('read_query', {
      query: "SELECT id, printf('%.2000c', 'y') AS pad FROM big",
    });
    assert.equal(structured!.truncated, true);
    assert.equal(structured!.truncated_by, 'max_bytes');
    assert.ok((structured!.row_count as number) < 100 && (structured!.row_count as number) > 10);
    assert.ok(text.length < 65536 + 4096, `text is ${text.length} chars`);
  });

  test('a value larger than the whole budget is cut, not dumped', async () => {
    const { structured } = await call('read_query', {
      query: 'SELECT v FROM texts WHERE length(v) > 1000',
    });
    const long = structured!.rows![0]!.v as string;
    assert.ok(long.length < 70_000);
    assert.match(long, /more characters\]$/);
  });

  test('BLOBs are summarised by size; integers beyond 2^53 keep every digit', async () => {
    const blobs = await call('read_query', { query: 'SELECT id, data FROM blobs ORDER BY id' });
    assert.deepEqual(blobs.structured!.rows, [
      { id: 1, data: { blob_bytes: 5000 } },
      { id: 2, data: { blob_bytes: 2 } },
    ]);
    const numbers = await call('read_query', { query: 'SELECT n FROM numbers' });
    assert.deepEqual(numbers.structured!.rows, [
      { n: '9223372036854775807' },
      { n: 42 },
      { n: '-9007199254740993' },
    ]);
  });

  test('update is a no-op that reports it changed nothing', async () => {
    const { structured } = await call('update', {
      table_name: 't',
      set_clause: "name = 'hacked'",
      where_clause: '1 = 1',
    });
    assert.equal(structured!.updated, false);
    const check = await call('read_query', {
      query: "SELECT count(*) AS n FROM t WHERE name = 'hacked'",
    });
    assert.deepEqual(check.structured!.rows, [{ n: 0 }]);
    assert.deepEqual(snapshot(data.dir), before_);
  });

  test('a query past its deadline is stopped, and the next query works', async () => {
    const bomb = await call('read_query', {
      query:
        'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c',
    });
    assert.equal(bomb.result.isError, true);
    assert.match(bomb.text, /"code":"timeout"/);
    const next = await call('read_query', { query: 'SELECT count(*) AS n FROM t' });
    assert.deepEqual(next.structured!.rows, [{ n: 3 }]);
  });

  test('list_tables is answered while every query process is busy with a bomb', async () => {
    const bombSql =
      'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';
    let bombsDone = 0;
    const bombs = [1, 2].map(() =>
      call('read_query', { query: bombSql }).then((r) => {
        bombsDone++;
        return r;
      }),
    );
    const tables = await call('list_tables');
    assert.equal(bombsDone, 0, 'list_tables must not wait for the bombs');
    assert.ok((tables.structured!.tables as unknown[]).length > 3);
    for (const r of await Promise.all(bombs)) assert.equal(r.result.isError, true);
  });

  test('a client that goes away cancels its query and frees the process', async () => {
    const bombSql =
      'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';
    const aborted = [1, 2].map(() => {
      const controller = new AbortController();
      const request = fetch(`${host.url}/sqlite`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'read_query', arguments: { query: bombSql } },
        }),
        signal: controller.signal,
      }).catch(() => undefined);
      return { controller, request };
    });
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    for (const a of aborted) a.controller.abort();
    await Promise.all(aborted.map((a) => a.request));
    // Both query processes were taken by the bombs; without cancellation this query would
    // wait for the 3 s deadline.
    const next = await call('read_query', { query: 'SELECT 1 AS one' });
    assert.deepEqual(next.structured!.rows, [{ one: 1 }]);
    assert.ok(Date.now() - started < 2500, `took ${Date.now() - started} ms`);
  });

  test('memory bombs are stopped by the cap and the next query works', async () => {
    for (const query of [
      // Fails inside SQLite (out of memory) …
      'SELECT length(randomblob(400000000) || randomblob(400000000) || randomblob(400000000)) AS n',
      // … or kills the process while the value is copied out; either way the caller gets an error.
      'SELECT randomblob(400000000) AS b',
    ]) {
      const bomb = await call('read_query', { query });
      assert.equal(bomb.result.isError, true, bomb.text);
      const next = await call('read_query', { query: 'SELECT 2 AS two' });
      assert.deepEqual(next.structured!.rows, [{ two: 2 }]);
    }
  });

  test('the database file is never changed', () => {
    assert.deepEqual(snapshot(data.dir), before_);
    assert.ok(readFileSync(data.file).length > 0);
  });
});
