import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INVALID_REQUEST } from '../inspect.js';
import { methodAnswer } from './methods.js';

const ORIGIN = 'https://client.example';

test('a CORS preflight is answered first, whatever credentials the request carries', () => {
  for (const headers of [{}, { authorization: 'Bearer not-a-token' }, { cookie: 'x=1' }]) {
    const asked = { ...headers, 'access-control-request-headers': 'authorization, mcp-session-id' };
    assert.deepEqual(methodAnswer('OPTIONS', asked, ORIGIN), {
      kind: 'empty',
      status: 204,
      headers: {
        'access-control-allow-origin': ORIGIN,
        'access-control-expose-headers': 'WWW-Authenticate, Mcp-Session-Id',
        vary: 'Origin',
        'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
        'access-control-allow-headers': 'authorization, mcp-session-id',
        'access-control-max-age': '3600',
      },
    });
  }
});

test('a preflight that names no headers is allowed the MCP ones; no Origin gets *', () => {
  const answer = methodAnswer('OPTIONS', {}, undefined);
  assert.equal(answer?.kind, 'empty');
  if (answer?.kind !== 'empty') return;
  assert.equal(answer.headers['access-control-allow-origin'], '*');
  assert.equal(
    answer.headers['access-control-allow-headers'],
    'authorization, content-type, mcp-protocol-version, mcp-session-id, last-event-id',
  );
});

test('the transport methods go on to identification', () => {
  assert.equal(methodAnswer('POST', { 'content-length': '20' }, ORIGIN), undefined);
  for (const method of ['GET', 'HEAD', 'DELETE']) {
    assert.equal(methodAnswer(method, {}, ORIGIN), undefined, method);
    assert.equal(methodAnswer(method, { 'content-length': '0' }, ORIGIN), undefined, method);
  }
});

test('a method MCP Streamable HTTP does not define is 405 with Allow (RFC 9110 §15.5.6)', () => {
  for (const method of ['PUT', 'PATCH', 'TRACE', 'CONNECT', 'post']) {
    assert.deepEqual(methodAnswer(method, {}, ORIGIN), {
      kind: 'json-rpc-error',
      status: 405,
      id: null,
      code: INVALID_REQUEST,
      message: `${method} is not a method of MCP Streamable HTTP`,
      headers: { allow: 'GET, HEAD, POST, DELETE, OPTIONS' },
    });
  }
});

test('a refused method with a body closes the connection (the body stays unread)', () => {
  const answer = methodAnswer('PUT', { 'content-length': '5' }, ORIGIN);
  assert.equal(answer?.kind, 'json-rpc-error');
  if (answer?.kind !== 'json-rpc-error') return;
  assert.equal(answer.status, 405);
  assert.deepEqual(answer.headers, {
    allow: 'GET, HEAD, POST, DELETE, OPTIONS',
    connection: 'close',
  });
});

test('content on GET, HEAD or DELETE is 400: JSON-RPC that policy never saw (issue 8)', () => {
  for (const method of ['GET', 'HEAD', 'DELETE']) {
    for (const headers of [{ 'content-length': '17' }, { 'transfer-encoding': 'chunked' }]) {
      assert.deepEqual(
        methodAnswer(method, headers, ORIGIN),
        {
          kind: 'json-rpc-error',
          status: 400,
          id: null,
          code: INVALID_REQUEST,
          message: `a ${method} request to an MCP endpoint carries no body; JSON-RPC is POSTed`,
          headers: { connection: 'close' },
        },
        `${method} ${JSON.stringify(headers)}`,
      );
    }
  }
});
