import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TOOLS_LIST_BYTES, filterToolsListJson } from './filter-tools.js';
import { ToolsListSseFilter, type SseFilterOptions } from './filter-tools-sse.js';

const allowTool = (name: string) => name !== 'update';
const tools = [
  { name: 'read_query', inputSchema: { type: 'object' } },
  { name: 'update', inputSchema: { type: 'object' } },
  { name: 'list_tables', inputSchema: { type: 'object' } },
];
const listResult = (id: number | string) => ({
  jsonrpc: '2.0',
  id,
  result: { tools, nextCursor: 'c' },
});
const names = (msg: unknown) =>
  (msg as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name);

test('JSON: the tools/list result loses the tools policy refuses; the rest is kept', () => {
  const r = filterToolsListJson(Buffer.from(JSON.stringify(listResult(1))), {
    ids: new Set([1]),
    allowTool,
  });
  assert.ok(r.ok);
  const msg = JSON.parse(r.body.toString()) as { result: { nextCursor: string } };
  assert.deepEqual(names(msg), ['read_query', 'list_tables']);
  assert.equal(msg.result.nextCursor, 'c');
  assert.deepEqual(r.removed, ['update']);
});

test('JSON: batches, other ids, errors and other messages pass unchanged', () => {
  const batch = [
    listResult(1),
    listResult(2),
    { jsonrpc: '2.0', id: 3, error: { code: 1, message: 'x' } },
  ];
  const r = filterToolsListJson(Buffer.from(JSON.stringify(batch)), {
    ids: new Set([2, 3]),
    otherIds: new Set([1]),
    allowTool,
  });
  assert.ok(r.ok);
  const out = JSON.parse(r.body.toString()) as unknown[];
  assert.deepEqual(names(out[0]), ['read_query', 'update', 'list_tables']);
  assert.deepEqual(names(out[1]), ['read_query', 'list_tables']);
  assert.deepEqual(out[2], batch[2]);
  // Errors, notifications and server requests carry no tool list, whatever their id.
  const others = [
    { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } },
    { jsonrpc: '2.0', id: '1', error: { code: 1, message: 'x' } },
    { jsonrpc: '2.0', method: 'notifications/message', params: {} },
    { jsonrpc: '2.0', id: 'srv-1', method: 'sampling/createMessage', params: {} },
  ];
  const body = Buffer.from(JSON.stringify(others));
  const same = filterToolsListJson(body, { ids: new Set([1]), allowTool });
  assert.ok(same.ok && same.body === body);
});

const UNFILTERABLE = {
  jsonrpc: '2.0',
  id: 7,
  error: { code: -32603, message: 'tools/list response could not be checked by the gateway' },
};

test('JSON: a result for an id no call used, by JSON value and type, is refused', () => {
  // The TypeScript SDK looks answers up by Number(id): "7" would be taken for request 7.
  const cases: [string, unknown, Set<number | string>?][] = [
    ['"7" for 7', listResult('7')],
    ['7 for "7"', listResult(7), new Set(['7'])],
    ['an id no call used', listResult(9)],
    ['one such result in a batch', [listResult(7), listResult('8')]],
  ];
  for (const [label, answer, ids = new Set([7])] of cases) {
    const body = Buffer.from(JSON.stringify(answer));
    const r = filterToolsListJson(body, { ids, otherIds: new Set([8]), allowTool });
    assert.equal(r.ok, false, label);
    assert.ok(!r.ok && r.status === 502, label);
    assert.doesNotMatch(r.body.toString(), /update/, label);
    if (ids.has(7)) assert.deepEqual(JSON.parse(r.body.toString()), UNFILTERABLE, label);
  }
});

test('JSON: a message with both result and error, or a request with either, is refused', () => {
  const cases = [
    { ...listResult(7), error: { code: 1, message: 'x' } },
    { ...listResult(8), error: { code: 1, message: 'x' } },
    { ...listResult(7), method: 'tools/list' },
    { jsonrpc: '2.0', id: 'srv-1', method: 'ping', error: { code: 1, message: 'x' } },
  ];
  for (const message of cases) {
    const body = Buffer.from(JSON.stringify(message));
    const r = filterToolsListJson(body, { ids: new Set([7]), otherIds: new Set([8]), allowTool });
    assert.equal(r.ok, false, JSON.stringify(message));
    assert.deepEqual(JSON.parse(r.body.toString()), UNFILTERABLE);
  }
});

