import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HEADER_MISMATCH,
  INVALID_PARAMS,
  INVALID_REQUEST,
  PARSE_ERROR,
  type InspectedCalls,
} from '../inspect.js';
import { incoming, jsonRpc, type RequestShape } from './fixtures.test-suite.js';
import { readCalls } from './read-body.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const call = (id: number, tool: string) => ({ id, method: 'tools/call', params: { name: tool } });

const shape = ({ calls, responses, batch }: InspectedCalls) => ({ calls, responses, batch });
const read = (shape: RequestShape, maxBytes = 1024) => readCalls(incoming(shape), maxBytes);

test('a JSON-RPC POST is read whole and inspected into its calls', async () => {
  const body = jsonRpc(call(1, 'read_query'));
  const outcome = await read({ headers: JSON_TYPE, body: [body.slice(0, 9), body.slice(9)] });
  assert.equal(outcome.ok, true);
  if (!outcome.ok) return;
  assert.deepEqual(outcome.body, Buffer.from(body));
  assert.deepEqual(shape(outcome.inspected), {
    calls: [{ id: 1, method: 'tools/call', tool: 'read_query', argumentKeys: [] }],
    responses: 0,
    batch: false,
  });
});

test('a batch is read as every call in it; notifications have no id', async () => {
  const body = jsonRpc(
    call(1, 'read_query'),
    { method: 'notifications/initialized' },
    call(2, 'update'),
  );
  const outcome = await read({
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: [body],
  });
  assert.equal(outcome.ok, true);
  if (!outcome.ok) return;
  assert.deepEqual(shape(outcome.inspected), {
    calls: [
      { id: 1, method: 'tools/call', tool: 'read_query', argumentKeys: [] },
      { id: null, method: 'notifications/initialized', tool: null },
      { id: 2, method: 'tools/call', tool: 'update', argumentKeys: [] },
    ],
    responses: 0,
    batch: true,
  });
});

test('over the cap: 413 and the connection closes, declared or not', async () => {
  const body = jsonRpc(call(1, 'read_query'));
  const expected = {
    ok: false,
    answer: {
      kind: 'json-rpc-error',
      status: 413,
      id: null,
      code: INVALID_REQUEST,
      message: `request body exceeds ${body.length - 1} bytes`,
      headers: { connection: 'close' },
    },
  };
  const declared = { ...JSON_TYPE, 'content-length': String(body.length) };
  assert.deepEqual(await read({ headers: declared, body: [body] }, body.length - 1), expected);
  const chunked = { ...JSON_TYPE, 'transfer-encoding': 'chunked' };
  assert.deepEqual(
    await read({ headers: chunked, body: [body.slice(0, 10), body.slice(10)] }, body.length - 1),
    expected,
  );
  // Exactly at the cap is read.
  assert.equal((await read({ headers: declared, body: [body] }, body.length)).ok, true);
});

test('a body that is not JSON is a JSON-RPC parse error (400)', async () => {
  assert.deepEqual(await read({ headers: JSON_TYPE, body: ['{"jsonrpc":"2.0",'] }), {
    ok: false,
    answer: {
      kind: 'json-rpc-error',
      status: 400,
      id: null,
      code: PARSE_ERROR,
      message: 'Parse error',
    },
  });
});

test('a media type other than JSON is 415, whatever the body', async () => {
  const body = jsonRpc(call(7, 'read_query'));
  for (const type of [
    undefined,
    'text/plain',
    'application/json-seq',
    'application/json; charset=latin1',
  ]) {
    const headers = type === undefined ? {} : { 'content-type': type };
    const outcome = await read({ headers, body: [body] });
    assert.deepEqual(
      outcome,
      {
        ok: false,
        answer: {
          kind: 'json-rpc-error',
          status: 415,
          id: 7,
          code: INVALID_REQUEST,
          message: 'Content-Type must be application/json',
        },
      },
      String(type),
    );
  }
});

test('what inspection refuses answers with the request’s id when it is known', async () => {
  const noName = jsonRpc({ id: 'a', method: 'tools/call', params: {} });
  const refused = await read({ headers: JSON_TYPE, body: [noName] });
  assert.equal(refused.ok, false);
  if (refused.ok) return;
  assert.deepEqual(refused.answer, {
    kind: 'json-rpc-error',
    status: 400,
    id: 'a',
    code: INVALID_PARAMS,
    message: 'Invalid params: tools/call needs a string name',
  });
  const empty = await read({ headers: JSON_TYPE, body: ['[]'] });
  assert.equal(
    !empty.ok && empty.answer.kind === 'json-rpc-error' && empty.answer.code,
    INVALID_REQUEST,
  );
});

test('Mcp-Method and Mcp-Name headers must agree with the body', async () => {
  const body = jsonRpc(call(3, 'update'));
  const headers = { ...JSON_TYPE, 'mcp-method': 'tools/call', 'mcp-name': 'read_query' };
  const outcome = await read({ headers, body: [body] });
  assert.equal(outcome.ok, false);
  if (outcome.ok) return;
  assert.equal(outcome.answer.kind === 'json-rpc-error' && outcome.answer.code, HEADER_MISMATCH);
  const agreeing = { ...headers, 'mcp-name': 'update' };
  assert.equal((await read({ headers: agreeing, body: [body] })).ok, true);
});

test('a body that cannot be read to its end fails closed: nobody is answered, nothing passes', async () => {
  const outcome = await read({
    headers: JSON_TYPE,
    body: ['{"jsonrpc":"2.0","id":1,"method":"tools/ca'],
    failWith: new Error('ECONNRESET'),
  });
  assert.deepEqual(outcome, { ok: false, answer: { kind: 'hang-up' } });
});
