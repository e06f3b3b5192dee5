import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HEADER_MISMATCH,
  INVALID_PARAMS,
  INVALID_REQUEST,
  PARSE_ERROR,
  inspectMcpPost,
  isJsonMediaType,
} from './inspect.js';

const JSON_TYPE = 'application/json';

function inspect(
  body: unknown,
  headers: { mcpMethod?: string; mcpName?: string } = {},
  contentType: string | undefined = JSON_TYPE,
) {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return inspectMcpPost({ contentType, body: bytes, headers });
}

function refusal(result: ReturnType<typeof inspect>) {
  assert.equal(result.ok, false);
  return result.ok ? null : [result.status, result.jsonRpcError.code];
}

const call = (id: number | string | undefined, method: string, params?: unknown) => ({
  jsonrpc: '2.0',
  ...(id === undefined ? {} : { id }),
  method,
  ...(params === undefined ? {} : { params }),
});

test('a single request, a notification and a batch are read into calls', () => {
  const args = { query: 'SELECT secret', limit: 3 };
  assert.deepEqual(inspect(call(1, 'tools/call', { name: 'read_query', arguments: args })), {
    ok: true,
    calls: [{ id: 1, method: 'tools/call', tool: 'read_query', argumentKeys: ['query', 'limit'] }],
    responses: 0,
    batch: false,
  });
  assert.deepEqual(inspect(call(undefined, 'notifications/initialized')), {
    ok: true,
    calls: [{ id: null, method: 'notifications/initialized', tool: null }],
    responses: 0,
    batch: false,
  });
  const batch = inspect([
    call('a', 'tools/list'),
    call(2, 'tools/call', { name: 'update' }),
    { jsonrpc: '2.0', id: 9, result: {} },
  ]);
  assert.deepEqual(batch, {
    ok: true,
    calls: [
      { id: 'a', method: 'tools/list', tool: null },
      { id: 2, method: 'tools/call', tool: 'update', argumentKeys: [] },
    ],
    responses: 1,
    batch: true,
  });
});

test('Content-Type must be application/json (415)', () => {
  const body = Buffer.from(JSON.stringify(call(1, 'ping')));
  assert.deepEqual(refusal(inspectMcpPost({ contentType: undefined, body, headers: {} })), [
    415,
    INVALID_REQUEST,
  ]);
  for (const type of [
    '',
    'text/plain',
    'application/json-seq',
    'application/x-www-form-urlencoded',
    'application/json; charset=latin1',
  ]) {
    assert.deepEqual(refusal(inspect(call(1, 'ping'), {}, type)), [415, INVALID_REQUEST], type);
  }
  assert.equal(inspect(call(1, 'ping'), {}, 'Application/JSON; charset=UTF-8').ok, true);
  assert.equal(isJsonMediaType('application/json;charset="utf-8"'), true);
});

test('invalid JSON is a parse error (400 -32700)', () => {
  for (const body of ['', '{', '{"jsonrpc":"2.0",}', 'NaN', '\ufeff{}']) {
    assert.deepEqual(refusal(inspect(body)), [400, PARSE_ERROR], body);
  }
  const bad = inspectMcpPost({
    contentType: JSON_TYPE,
    body: Buffer.from([0x7b, 0xc3, 0x7d]),
    headers: {},
  });
  assert.deepEqual(refusal(bad), [400, PARSE_ERROR]);
});

test('duplicate and prototype keys at any depth are invalid requests (400 -32600)', () => {
  for (const body of [
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","name":"update"}}',
    '{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}',
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":{"b":1,"b":2}}}}',
    '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"__proto__":{"admin":true}}}',
    '[{"jsonrpc":"2.0","id":1,"method":"ping","params":{"constructor":{}}}]',
  ]) {
    const r = inspect(body);
    assert.deepEqual(refusal(r), [400, INVALID_REQUEST], body);
    assert.equal(r.ok ? undefined : r.id, null, 'an ambiguous body has no trustworthy id');
  }
});