test('JSON: fail closed on what cannot be judged', () => {
  const cases: [string, Buffer][] = [
    ['not JSON', Buffer.from('{"jsonrpc":"2.0","id":1,"result":')],
    [
      'duplicate key',
      Buffer.from(
        '{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":{"tools":[{"name":"update"}]}}',
      ),
    ],
    ['too large', Buffer.alloc(MAX_TOOLS_LIST_BYTES + 1, 0x20)],
  ];
  for (const [label, body] of cases) {
    const r = filterToolsListJson(body, { ids: new Set([1]), allowTool });
    assert.equal(r.ok, false, label);
    assert.deepEqual(JSON.parse(r.body.toString()), {
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32603, message: 'tools/list response could not be checked by the gateway' },
    });
  }
  // A result without a tools list becomes an error for that id; unnamed tools are dropped.
  const odd = filterToolsListJson(Buffer.from('{"jsonrpc":"2.0","id":1,"result":{}}'), {
    ids: new Set([1]),
    allowTool,
  });
  assert.ok(odd.ok);
  assert.equal((JSON.parse(odd.body.toString()) as { error: { code: number } }).error.code, -32603);
  const unnamed = {
    jsonrpc: '2.0',
    id: 1,
    result: { tools: [{ name: 5 }, { title: 'x' }, { name: 'read_query' }] },
  };
  const u = filterToolsListJson(Buffer.from(JSON.stringify(unnamed)), {
    ids: new Set([1]),
    allowTool,
  });
  assert.ok(u.ok);
  assert.deepEqual(names(JSON.parse(u.body.toString())), ['read_query']);
});

/** Runs `input`, cut into the given chunks, through a filter; returns what came out. */
async function run(chunks: Buffer[], options: Partial<SseFilterOptions> = {}): Promise<string> {
  const filter = new ToolsListSseFilter({
    ids: new Set([7]),
    otherIds: new Set([8]),
    allowTool,
    ...options,
  });
  const out: Buffer[] = [];
  filter.on('data', (b: Buffer) => out.push(b));
  const ended = new Promise((resolve) => filter.on('end', resolve));
  for (const c of chunks) filter.write(c);
  filter.end();
  await ended;
  return Buffer.concat(out).toString('utf8');
}

const filtered = JSON.stringify({
  jsonrpc: '2.0',
  id: 7,
  result: { tools: [tools[0], tools[2]], nextCursor: 'c' },
});

// Every framing feature at once: CRLF, CR and LF endings, comments, id/event/retry fields, a
// priming event with empty data, multi-line data, `data` without a space, a non-ASCII byte
// sequence, an event for another call of the request, and the tools/list answer split over two data lines.
const listJson = JSON.stringify(listResult(7));
const cut = listJson.indexOf('"result"');
const SAMPLE = [
  ': keep-alive\r\n\r\n',
  'id: 0\r\ndata:\r\n\r\n',
  'retry: 1000\revent: message\rdata: {"jsonrpc":"2.0","method":"notifications/progress",\r',
  'data: "params":{"progress":1,"message":"héllo ✓"}}\r\r',
  `id: 1\nevent: message\ndata: ${JSON.stringify(listResult(8))}\n\n`,
  `: before\nid: 2\ndata:${listJson.slice(0, cut)}\n: inside\ndata: ${listJson.slice(cut)}\nid: 3\n\n`,
  ':ping\n\n',
  `event: message\r\ndata: ${listJson}\r\n\r\n`,
].join('');
const EXPECTED = [
  ': keep-alive\r\n\r\n',
  'id: 0\r\ndata:\r\n\r\n',
  'retry: 1000\revent: message\rdata: {"jsonrpc":"2.0","method":"notifications/progress",\r',
  'data: "params":{"progress":1,"message":"héllo ✓"}}\r\r',
  `id: 1\nevent: message\ndata: ${JSON.stringify(listResult(8))}\n\n`,
  `: before\nid: 2\ndata: ${filtered}\n: inside\nid: 3\n\n`,
  ':ping\n\n',
  `event: message\r\ndata: ${filtered}\r\n\r\n`,
].join('');

