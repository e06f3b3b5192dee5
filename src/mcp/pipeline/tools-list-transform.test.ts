import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import { contentCodings, JsonToolsFilter } from './tools-list-transform.js';

const request = { ids: new Set([7]), allowTool: (name: string) => name !== 'update' };
const UNFILTERABLE = JSON.stringify({
  jsonrpc: '2.0',
  id: 7,
  error: { code: -32603, message: 'tools/list response could not be checked by the gateway' },
});
const listAnswer = JSON.stringify({
  jsonrpc: '2.0',
  id: 7,
  result: { tools: [{ name: 'read' }, { name: 'update' }] },
});

/** Everything `filter` emits once `input` is written (and, unless `keepOpen`, ended). */
async function output(filter: JsonToolsFilter, input: Buffer[], keepOpen = false): Promise<string> {
  const out: Buffer[] = [];
  filter.on('data', (b: Buffer) => out.push(b));
  const ended = once(filter, 'end');
  for (const chunk of input) filter.write(chunk);
  if (!keepOpen) filter.end();
  await ended;
  return Buffer.concat(out).toString();
}

test('content codings: RFC 9110 §8.4 names, case-insensitive; unknown or too many: null', () => {
  assert.deepEqual(contentCodings(undefined), []);
  assert.deepEqual(contentCodings('identity'), []);
  assert.deepEqual(contentCodings('GZIP'), ['gzip']);
  assert.deepEqual(contentCodings('x-gzip'), ['gzip']);
  assert.deepEqual(contentCodings(['deflate', 'br']), ['deflate', 'br']);
  assert.deepEqual(contentCodings('gzip, br'), ['gzip', 'br']);
  for (const value of ['compress', 'zstd', 'toString', 'gzip, gzip, gzip']) {
    assert.equal(contentCodings(value), null, value);
  }
});

test('JSON: the refusal goes out as soon as the cap is passed, before the answer ends', async () => {
  const filter = new JsonToolsFilter(request, { maxBytes: 64 });
  const out = await output(filter, [Buffer.alloc(40, 0x20), Buffer.alloc(40, 0x20)], true);
  assert.equal(out, UNFILTERABLE);
  assert.deepEqual(filter.head({ status: 200, headers: { 'content-type': 'application/json' } }), {
    status: 502,
    headers: { 'content-type': 'application/json', 'content-length': UNFILTERABLE.length },
  });
});

test('JSON: a compressed answer is decoded, filtered and sent without its coding', async () => {
  const filter = new JsonToolsFilter(request, { codings: ['gzip'] });
  const body = gzipSync(listAnswer);
  const out = await output(filter, [body.subarray(0, 10), body.subarray(10)]);
  const tools = (JSON.parse(out) as { result: { tools: { name: string }[] } }).result.tools;
  assert.deepEqual(tools, [{ name: 'read' }]);
  const head = filter.head({
    status: 200,
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
  });
  assert.deepEqual(head, {
    status: 200,
    headers: { 'content-type': 'application/json', 'content-length': out.length },
  });
});

test('JSON: an answer that decodes past the cap (a gzip bomb) is refused', async () => {
  const bomb = gzipSync(Buffer.alloc(1024 * 1024, 0x20));
  assert.ok(bomb.length < 2048);
  const filter = new JsonToolsFilter(request, { codings: ['gzip'], maxBytes: 4096 });
  assert.equal(await output(filter, [bomb]), UNFILTERABLE);
});

test('JSON: a refusal keeps an upstream failure status (a 404 ends an MCP session)', async () => {
  const filter = new JsonToolsFilter(request);
  assert.equal(await output(filter, [Buffer.from('Not Found')]), UNFILTERABLE);
  assert.equal(filter.head({ status: 404, headers: {} }).status, 404);
  assert.equal(filter.head({ status: 200, headers: {} }).status, 502);
});