test('anything that is not JSON-RPC 2.0 is an invalid request (400 -32600)', () => {
  for (const body of [
    [],
    1,
    '"x"',
    null,
    [1],
    { id: 1, method: 'ping' },
    { jsonrpc: '1.0', id: 1, method: 'ping' },
    { jsonrpc: '2.0', id: 1, method: 5 },
    { jsonrpc: '2.0', id: 1, method: '' },
    { jsonrpc: '2.0', id: null, method: 'ping' },
    { jsonrpc: '2.0', id: 1.5, method: 'ping' },
    { jsonrpc: '2.0', id: {}, method: 'ping' },
    { jsonrpc: '2.0', id: 1, method: 'ping', params: 'x' },
    { jsonrpc: '2.0', id: 1, method: 'ping', result: {} },
    { jsonrpc: '2.0', id: 1 },
    { jsonrpc: '2.0', result: {} },
    { jsonrpc: '2.0', id: 1, result: {}, error: {} },
    [call(1, 'ping'), { jsonrpc: '2.0', method: 'x', id: [] }],
  ]) {
    assert.deepEqual(refusal(inspect(body)), [400, INVALID_REQUEST], JSON.stringify(body));
  }
});

test('tools/call needs a string params.name (400 -32602), and the error carries the id', () => {
  for (const params of [
    undefined,
    {},
    { name: 5 },
    { name: null },
    { name: ['a'] },
    ['read_query'],
  ]) {
    const r = inspect(call(7, 'tools/call', params));
    assert.deepEqual(refusal(r), [400, INVALID_PARAMS], JSON.stringify(params));
    assert.equal(r.ok ? undefined : r.id, 7);
  }
  assert.deepEqual(refusal(inspect([call(1, 'ping'), call(2, 'tools/call', {})])), [
    400,
    INVALID_PARAMS,
  ]);
});

test('Mcp-Method and Mcp-Name must agree with the body (400 -32020)', () => {
  const toolCall = call(1, 'tools/call', { name: 'read_query' });
  assert.equal(inspect(toolCall, { mcpMethod: 'tools/call', mcpName: 'read_query' }).ok, true);
  assert.equal(inspect(call(1, 'tools/list'), { mcpMethod: 'tools/list' }).ok, true);
  assert.equal(
    inspect(call(1, 'resources/read', { uri: 'file:///a' }), {
      mcpMethod: 'resources/read',
      mcpName: 'file:///a',
    }).ok,
    true,
  );
  for (const headers of [
    { mcpMethod: 'tools/list', mcpName: 'read_query' },
    { mcpMethod: 'tools/call', mcpName: 'update' },
    { mcpMethod: 'tools/call' }, // Mcp-Name is required with it on tools/call
    { mcpName: 'update' },
    { mcpMethod: 'TOOLS/CALL', mcpName: 'read_query' },
  ]) {
    assert.deepEqual(
      refusal(inspect(toolCall, headers)),
      [400, HEADER_MISMATCH],
      JSON.stringify(headers),
    );
  }
  // An Mcp-Name with nothing to mirror is refused too.
  assert.deepEqual(
    refusal(inspect(call(1, 'tools/list'), { mcpMethod: 'tools/list', mcpName: 'x' })),
    [400, HEADER_MISMATCH],
  );
  // A batch: headers present and any call disagreeing refuses the whole body.
  const batch = [toolCall, call(2, 'tools/call', { name: 'update' })];
  assert.deepEqual(refusal(inspect(batch, { mcpMethod: 'tools/call', mcpName: 'read_query' })), [
    400,
    HEADER_MISMATCH,
  ]);
  assert.equal(inspect(batch).ok, true);
  assert.deepEqual(refusal(inspect([{ jsonrpc: '2.0', id: 1, result: {} }], { mcpMethod: 'x' })), [
    400,
    HEADER_MISMATCH,
  ]);
});