test('SSE: a sample stream in one chunk', async () => {
  assert.equal(await run([Buffer.from(SAMPLE)]), EXPECTED);
});

test('SSE: the sample split at every byte position gives the same output', async () => {
  const bytes = Buffer.from(SAMPLE);
  for (let i = 1; i < bytes.length; i++) {
    const out = await run([bytes.subarray(0, i), bytes.subarray(i)]);
    assert.equal(out, EXPECTED, `split at ${i}`);
  }
});

test('SSE: one byte per chunk, and three-way splits', async () => {
  const bytes = Buffer.from(SAMPLE);
  const single = [...bytes].map((b) => Buffer.from([b]));
  assert.equal(await run(single), EXPECTED);
  for (let i = 1; i < bytes.length; i += 7) {
    for (let j = i + 1; j < bytes.length; j += 11) {
      const out = await run([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]);
      assert.equal(out, EXPECTED, `split at ${i}, ${j}`);
    }
  }
});

test('SSE: events pass as soon as their empty line arrives; lines before data at once', async () => {
  const filter = new ToolsListSseFilter({ ids: new Set([7]), allowTool });
  const out: string[] = [];
  filter.on('data', (b: Buffer) => out.push(b.toString()));
  const tick = () => new Promise((r) => setImmediate(r));
  filter.write(': ping\n');
  await tick();
  assert.deepEqual(out, [': ping\n']);
  filter.write('id: 5\ndata: {"jsonrpc":"2.0","method":"x"}\n');
  await tick();
  assert.deepEqual(out, [': ping\n', 'id: 5\n'], 'data is held until the event ends');
  filter.write('\n');
  await tick();
  assert.equal(out.join(''), ': ping\nid: 5\ndata: {"jsonrpc":"2.0","method":"x"}\n\n');
  filter.end();
});

test('SSE: data that is not strict JSON is dropped; an unfinished event is never sent', async () => {
  const dup = 'data: {"jsonrpc":"2.0","id":7,"id":8,"result":{"tools":[{"name":"update"}]}}\n\n';
  assert.equal(await run([Buffer.from(`id: 1\n${dup}:ok\n\n`)]), 'id: 1\n\n:ok\n\n');
  assert.equal(await run([Buffer.from('data: {not json}\n\n')]), '\n');
  const unfinished = `data: ${JSON.stringify(listResult(7))}`;
  assert.equal(await run([Buffer.from(`:a\n${unfinished}`)]), ':a\n');
  assert.equal(await run([Buffer.from(`:a\n${unfinished}\n`)]), ':a\n');
  assert.equal(await run([Buffer.from(':a\n: trailing comment')]), ':a\n: trailing comment');
});

test('SSE: an oversized event ends the stream with an error for the tools/list ids', async () => {
  const big = `data: "${'x'.repeat(200)}"\n\ndata: ${JSON.stringify(listResult(7))}\n\n`;
  const out = await run([Buffer.from(': hi\n'), Buffer.from(big)], { maxEventBytes: 100 });
  assert.equal(
    out,
    ': hi\n\ndata: {"jsonrpc":"2.0","id":7,"error":{"code":-32603,"message":"tools/list response could not be checked by the gateway"}}\n\n',
  );
  assert.doesNotMatch(out, /update/);
});

test('SSE: an event the filter cannot judge is replaced by the error for the tools/list ids', async () => {
  const error = `data: ${JSON.stringify(UNFILTERABLE)}`;
  for (const message of [
    listResult('7'),
    { ...listResult(7), error: { code: 1, message: 'x' } },
    [listResult(7), listResult(9)],
  ]) {
    const out = await run([Buffer.from(`:a\nid: 3\ndata: ${JSON.stringify(message)}\n\n`)]);
    assert.equal(out, `:a\nid: 3\n${error}\n\n`, JSON.stringify(message));
  }
});

test('SSE: no tools/list ids: bytes pass through untouched', async () => {
  const odd = Buffer.from('data: {not json}\n\ndata: x');
  assert.equal(await run([odd], { ids: new Set() }), odd.toString());
});
